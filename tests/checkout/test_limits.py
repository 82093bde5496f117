"""Checkout cannot be used to hold the catalogue hostage: a rate limit per client, a
short hold for guests' bank transfers and a cap on unpaid transfers per buyer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Flask
from flask.testing import FlaskClient

from shop.extensions import db
from tests.conftest import csrf_token, sign_in
from tests.factories import make_user
from tests.flows import add_to_cart, checkout, lots, orders, stock_needle


def test_checkout_is_rate_limited_per_client_address(app: Flask, client: FlaskClient) -> None:
    """Issue 9.14: `/checkout` had no rate limit."""
    stock_needle(app, {"L1": 500})
    statuses = []
    for _ in range(11):
        add_to_cart(client, 1)
        statuses.append(checkout(client, payment_method="bank_transfer").status_code)
    assert statuses[:3] == [303, 303, 303]
    assert statuses[-1] == 429
    elsewhere = app.test_client()
    add_to_cart(elsewhere, 1)
    response = elsewhere.post(
        "/checkout",
        data={"payment_method": "bank_transfer", "csrf_token": csrf_token(elsewhere)},
        environ_base={"REMOTE_ADDR": "10.0.0.2"},
    )
    assert response.status_code != 429  # another client address has its own allowance


def test_a_guest_bank_transfer_holds_stock_for_hours_an_account_for_days(
    app: Flask, client: FlaskClient
) -> None:
    """Issue 9.14: one anonymous request could hold stock for 7 days."""
    stock_needle(app, {"L1": 50})
    add_to_cart(client, 3)
    checkout(client, payment_method="bank_transfer")
    with app.app_context():
        make_user("buyer@clinic.example", role="buyer")
        db.session.commit()
    member = app.test_client()
    sign_in(member, "buyer@clinic.example")
    add_to_cart(member, 3)
    checkout(member, payment_method="bank_transfer", email="buyer@clinic.example")
    guest, account = orders(app)
    now = datetime.now(UTC)
    assert guest.reserved_until is not None and account.reserved_until is not None
    assert guest.reserved_until.replace(tzinfo=UTC) - now < timedelta(hours=49)
    assert account.reserved_until.replace(tzinfo=UTC) - now > timedelta(days=6)
    page = client.get(f"/orders/{guest.token}").get_data(as_text=True)
    assert f"We hold your stock until {guest.reserved_until:%d %B %Y, %H:%M} UTC" in page


def test_a_buyer_cannot_hold_more_than_three_unpaid_transfer_orders(
    app: Flask, client: FlaskClient
) -> None:
    stock_needle(app, {"L1": 50})
    for _ in range(3):
        add_to_cart(client, 2)
        assert checkout(client, payment_method="bank_transfer").status_code == 303
    add_to_cart(client, 2)
    response = checkout(client, payment_method="bank_transfer")
    assert response.status_code == 409
    assert "You have 3 orders waiting for a bank transfer" in response.get_data(as_text=True)
    assert len(orders(app)) == 3 and lots(app) == {"L1": (50, 6)}
