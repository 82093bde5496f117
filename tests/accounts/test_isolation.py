"""One buyer never sees another's orders, quotes, addresses or invoices: every route of the
account is tried by a second buyer with the first buyer's ids, numbers and tokens."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from shop.accounts.models import Address, User
from shop.extensions import db
from shop.orders.models import Order
from tests.accounts.helpers import confirm, register
from tests.conftest import csrf_token
from tests.flows import add_to_cart, checkout, stock_needle
from tests.quotes.flow import post_request


@dataclass
class Buyers:
    app: Flask
    ana: FlaskClient  # owns an order, an address and a quote
    ben: FlaskClient  # tries to reach them
    order_number: str
    order_token: str
    address_id: int
    quote_reference: str


@pytest.fixture
def buyers(app: Flask) -> Buyers:
    stock_needle(app, {"L1": 50})
    ana, ben = app.test_client(), app.test_client()
    register(ana, "ana@clinic.example")
    confirm(app, ana, "ana@clinic.example")
    register(ben, "ben@clinic.example", name="Dr Ben Ode", company="Ode Aesthetics")
    confirm(app, ben, "ben@clinic.example")
    add_to_cart(ana, 2)
    assert (
        checkout(ana, email="ana@clinic.example", payment_method="bank_transfer").status_code == 303
    )
    ana.post(
        "/account/addresses/new",
        data={
            "contact_name": "Ana",
            "street_address": "Secret Street 1\n28013 Madrid",
            "country": "ES",
            "label": "Ana's depot",
            "csrf_token": csrf_token(ana, "/account/addresses/new"),
        },
    )
    assert (
        post_request(ana, {"email": "ana@clinic.example", "company": "Ana Dist"}).status_code == 303
    )
    with app.app_context():
        placed = db.session.scalars(select(Order)).one()
        address = db.session.scalars(select(Address)).one()
        from shop.quotes.models import Quote

        quote = db.session.scalars(select(Quote)).one()
        return Buyers(
            app,
            ana,
            ben,
            placed.number or "",
            placed.token,
            address.id,
            quote.reference or quote.token,
        )


def test_the_first_buyer_sees_their_own(buyers: Buyers) -> None:
    ana = buyers.ana
    assert buyers.order_number in ana.get("/account/orders").get_data(as_text=True)
    assert "Ana&#39;s depot" in ana.get("/account/addresses").get_data(as_text=True)
    assert "Ana Dist" in ana.get("/account/quotes").get_data(as_text=True)
    assert ana.get(f"/account/addresses/{buyers.address_id}/edit").status_code == 200


PAGES = [
    "/account",
    "/account/orders",
    "/account/quotes",
    "/account/addresses",
    "/account/details",
    "/account/export.json",
]


@pytest.mark.parametrize("path", PAGES)
def test_no_page_of_the_second_buyer_shows_the_first_buyers_things(
    buyers: Buyers, path: str
) -> None:
    response = buyers.ben.get(path)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    for secret in (
        buyers.order_number,
        buyers.order_token,
        "Secret Street",
        "Ana Dist",
        "ana@clinic.example",
        "Ana&#39;s depot",
    ):
        assert secret not in body, (path, secret)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/account/addresses/{address_id}/edit"),
        ("POST", "/account/addresses/{address_id}/edit"),
        ("POST", "/account/addresses/{address_id}/delete"),
        ("POST", "/account/addresses/{address_id}/default"),
        ("GET", "/orders/{order_number}"),
        ("GET", "/orders/{order_number}/invoice.pdf"),
        ("GET", "/orders/{guessed_token}"),
        ("GET", "/orders/{guessed_token}/invoice.pdf"),
        ("GET", "/orders/{guessed_token}/credit-notes/1.pdf"),
        ("GET", "/quotes/{quote_reference}"),
        ("GET", "/cart?address={address_id}"),
    ],
)
def test_the_second_buyer_cannot_reach_them_by_guessing(
    buyers: Buyers, method: str, path: str
) -> None:
    ben = buyers.ben
    url = path.format(
        address_id=buyers.address_id,
        order_number=buyers.order_number,
        guessed_token=buyers.order_token[:-4]
        + ("aaaa" if not buyers.order_token.endswith("aaaa") else "bbbb"),
        quote_reference=buyers.quote_reference,
    )
    if method == "GET":
        response = ben.get(url)
        if url.startswith("/cart"):
            assert response.status_code == 200
            assert "Secret Street" not in response.get_data(as_text=True)
            return
        assert response.status_code == 404, url
    else:
        data = {
            "contact_name": "Ben",
            "street_address": "Taken Street 9\n1000 Town",
            "country": "ES",
            "csrf_token": csrf_token(ben, "/account"),
        }
        assert ben.post(url, data=data).status_code == 404, url
    with buyers.app.app_context():
        address = db.session.get(Address, buyers.address_id)
        assert address is not None and address.street_address.startswith("Secret Street")
        assert address.is_default


def test_reordering_another_buyers_order_adds_nothing(buyers: Buyers) -> None:
    ben = buyers.ben
    response = ben.post(
        f"/account/orders/{buyers.order_number}/reorder",
        data={"csrf_token": csrf_token(ben, "/account")},
    )
    assert response.status_code == 303
    page = ben.get(response.location).get_data(as_text=True)
    assert "That order is not in your account." in page
    with buyers.app.app_context():
        ben_user = db.session.scalars(select(User).where(User.email == "ben@clinic.example")).one()
        from shop.cart.models import Cart

        carts = db.session.scalars(select(Cart).where(Cart.user_id == ben_user.id)).all()
        assert all(not cart.lines for cart in carts)


def test_an_unconfirmed_account_for_someone_elses_address_sees_nothing_of_theirs(
    app: Flask,
) -> None:
    stock_needle(app)
    guest = app.test_client()
    add_to_cart(guest, 1)
    checkout(guest, email="victim@clinic.example", payment_method="bank_transfer")
    post_request(guest, {"email": "victim@clinic.example"})
    squatter = app.test_client()
    register(squatter, "victim@clinic.example")
    for path in ("/account", "/account/orders", "/account/quotes", "/account/export.json"):
        body = squatter.get(path).get_data(as_text=True)
        with app.app_context():
            number = db.session.scalars(select(Order)).one().number or ""
        assert number not in body, path
