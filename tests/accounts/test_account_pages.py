"""What a signed-in buyer finds: the header menu, the account's home, sign-in that returns
to the cart, a checkout filled from the account, saved addresses, the order list, their
data to take away, and closing the account."""

from __future__ import annotations

import json
import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from shop.accounts.models import Address, User
from shop.extensions import db
from shop.orders.models import Order
from tests.accounts.helpers import confirm, register
from tests.conftest import PASSWORD, csrf_token, sign_in
from tests.flows import add_to_cart, checkout, order, stock_needle


def _field_value(html: str, name: str) -> str:
    match = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', html)
    return match.group(1) if match else ""


def _textarea(html: str, name: str) -> str:
    match = re.search(rf'<textarea[^>]*name="{name}"[^>]*>\s*([^<]*)</textarea>', html)
    return match.group(1) if match else ""


def _selected(html: str, name: str) -> str:
    select_html = re.search(rf'<select[^>]*name="{name}".*?</select>', html, re.S)
    assert select_html
    match = re.search(
        r'<option selected value="([^"]*)"|<option value="([^"]*)" selected', select_html.group(0)
    )
    return (match.group(1) or match.group(2)) if match else ""


def test_the_header_says_sign_in_to_visitors_and_names_the_signed_in_buyer(
    app: Flask, client: FlaskClient
) -> None:
    stock_needle(app)
    page = client.get("/products/meso-32").get_data(as_text=True)
    assert 'href="/account/login?next=/products/meso-32">Sign in</a>' in page
    register(client)
    page = client.get("/products/meso-32").get_data(as_text=True)
    assert ">Sign in</a>" not in page
    menu = page[page.index('class="account-menu"') :]
    for label in ("Dr Ana Ruiz", "Orders", "Quotes", "Addresses", "Details", "Sign out"):
        assert label in menu[: menu.index("</details>")]
    assert client.get("/account").status_code == 200


def test_sign_in_from_the_cart_returns_to_the_cart(app: Flask, client: FlaskClient) -> None:
    stock_needle(app)
    register(app.test_client())
    add_to_cart(client, 2)
    cart = client.get("/cart").get_data(as_text=True)
    assert 'href="/account/login?next=/cart">Sign in</a>' in cart
    token = csrf_token(client, "/account/login?next=/cart")
    response = client.post(
        "/account/login?next=/cart",
        data={"email": "buyer@clinic.example", "password": PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 303 and response.location == "/cart"
    assert "2 packs" in client.get("/cart").get_data(as_text=True)  # the cart came along


def test_checkout_is_filled_from_the_account_and_its_chosen_address(
    app: Flask, client: FlaskClient
) -> None:
    stock_needle(app)
    register(client)
    add_to_cart(client, 1)
    html = client.get("/cart").get_data(as_text=True)
    assert _field_value(html, "email") == "buyer@clinic.example"
    assert _field_value(html, "contact_name") == "Dr Ana Ruiz"
    assert _field_value(html, "company") == "Clinica Ruiz"
    assert _field_value(html, "phone") == "+34 600 000 000"
    assert _selected(html, "country") == "ES"
    for label, street, country in (
        ("Main clinic", "Calle Mayor 1\n28013 Madrid", "ES"),
        ("Lisbon branch", "Rua Augusta 10\n1100-053 Lisboa", "PT"),
    ):
        token = csrf_token(client, "/account/addresses/new")
        response = client.post(
            "/account/addresses/new",
            data={
                "label": label,
                "contact_name": "Dr Ana Ruiz",
                "street_address": street,
                "country": country,
                "csrf_token": token,
            },
        )
        assert response.status_code == 303
    html = client.get("/cart").get_data(as_text=True)
    assert _textarea(html, "shipping_address").replace("\r", "") == "Calle Mayor 1\n28013 Madrid"
    with app.app_context():
        lisbon = db.session.scalars(select(Address).where(Address.country == "PT")).one().id
    assert f'href="/cart?address={lisbon}">Lisbon branch</a>' in html
    html = client.get(f"/cart?address={lisbon}").get_data(as_text=True)
    assert "Rua Augusta 10" in _textarea(html, "shipping_address")
    assert _selected(html, "country") == "PT"
    response = checkout(
        client,
        shipping_address="Rua Augusta 10\n1100-053 Lisboa",
        country="PT",
        payment_method="bank_transfer",
    )
    assert response.status_code == 303
    with app.app_context():
        placed = db.session.scalars(select(Order)).one()
        user = db.session.scalars(select(User)).one()
        assert placed.user_id == user.id and placed.country == "PT"


def test_saved_addresses_are_added_changed_made_default_and_removed(
    app: Flask, client: FlaskClient
) -> None:
    register(client)
    bad = client.post(
        "/account/addresses/new",
        data={
            "contact_name": "",
            "street_address": "x",
            "country": "",
            "label": "Depot",
            "csrf_token": csrf_token(client, "/account/addresses/new"),
        },
    )
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert "Enter who receives the parcel." in html and 'value="Depot"' in html
    for street in ("Calle Mayor 1\n28013 Madrid", "Gran Via 2\n28013 Madrid"):
        client.post(
            "/account/addresses/new",
            data={
                "contact_name": "Ana",
                "street_address": street,
                "country": "ES",
                "csrf_token": csrf_token(client, "/account/addresses/new"),
            },
        )
    with app.app_context():
        first, second = db.session.scalars(select(Address).order_by(Address.id)).all()
        assert (first.is_default, second.is_default) == (True, False)
        ids = first.id, second.id
    token = csrf_token(client, "/account/addresses")
    client.post(f"/account/addresses/{ids[1]}/default", data={"csrf_token": token})
    client.post(f"/account/addresses/{ids[0]}/delete", data={"csrf_token": token})
    with app.app_context():
        left = db.session.scalars(select(Address)).all()
        assert [(a.id, a.is_default) for a in left] == [(ids[1], True)]
    page = client.get("/account/addresses").get_data(as_text=True)
    assert "Gran Via 2\n28013 Madrid" in page.replace("\r", "") and "Spain" in page


def test_the_order_list_has_tracking_invoice_and_reorder_and_the_order_page_the_address_as_written(
    app: Flask, client: FlaskClient
) -> None:
    stock_needle(app)
    register(client)
    confirm(app, client)
    add_to_cart(client, 2)
    checkout(client, payment_method="bank_transfer")
    with app.app_context():
        placed = db.session.scalars(select(Order)).one()
        placed.carrier, placed.tracking_number = "DHL", "JD014600006281"
        db.session.commit()
        token, number = placed.token, placed.number
    listing = client.get("/account/orders").get_data(as_text=True)
    assert number in listing
    assert f'href="/orders/{token}/invoice.pdf"' in listing
    assert "tracking-id=JD014600006281" in listing
    assert f'action="/account/orders/{number}/reorder"' in listing
    page = client.get(f"/orders/{token}").get_data(as_text=True)
    assert "Calle Mayor 1\n28013 Madrid\nSpain</address>" in page.replace("\r", "")
    assert "<br>ES</p>" not in page


def test_the_buyer_can_take_their_data_and_close_the_account(
    app: Flask, client: FlaskClient
) -> None:
    stock_needle(app)
    register(client)
    confirm(app, client)
    add_to_cart(client, 1)
    checkout(client, payment_method="bank_transfer")
    number = order(app).number
    exported = client.get("/account/export.json")
    assert exported.headers["Content-Disposition"].startswith("attachment")
    data = json.loads(exported.get_data(as_text=True))
    assert data["account"]["company"] == "Clinica Ruiz"
    assert [o["number"] for o in data["orders"]] == [number]
    wrong = client.post(
        "/account/close",
        data={"password": "not it at all", "csrf_token": csrf_token(client, "/account/close")},
    )
    assert wrong.status_code == 422 and "That is not your password." in wrong.get_data(as_text=True)
    closed = client.post(
        "/account/close",
        data={"password": PASSWORD, "csrf_token": csrf_token(client, "/account/close")},
    )
    assert closed.status_code == 303
    assert "Your account is closed" in client.get(closed.location).get_data(as_text=True)
    assert client.get("/account").status_code == 302
    assert sign_in(app.test_client(), "buyer@clinic.example").status_code == 401
    with app.app_context():
        user = db.session.scalars(select(User)).one()
        assert "buyer@clinic.example" not in user.email
        assert (user.name, user.company, user.phone, user.licence_number) == ("", "", "", "")
        kept = db.session.scalars(select(Order)).one()  # the books keep the order
        assert kept.number == number and kept.email == "buyer@clinic.example"
    # The address is free for a new account.
    assert register(app.test_client()).status_code == 303


def test_details_and_password_are_changed_from_the_account(app: Flask, client: FlaskClient) -> None:
    register(client)
    other = app.test_client()
    sign_in(other, "buyer@clinic.example")
    response = client.post(
        "/account/details",
        data={
            "name": "Dr Ana Ruiz",
            "company": "Clinica Ruiz Norte",
            "country": "ES",
            "vat_id": "",
            "licence_number": "COMM-28-123456",
            "phone": "",
            "csrf_token": csrf_token(client, "/account/details"),
        },
    )
    assert response.status_code == 303
    wrong = client.post(
        "/account/password",
        data={
            "current_password": "nope",
            "new_password": "another long one",
            "confirm": "another long one",
            "csrf_token": csrf_token(client, "/account/details"),
        },
    )
    assert wrong.status_code == 422
    assert "That is not your current password." in wrong.get_data(as_text=True)
    done = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": "another long one",
            "confirm": "another long one",
            "csrf_token": csrf_token(client, "/account/details"),
        },
    )
    assert done.status_code == 303
    assert client.get("/account").status_code == 200  # this browser stays signed in
    assert other.get("/account").status_code == 302  # the other device does not
    assert "Clinica Ruiz Norte" in client.get("/account").get_data(as_text=True)
