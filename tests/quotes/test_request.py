"""Asking for a quote: the form, its errors, prefilling, and the spam defences."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from shop.extensions import db
from shop.mail.models import OutboxEmail
from shop.quotes.models import Quote, QuoteEvent
from tests.conftest import csrf_token
from tests.quotes.flow import (
    COMPANY,
    PRIVATE_LABEL_ITEM,
    SKU,
    TWO_LINES,
    input_tag,
    post_request,
    the_quote,
)


def _counts(app: Flask) -> tuple[int, int]:
    with app.app_context():
        quotes = db.session.scalar(select(func.count()).select_from(Quote))
        mails = db.session.scalar(select(func.count()).select_from(OutboxEmail))
        return quotes, mails


def test_a_request_with_two_lines_is_stored_confirmed_and_emailed(
    stocked: Flask, client: FlaskClient
) -> None:
    response = post_request(client)
    assert response.status_code == 303 and response.location.endswith("/quote/sent")
    page = client.get(response.location).get_data(as_text=True)
    reference = re.search(r"Q-\d{4}-\d{6}", page)
    assert reference, page
    with stocked.app_context():
        quote = the_quote()
        assert quote.reference == reference.group(0)
        assert quote.status == "new"
        assert (quote.company, quote.email, quote.country) == (
            "Dermadist GmbH",
            "jana@dermadist.example",
            "DE",
        )
        assert quote.business_type == "distributor" and quote.vat_number == "DE123456789"
        catalogue, custom = quote.lines
        assert (catalogue.sku, catalogue.quantity, catalogue.private_label) == (SKU, 120, False)
        assert catalogue.variant_id is not None and catalogue.note == "Ship in two batches"
        assert (custom.variant_id, custom.description) == (None, PRIVATE_LABEL_ITEM)
        assert (custom.quantity, custom.private_label) == (500, True)
        assert [(e.actor, e.from_status, e.to_status) for e in quote.history] == [
            ("jana@dermadist.example", "", "new")
        ]
        assert len(quote.token) >= 40 and quote.token != str(quote.id)
        mail, staff = db.session.scalars(select(OutboxEmail).order_by(OutboxEmail.id)).all()
        assert mail.to == "jana@dermadist.example"
        assert staff.to == "staff@meso-needles.example"  # staff are told of every request
        assert quote.reference in mail.subject and quote.reference in mail.body_text
        assert f"/quotes/{quote.token}" in mail.body_text
        assert f"/quotes/{quote.token}" in (mail.body_html or "")
        token = quote.token
    assert f"/quotes/{token}" in page
    request_page = client.get(f"/quotes/{token}").get_data(as_text=True)
    assert "We are preparing your quote" in request_page and PRIVATE_LABEL_ITEM in request_page


def test_errors_keep_what_was_typed_and_store_nothing(stocked: Flask, client: FlaskClient) -> None:
    response = post_request(
        client,
        {
            "email": "jana@dermadist",  # no top-level domain
            "country": "",
            "lines-0-quantity": "lots",
            "lines-1-description": "",  # a line with neither SKU nor description
        },
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Nothing has been sent yet" in html
    assert 'value="jana@dermadist"' in html and 'value="Dermadist GmbH"' in html
    assert 'value="lots"' in html and "Artwork follows" in html
    email = input_tag(html, "email")
    assert 'aria-invalid="true"' in email and 'aria-describedby="email-error"' in email
    assert 'id="email-error"' in html and "Enter an email address like" in html
    assert "Choose the country we ship to." in html
    assert 'id="lines-0-quantity-error"' in html and "Enter a whole number of packs" in html
    assert 'id="lines-1-sku-error"' in html
    assert _counts(stocked) == (0, 0)


def test_an_unknown_sku_is_an_error_next_to_its_line(stocked: Flask, client: FlaskClient) -> None:
    response = post_request(client, {"lines-0-sku": "NOPE-1"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="lines-0-sku-error"' in html and "no product with the SKU NOPE-1" in html
    assert 'value="NOPE-1"' in html
    assert _counts(stocked) == (0, 0)


def test_a_request_needs_a_line(stocked: Flask, client: FlaskClient) -> None:
    blank = {key: "" for key in TWO_LINES}
    response = post_request(client, blank)
    assert response.status_code == 422
    assert "Add at least one line" in response.get_data(as_text=True)
    assert _counts(stocked) == (0, 0)


def test_add_another_line_keeps_everything_typed(stocked: Flask, client: FlaskClient) -> None:
    response = post_request(client, {"add_line": "1"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.count('<fieldset class="quote-line"') == 3
    assert "<legend>Line 3</legend>" in html
    assert "autofocus" in input_tag(html, "lines-2-sku")
    assert 'value="Dermadist GmbH"' in html and f'value="{PRIVATE_LABEL_ITEM}"' in html
    assert "checked" in input_tag(html, "lines-1-private_label")
    assert "field-error" not in html
    assert _counts(stocked) == (0, 0)


def test_the_form_works_without_javascript_and_offers_it(client: FlaskClient) -> None:
    html = client.get("/quote").get_data(as_text=True)
    assert html.count('<fieldset class="quote-line"') == 1
    assert '<button type="submit" name="add_line"' in html
    assert re.search(r'<script src="/static/js/quote.js\?v=\w+" defer>', html)
    assert "<script>" not in html  # the CSP allows no inline script
    assert 'name="country"' in html and '<option value="DE">Germany</option>' in html
    for value in ("distributor", "clinic_chain", "other"):
        assert f'<option value="{value}">' in html


def test_prefilled_from_a_product_page(stocked: Flask, client: FlaskClient) -> None:
    product = client.get("/products/meso-32").get_data(as_text=True)
    assert f'href="/quote?sku={SKU}"' in product
    html = client.get(f"/quote?sku={SKU}&quantity=250").get_data(as_text=True)
    assert f'value="{SKU}"' in input_tag(html, "lines-0-sku")
    assert 'value="250"' in input_tag(html, "lines-0-quantity")


def test_prefilled_from_the_cart(stocked: Flask, client: FlaskClient) -> None:
    token = csrf_token(client, "/products/meso-32")
    client.post("/cart/add", data={"sku": SKU, "quantity": "12", "csrf_token": token})
    cart = client.get("/cart").get_data(as_text=True)
    assert 'href="/quote?from=cart"' in cart
    html = client.get("/quote?from=cart").get_data(as_text=True)
    assert f'value="{SKU}"' in input_tag(html, "lines-0-sku")
    assert 'value="12"' in input_tag(html, "lines-0-quantity")


def test_a_filled_honeypot_looks_like_success_and_stores_nothing(
    stocked: Flask, client: FlaskClient
) -> None:
    html = client.get("/quote").get_data(as_text=True)
    assert re.search(r'<div class="hp" aria-hidden="true">', html)
    assert 'tabindex="-1"' in input_tag(html, "website")
    response = post_request(client, {"website": "https://spam.example"})
    assert response.status_code == 303
    page = client.get(response.location).get_data(as_text=True)
    assert "Thank you: we have your request" in page
    assert _counts(stocked) == (0, 0)


def test_the_form_needs_its_csrf_token(stocked: Flask, client: FlaskClient) -> None:
    response = client.post("/quote", data={**COMPANY, **TWO_LINES})
    assert response.status_code == 400
    response = post_request(client, token="forged")
    assert response.status_code == 400
    assert _counts(stocked) == (0, 0)


def test_requests_are_rate_limited_per_address(stocked: Flask, client: FlaskClient) -> None:
    token = csrf_token(client, "/quote")
    # Adding lines and fixing errors does not use up the allowance of requests.
    assert post_request(client, {"add_line": "1"}, token=token).status_code == 200
    assert post_request(client, {"email": "bad"}, token=token).status_code == 422
    statuses = [post_request(client, token=token).status_code for _ in range(6)]
    assert statuses == [303] * 5 + [429]
    assert "Too many requests" in post_request(client, token=token).get_data(as_text=True)
    other = stocked.test_client()
    response = other.post(
        "/quote",
        data={**COMPANY, **TWO_LINES, "csrf_token": csrf_token(other, "/quote")},
        environ_base={"REMOTE_ADDR": "192.0.2.7"},
    )
    assert response.status_code == 303
    with stocked.app_context():
        assert db.session.scalar(select(func.count()).select_from(Quote)) == 6
        assert db.session.scalar(select(func.count()).select_from(QuoteEvent)) == 6


def test_an_error_lands_on_its_own_line_when_an_earlier_line_is_empty(
    stocked: Flask, client: FlaskClient
) -> None:
    response = post_request(
        client,
        {
            "lines-0-sku": "",
            "lines-0-quantity": "",
            "lines-0-note": "",
            "lines-1-sku": "NOPE-2",
            "lines-1-description": "",
        },
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="lines-1-sku-error"' in html and 'id="lines-0-sku-error"' not in html
    assert _counts(stocked) == (0, 0)


def test_a_catalogue_sku_typed_in_small_letters_is_the_catalogues_sku(
    stocked: Flask, client: FlaskClient
) -> None:
    response = post_request(client, {"lines-0-sku": f"  {SKU.lower()} "})
    assert response.status_code == 303, response.get_data(as_text=True)
    with stocked.app_context():
        catalogue, _custom = the_quote().lines
        assert catalogue.sku == SKU and catalogue.variant_id is not None
