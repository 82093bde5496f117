"""A quote's whole life over HTTP: answered by staff, accepted, paid; and the refusals."""

from __future__ import annotations

import io
from datetime import date, timedelta

from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import select

from shop.extensions import db
from shop.mail.models import OutboxEmail
from shop.orders import services as orders
from shop.orders.models import Order, OrderStatus
from shop.quotes.models import Quote
from tests.conftest import WEBHOOK_SECRET
from tests.quotes.flow import (
    PRIVATE_LABEL_ITEM,
    SKU,
    accept_data,
    lots,
    quote_link,
    request_quote,
    send_answer,
    the_quote,
)
from tests.stripe_standin import StripeStandIn

# 120 packs at the 100-pack break (24.00) + 500 private-label packs at 1.85 + 150.00 shipping
SUBTOTAL = 120 * 2400 + 500 * 185
# VAT 19 % (Germany), per line and on shipping: 547.20 + 175.75 + 28.50.
VAT = 54720 + 17575 + 2850
TOTAL = SUBTOTAL + 15000 + VAT


def _history(app: Flask) -> list[tuple[str, str, str]]:
    with app.app_context():
        return [(e.actor, e.from_status, e.to_status) for e in the_quote().history]


def _orders(app: Flask) -> list[Order]:
    with app.app_context():
        found = db.session.scalars(select(Order).order_by(Order.id)).all()
        for order in found:
            _ = [line.allocations for line in order.lines]
        db.session.expunge_all()
        return list(found)


def _quoted(app: Flask, client: FlaskClient, staff_client: FlaskClient) -> str:
    """A request answered by staff; the distributor's link."""
    quote_id = request_quote(app, client)
    assert send_answer(staff_client, quote_id).status_code == 303
    return quote_link(app)


def _send_webhook(client: FlaskClient, event: dict) -> None:  # type: ignore[type-arg]
    body, headers = StripeStandIn.webhook_request(event, WEBHOOK_SECRET)
    assert client.post("/stripe/webhook", data=body, headers=headers).status_code == 200


def test_request_answer_accept_by_card_and_pay(
    stocked: Flask,
    stripe_app: Flask,
    client: FlaskClient,
    staff_client: FlaskClient,
    stripe_standin: StripeStandIn,
) -> None:
    quote_id = request_quote(stocked, client)

    # Staff: the catalogue line is prefilled from its quantity break, the free text is not.
    listing = staff_client.get("/admin/quotes?status=new").get_data(as_text=True)
    with stocked.app_context():
        reference = the_quote().reference
    assert reference in listing
    assert 'href="/admin/quotes"' in staff_client.get("/admin/").get_data(as_text=True)
    page = staff_client.get(f"/admin/quotes/{quote_id}").get_data(as_text=True)
    assert 'id="prices-0" name="prices-0"' in page and 'value="24.00"' in page
    assert (
        'id="prices-1" name="prices-1" class="qty money" type="text" inputmode="decimal" value=""'
        in page
    )
    response = send_answer(staff_client, quote_id)
    assert response.status_code == 303
    with stocked.app_context():
        quote = the_quote()
        assert quote.status == "quoted"
        assert [x.unit_amount for x in quote.lines] == [2400, 185]
        assert quote.shipping_amount == 15000
        assert quote.valid_until == date.today() + timedelta(days=30)
        mail = db.session.scalars(select(OutboxEmail).order_by(OutboxEmail.id.desc())).first()
        assert mail.to == "jana@dermadist.example" and reference in mail.subject
        assert "$4,706.45" in mail.body_text
    link = quote_link(stocked)

    # The distributor reads the quote and its pro-forma invoice.
    html = client.get(link).get_data(as_text=True)
    assert "$24.00" in html and "$1.85" in html and "$4,706.45" in html
    assert "Private label" in html and PRIVATE_LABEL_ITEM in html
    pdf = client.get(f"{link}/proforma.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "Pro-forma invoice" in text and reference in text and "4,706.45" in text

    # Accepting by card: prices in the form are ignored, the order is the quote.
    data = accept_data(client, link, payment_method="card")
    data.update({"unit_amount": "1", "prices-0": "0.01", "lines-0-unit_amount": "1", "total": "1"})
    response = client.post(f"{link}/accept", data=data)
    assert response.status_code == 303
    assert response.location.startswith(stripe_standin.base_url + "/pay/cs_")
    [order] = _orders(stocked)
    assert (order.status, order.payment_method) == ("pending_payment", "card")
    assert (order.subtotal, order.shipping_amount, order.total) == (SUBTOTAL, 15000, TOTAL)
    assert (order.tax_treatment, order.tax_amount) == ("domestic", VAT)
    catalogue, custom = order.lines
    assert (catalogue.sku, catalogue.quantity, catalogue.unit_amount) == (SKU, 120, 2400)
    assert custom.sku == f"CUSTOM-{reference}-2" and custom.variant_id is None
    assert custom.name == f"{PRIVATE_LABEL_ITEM} (private label)"
    assert (custom.quantity, custom.unit_amount) == (500, 185)
    assert order.shipping_address == "Hafenstrasse 5\n20457 Hamburg" and order.country == "DE"
    assert lots(stocked) == {"EARLY": (100, 100), "LATE": (200, 20)}  # first expiry first out
    session = stripe_standin.sessions[order.stripe_session_id]
    assert session["amount_total"] == TOTAL
    with stocked.app_context():
        assert the_quote().status == "accepted" and the_quote().order_id == order.id

    # Paying through Stripe: the signed webhook marks the order and the quote paid.
    paid = stripe_standin.complete(order.stripe_session_id)
    _send_webhook(client, stripe_standin.event("checkout.session.completed", paid))
    [order] = _orders(stocked)
    assert order.status == "paid"
    assert lots(stocked) == {"EARLY": (0, 0), "LATE": (180, 0)}
    with stocked.app_context():
        assert the_quote().status == "paid"
    assert _history(stocked) == [
        ("jana@dermadist.example", "", "new"),
        ("staff@shop.example", "new", "quoted"),
        ("jana@dermadist.example", "quoted", "accepted"),
        ("stripe", "accepted", "paid"),
    ]
    assert "Paid, thank you" in client.get(link).get_data(as_text=True)
    staff_page = staff_client.get(f"/admin/quotes/{quote_id}").get_data(as_text=True)
    assert "staff@shop.example" in staff_page and "Accepted → Paid" in staff_page
    assert order.number in staff_page


def test_bank_transfer_accept_then_staff_mark_paid(
    stocked: Flask, client: FlaskClient, staff_client: FlaskClient
) -> None:
    link = _quoted(stocked, client, staff_client)
    html = client.get(link).get_data(as_text=True)
    assert "(not configured in this shop yet)" in html  # no Stripe keys here
    response = client.post(f"{link}/accept", data=accept_data(client, link))
    assert response.status_code == 303 and response.location.endswith(link)
    [order] = _orders(stocked)
    assert (order.status, order.total) == ("awaiting_transfer", TOTAL)
    page = client.get(link).get_data(as_text=True)
    assert "Please transfer" in page and "$4,706.45" in page and order.number in page
    assert "IBAN" in page
    with stocked.app_context():
        assert the_quote().status == "accepted"
        mail = db.session.scalars(select(OutboxEmail).order_by(OutboxEmail.id.desc())).first()
        assert order.number in mail.subject and "IBAN" in mail.body_text
        row = db.session.get(Order, order.id)
        assert orders.mark_paid(row, amount=TOTAL, currency="usd", actor="staff@shop.example")
        db.session.commit()
        assert the_quote().status == "paid"
    assert _history(stocked)[-1] == ("staff@shop.example", "accepted", "paid")


def test_an_austrian_distributor_with_its_vat_id_is_reverse_charged(
    stocked: Flask, client: FlaskClient, staff_client: FlaskClient
) -> None:
    quote_id = request_quote(stocked, client, {"country": "AT", "vat_number": "ATU 13585627"})
    assert send_answer(staff_client, quote_id).status_code == 303
    link = quote_link(stocked)
    html = client.get(link).get_data(as_text=True)
    assert "Reverse charge" in html and "$3,955.00" in html
    client.post(f"{link}/accept", data=accept_data(client, link))
    [order] = _orders(stocked)
    assert (order.tax_treatment, order.tax_amount, order.total) == (
        "reverse_charge",
        0,
        SUBTOTAL + 15000,
    )
    assert order.buyer_vat_id == "ATU13585627"


def test_a_vat_number_of_another_country_is_taxed_as_for_a_consumer(
    stocked: Flask, client: FlaskClient, staff_client: FlaskClient
) -> None:
    quote_id = request_quote(stocked, client, {"country": "FR", "vat_number": "ATU13585627"})
    assert send_answer(staff_client, quote_id).status_code == 303
    link = quote_link(stocked)
    assert "VAT 20 % (France)" in client.get(link).get_data(as_text=True)
    client.post(f"{link}/accept", data=accept_data(client, link))
    [order] = _orders(stocked)
    assert (order.tax_treatment, order.tax_rate, order.buyer_vat_id) == ("eu_distance", 2000, "")


def test_accepting_twice_makes_one_order(
    stocked: Flask, client: FlaskClient, staff_client: FlaskClient
) -> None:
    link = _quoted(stocked, client, staff_client)
    data = accept_data(client, link)
    first = client.post(f"{link}/accept", data=data)
    second = client.post(f"{link}/accept", data=data)
    assert first.status_code == second.status_code == 303
    assert len(_orders(stocked)) == 1
    assert lots(stocked) == {"EARLY": (100, 100), "LATE": (200, 20)}
    assert [e[2] for e in _history(stocked)] == ["new", "quoted", "accepted"]


def test_accepting_twice_by_card_makes_one_order_and_one_session(
    stocked: Flask,
    stripe_app: Flask,
    client: FlaskClient,
    staff_client: FlaskClient,
    stripe_standin: StripeStandIn,
) -> None:
    link = _quoted(stocked, client, staff_client)
    data = accept_data(client, link, payment_method="card")
    first = client.post(f"{link}/accept", data=data)
    second = client.post(f"{link}/accept", data=data)
    assert first.location == second.location
    assert len(_orders(stocked)) == 1 and len(stripe_standin.sessions) == 1
    # While the card payment is open, bank transfer is refused rather than a second order.
    refused = client.post(f"{link}/accept", data={**data, "payment_method": "bank_transfer"})
    assert refused.status_code == 409
    assert "A card payment of this quote is already open" in refused.get_data(as_text=True)
    assert len(_orders(stocked)) == 1


def test_stripe_down_leaves_the_quote_quoted_and_nothing_reserved(
    stocked: Flask,
    stripe_app: Flask,
    client: FlaskClient,
    staff_client: FlaskClient,
    stripe_standin: StripeStandIn,
) -> None:
    link = _quoted(stocked, client, staff_client)
    stripe_standin.down = True
    response = client.post(f"{link}/accept", data=accept_data(client, link, payment_method="card"))
    assert response.status_code == 503
    html = response.get_data(as_text=True)
    assert "Card payment is unavailable right now, so nothing was reserved or charged" in html
    assert "Hafenstrasse 5" in html
    assert lots(stocked) == {"EARLY": (100, 0), "LATE": (200, 0)}
    assert [o.status for o in _orders(stocked)] == ["cancelled"]
    with stocked.app_context():
        quote = the_quote()
        assert quote.status == "quoted" and quote.order_id is None
    stripe_standin.down = False
    again = client.post(f"{link}/accept", data=accept_data(client, link, payment_method="card"))
    assert again.status_code == 303


def test_an_expired_quote_cannot_be_accepted_until_staff_reissue_it(
    stocked: Flask, client: FlaskClient, staff_client: FlaskClient
) -> None:
    link = _quoted(stocked, client, staff_client)
    data = accept_data(client, link)
    with stocked.app_context():
        the_quote().valid_until = date.today() - timedelta(days=1)
        db.session.commit()
        quote_id = the_quote().id
    response = client.post(f"{link}/accept", data=data)
    assert response.status_code == 409
    assert "expired on" in response.get_data(as_text=True)
    assert _orders(stocked) == []
    page = client.get(link).get_data(as_text=True)
    assert "Expired" in page and "can no longer be accepted" in page
    assert "Accept the quote" not in page
    assert _history(stocked)[-1] == ("shop", "quoted", "expired")
    with stocked.app_context():  # staff are told, to reissue it
        alert = db.session.scalars(select(OutboxEmail).order_by(OutboxEmail.id.desc())).first()
        assert alert is not None and alert.to == "staff@meso-needles.example"
        assert alert.subject.startswith("Accept failed: Q-")
        assert "tried to accept quote" in alert.body_text and "expired on" in alert.body_text

    staff_page = staff_client.get(f"/admin/quotes/{quote_id}").get_data(as_text=True)
    assert "Reissue the quote" in staff_page
    new_date = date.today() + timedelta(days=14)
    assert send_answer(staff_client, quote_id, valid_until=new_date).status_code == 303
    with stocked.app_context():
        assert (the_quote().status, the_quote().valid_until) == ("quoted", new_date)
    assert _history(stocked)[-1] == ("staff@shop.example", "expired", "quoted")
    response = client.post(f"{link}/accept", data=accept_data(client, link))
    assert response.status_code == 303 and len(_orders(stocked)) == 1


def test_someone_elses_token_is_not_found(
    stocked: Flask, client: FlaskClient, staff_client: FlaskClient
) -> None:
    link = _quoted(stocked, client, staff_client)
    with stocked.app_context():
        quote_id = the_quote().id
    data = accept_data(client, link)
    for path in (f"/quotes/{quote_id}", link + "x", "/quotes/" + "A" * 43, "/quotes/" + "a" * 80):
        assert client.get(path).status_code == 404
        assert client.get(f"{path}/proforma.pdf").status_code == 404
        assert client.post(f"{path}/accept", data=data).status_code == 404
        assert client.post(f"{path}/decline", data=data).status_code == 404
    assert _orders(stocked) == []


def test_declining_with_a_reason_then_accepting_is_refused(
    stocked: Flask, client: FlaskClient, staff_client: FlaskClient
) -> None:
    link = _quoted(stocked, client, staff_client)
    token = accept_data(client, link)["csrf_token"]
    empty = client.post(f"{link}/decline", data={"reason": "", "csrf_token": token})
    assert empty.status_code == 422 and "Tell us why" in empty.get_data(as_text=True)
    response = client.post(
        f"{link}/decline", data={"reason": "Too expensive for us", "csrf_token": token}
    )
    assert response.status_code == 303
    assert "Too expensive for us" in client.get(link).get_data(as_text=True)
    refused = client.post(f"{link}/accept", data=accept_data(client, link))
    assert refused.status_code == 409 and "cannot be accepted" in refused.get_data(as_text=True)
    assert _orders(stocked) == []
    assert _history(stocked)[-1] == ("jana@dermadist.example", "quoted", "declined")


def test_a_new_request_has_no_prices_to_accept(stocked: Flask, client: FlaskClient) -> None:
    request_quote(stocked, client)
    with stocked.app_context():
        link = f"/quotes/{the_quote().token}"
    assert client.get(f"{link}/proforma.pdf").status_code == 404
    refused = client.post(f"{link}/accept", data=accept_data(client, link))
    assert refused.status_code == 409
    assert _orders(stocked) == []


def test_accept_and_decline_need_csrf(
    stocked: Flask, client: FlaskClient, staff_client: FlaskClient
) -> None:
    link = _quoted(stocked, client, staff_client)
    data = {"payment_method": "bank_transfer", "shipping_address": "Hafenstrasse 5, Hamburg"}
    assert client.post(f"{link}/accept", data=data).status_code == 400
    assert client.post(f"{link}/decline", data={"reason": "no"}).status_code == 400
    with stocked.app_context():
        assert the_quote().status == "quoted"


def test_not_enough_stock_is_said_and_nothing_is_reserved(
    stocked: Flask, client: FlaskClient, staff_client: FlaskClient
) -> None:
    quote_id = request_quote(stocked, client, {"lines-0-quantity": "400"})
    assert send_answer(staff_client, quote_id).status_code == 303
    link = quote_link(stocked)
    response = client.post(f"{link}/accept", data=accept_data(client, link))
    assert response.status_code == 409
    assert "no longer there, so nothing was reserved or charged" in response.get_data(as_text=True)
    assert lots(stocked) == {"EARLY": (100, 0), "LATE": (200, 0)}
    with stocked.app_context():
        assert the_quote().status == "quoted"
    assert _orders(stocked) == []


def test_quote_pages_are_private(stocked: Flask, client: FlaskClient) -> None:
    request_quote(stocked, client)
    with stocked.app_context():
        quote: Quote = the_quote()
        link = f"/quotes/{quote.token}"
    response = client.get(link)
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert '<meta name="robots" content="noindex">' in response.get_data(as_text=True)


def test_an_accepted_quote_whose_order_lapsed_can_be_paid_again_while_valid(
    stocked: Flask, client: FlaskClient, staff_client: FlaskClient
) -> None:
    link = _quoted(stocked, client, staff_client)
    data = accept_data(client, link)
    assert client.post(f"{link}/accept", data=data).status_code == 303
    with stocked.app_context():
        [order] = db.session.scalars(select(Order)).all()
        orders.release(order, status=OrderStatus.EXPIRED, actor="worker", reason="unpaid")
        db.session.commit()
    page = client.get(link).get_data(as_text=True)
    assert "the payment was not completed" in page and "Pay this quote" in page
    assert client.post(f"{link}/accept", data=data).status_code == 303
    assert [o.status for o in _orders(stocked)] == ["expired", "awaiting_transfer"]
    assert lots(stocked) == {"EARLY": (100, 100), "LATE": (200, 20)}
    with stocked.app_context():
        quote = the_quote()
        assert quote.status == "accepted" and quote.order_id == _orders(stocked)[-1].id
        # Past its date with no live order, it expires and staff can reissue it.
        orders.release(quote.order, status=OrderStatus.CANCELLED, actor="tests", reason="test")
        quote.valid_until = date.today() - timedelta(days=1)
        db.session.commit()
    assert "can no longer be accepted" in client.get(link).get_data(as_text=True)
    assert _history(stocked)[-1] == ("shop", "accepted", "expired")
