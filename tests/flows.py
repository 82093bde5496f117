"""The buyer's and Stripe's steps the tests repeat: a stocked needle, fill the cart, check
out, pay through the Stripe stand-in, and send Stripe's signed events."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from shop.extensions import db
from shop.inventory.models import Lot
from shop.orders.models import Order
from tests.conftest import WEBHOOK_SECRET, csrf_token
from tests.factories import make_lot, make_product, make_variant
from tests.stripe_standin import StripeStandIn

SKU = "MN-32G-4MM-100"
SLUG = "meso-32"
CONTACT = {
    "email": "buyer@clinic.example",
    "contact_name": "Dr Ana Ruiz",
    "company": "Clinica Ruiz",
    "phone": "+34 600 000 000",
    "shipping_address": "Calle Mayor 1\n28013 Madrid",
    "country": "ES",
    "payment_method": "card",
}


def stock_needle(
    app: Flask, lots: Mapping[str, int] | None = None, *, sku: str = SKU, slug: str = SLUG
) -> int:
    """A 32G needle at $30 a pack ($27.60 from 10) with lots of these sizes; its variant id."""
    with app.app_context():
        variant = make_variant(
            product=make_product(slug=slug, name=f"Meso Needle {sku}"),
            sku=sku,
            prices=((1, 3000), (10, 2760)),
        )
        for days, (number, quantity) in enumerate((lots or {"L1": 20}).items()):
            make_lot(variant, quantity=quantity, expires_in_days=700 + days, lot_number=number)
        db.session.commit()
        return variant.id


def add_to_cart(
    client: FlaskClient, quantity: int, *, sku: str = SKU, slug: str = SLUG
) -> TestResponse:
    token = csrf_token(client, f"/products/{slug}")
    return client.post("/cart/add", data={"sku": sku, "quantity": quantity, "csrf_token": token})


def checkout(client: FlaskClient, **changes: str) -> TestResponse:
    return client.post("/checkout", data={**CONTACT, **changes, "csrf_token": csrf_token(client)})


def send_event(
    client: FlaskClient, event: Mapping[str, Any], *, timestamp: int | None = None
) -> TestResponse:
    """Stripe's webhook POST of `event`, signed with the shop's secret (at `timestamp`)."""
    body, headers = StripeStandIn.webhook_request(event, WEBHOOK_SECRET, timestamp=timestamp)
    return client.post("/stripe/webhook", data=body, headers=headers)


def pay(client: FlaskClient, standin: StripeStandIn, session_id: str) -> TestResponse:
    """The buyer pays at Stripe and Stripe says so by webhook."""
    paid = standin.complete(session_id)
    return send_event(client, standin.event("checkout.session.completed", paid))


def orders(app: Flask) -> list[Order]:
    with app.app_context():
        found = list(db.session.scalars(select(Order).order_by(Order.id)))
        for order in found:
            _ = order.refunds, order.history, [line.allocations for line in order.lines]
        db.session.expunge_all()
        return found


def order(app: Flask, order_id: int | None = None) -> Order:
    """The only order (or the one with this id), detached, with lines, refunds, history."""
    found = orders(app)
    if order_id is None:
        assert len(found) == 1, [o.number for o in found]
        return found[0]
    return next(o for o in found if o.id == order_id)


def lots(app: Flask) -> dict[str, tuple[int, int]]:
    """(on hand, reserved) by lot number."""
    with app.app_context():
        return {
            lot.lot_number: (lot.quantity, lot.reserved) for lot in db.session.scalars(select(Lot))
        }
