"""Without Stripe keys the shop still sells: orders paid by bank transfer."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from shop.extensions import db
from shop.inventory.models import Lot
from shop.mail.models import OutboxEmail
from shop.orders.models import Order
from tests.checkout.test_checkout import CONTACT
from tests.conftest import csrf_token
from tests.factories import make_lot, make_product, make_variant


def _stock(app: Flask) -> None:
    with app.app_context():
        variant = make_variant(
            product=make_product(slug="meso-32"), sku="MN-32G-4MM-100", prices=((1, 3000),)
        )
        make_lot(variant, quantity=10, expires_in_days=900, lot_number="L1")
        db.session.commit()


def _add(client: FlaskClient, quantity: int) -> None:
    client.post(
        "/cart/add",
        data={
            "sku": "MN-32G-4MM-100",
            "quantity": quantity,
            "csrf_token": csrf_token(client, "/products/meso-32"),
        },
    )


def test_card_is_shown_as_not_configured(app: Flask, client: FlaskClient) -> None:
    _stock(app)
    _add(client, 2)
    html = client.get("/cart").get_data(as_text=True)
    assert "(not configured in this shop yet)" in html
    response = client.post("/checkout", data={**CONTACT, "csrf_token": csrf_token(client)})
    assert response.status_code == 422
    assert "Card payment is not configured in this shop yet" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(Order)).all() == []


def test_bank_transfer_order_reserves_stock_and_emails_instructions(
    app: Flask, client: FlaskClient
) -> None:
    _stock(app)
    _add(client, 4)
    response = client.post(
        "/checkout",
        data={**CONTACT, "payment_method": "bank_transfer", "csrf_token": csrf_token(client)},
    )
    assert response.status_code == 303
    page = client.get(response.location).get_data(as_text=True)
    assert "Awaiting bank transfer" in page and "IBAN" in page
    with app.app_context():
        order = db.session.scalars(select(Order)).one()
        assert (
            order.status == "awaiting_transfer" and order.total == 12000 + 1500 + 2520 + 315
        )  # VAT 21 % (Spain)
        lot = db.session.scalars(select(Lot)).one()
        assert (lot.quantity, lot.reserved) == (10, 4)
        mail = db.session.scalars(select(OutboxEmail)).one()
        assert "Please transfer $163.35" in mail.body_text
    assert "Your cart is empty" in client.get("/cart").get_data(as_text=True)


def test_checkout_form_errors_keep_what_was_typed(app: Flask, client: FlaskClient) -> None:
    _stock(app)
    _add(client, 2)
    response = client.post(
        "/checkout",
        data={
            **CONTACT,
            "email": "not-an-email",
            "country": "",
            "payment_method": "bank_transfer",
            "csrf_token": csrf_token(client),
        },
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Enter an email address like name@clinic.com." in html
    assert "Choose the country we ship to." in html
    assert 'value="Dr Ana Ruiz"' in html and "Calle Mayor 1" in html
    with app.app_context():
        assert db.session.scalars(select(Order)).all() == []


def test_mark_paid_command_sells_the_reserved_stock(app: Flask, client: FlaskClient) -> None:
    _stock(app)
    _add(client, 4)
    client.post(
        "/checkout",
        data={**CONTACT, "payment_method": "bank_transfer", "csrf_token": csrf_token(client)},
    )
    with app.app_context():
        number = db.session.scalars(select(Order)).one().number
    result = app.test_cli_runner().invoke(args=["mark-paid", number, "--amount", "16335"])
    assert result.exit_code == 0, result.output
    assert f"Order {number} is paid" in result.output
    with app.app_context():
        lot = db.session.scalars(select(Lot)).one()
        assert (lot.quantity, lot.reserved) == (6, 0)
    again = app.test_cli_runner().invoke(args=["mark-paid", number, "--amount", "16335"])
    assert "already paid" in again.output
