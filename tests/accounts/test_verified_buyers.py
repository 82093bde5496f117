"""SHOP_REQUIRE_VERIFIED_BUYERS=1: prices and the cart stay open to all, but checkout and
quote acceptance need an account that staff have verified; the cart says what is missing in
one sentence, and staff decide from a list that shows the licence, country and company."""

from __future__ import annotations

import dataclasses

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from shop.accounts.models import User
from shop.extensions import db
from shop.orders.models import Order
from tests.accounts.helpers import confirm, mails_to, register
from tests.conftest import csrf_token
from tests.flows import add_to_cart, checkout, stock_needle
from tests.quotes.flow import accept_data, quote_link, request_quote, send_answer


@pytest.fixture
def verified_only(app: Flask) -> Flask:
    app.config["SHOP_SETTINGS"] = dataclasses.replace(
        app.config["SHOP_SETTINGS"], require_verified_buyers=True
    )
    return app


def _blocker(client: FlaskClient) -> str:
    html = client.get("/cart").get_data(as_text=True)
    start = html.find('id="ordering-blocker">')
    return html[start : html.find("</p>", start)] if start >= 0 else ""


def _no_orders(app: Flask) -> bool:
    with app.app_context():
        return db.session.scalars(select(Order)).first() is None


def test_only_a_verified_professional_can_check_out(
    verified_only: Flask, client: FlaskClient, staff_client: FlaskClient
) -> None:
    app = verified_only
    stock_needle(app)
    add_to_cart(client, 2)
    assert "30.00" in client.get("/products/meso-32").get_data(as_text=True)  # prices shown
    assert "We sell to healthcare professionals only" in _blocker(client)
    refused = checkout(client, payment_method="bank_transfer")
    assert refused.status_code == 403
    assert "We sell to healthcare professionals only" in refused.get_data(as_text=True)
    assert _no_orders(app)

    register(client)
    assert "Confirm your email address first" in _blocker(client)
    assert checkout(client, payment_method="bank_transfer").status_code == 403
    confirm(app, client)
    assert "waiting for our staff to verify" in _blocker(client)
    assert checkout(client, payment_method="bank_transfer").status_code == 403
    assert _no_orders(app)

    dashboard = staff_client.get("/admin/").get_data(as_text=True)
    assert "<strong>1</strong> buyer waiting for verification" in dashboard
    waiting = staff_client.get("/admin/buyers").get_data(as_text=True)
    assert "Clinica Ruiz" in waiting and "COMM-28-123456" in waiting and "Spain" in waiting
    with app.app_context():
        buyer_id = db.session.scalars(select(User).where(User.role == "buyer")).one().id
    token = csrf_token(staff_client, "/admin/buyers")
    no_reason = staff_client.post(f"/admin/buyers/{buyer_id}/refuse", data={"csrf_token": token})
    assert "Say why" in staff_client.get(no_reason.location).get_data(as_text=True)
    staff_client.post(
        f"/admin/buyers/{buyer_id}/refuse",
        data={"note": "The licence number is not in the register", "csrf_token": token},
    )
    assert "not in the register" in _blocker(client)
    assert mails_to(app, "buyer@clinic.example")[-1].subject == "We could not verify your account"

    staff_client.post(f"/admin/buyers/{buyer_id}/verify", data={"csrf_token": token})
    assert mails_to(app, "buyer@clinic.example")[-1].subject == "Your account is verified"
    assert _blocker(client) == ""
    assert checkout(client, payment_method="bank_transfer").status_code == 303
    assert not _no_orders(app)


def test_buyers_cannot_decide_on_buyers(verified_only: Flask, client: FlaskClient) -> None:
    register(client)
    with verified_only.app_context():
        buyer_id = db.session.scalars(select(User)).one().id
    assert client.get("/admin/buyers").status_code == 403
    response = client.post(
        f"/admin/buyers/{buyer_id}/verify", data={"csrf_token": csrf_token(client, "/account")}
    )
    assert response.status_code == 403
    with verified_only.app_context():
        assert db.session.get(User, buyer_id).verification == "none"


def test_accepting_a_quote_needs_a_verified_account(
    verified_only: Flask, client: FlaskClient, staff_client: FlaskClient
) -> None:
    app = verified_only
    stock_needle(app, {"L1": 500})
    quote_id = request_quote(app, client)
    send_answer(staff_client, quote_id)
    link = quote_link(app)
    page = client.get(link).get_data(as_text=True)
    assert "We sell to healthcare professionals only" in page
    response = client.post(f"{link}/accept", data=accept_data(client, link))
    assert response.status_code == 403
    assert "We sell to healthcare professionals only" in response.get_data(as_text=True)
    assert _no_orders(app)


def test_without_the_setting_anyone_can_check_out(app: Flask, client: FlaskClient) -> None:
    stock_needle(app)
    add_to_cart(client, 1)
    assert _blocker(client) == ""
    assert checkout(client, payment_method="bank_transfer").status_code == 303
