"""The worker settles lapsed orders one by one: it never expires an order that money was
sent for, and one order that fails never holds back the others."""

from __future__ import annotations

import dataclasses
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from shop.extensions import db
from shop.orders.models import Order
from shop.payments.services import settle_lapsed_orders
from tests.flows import add_to_cart, checkout, lots, order, orders, send_event, stock_needle
from tests.stripe_standin import StripeStandIn


@pytest.fixture
def stocked(stripe_app: Flask) -> Flask:
    stock_needle(stripe_app, {"L1": 20})
    return stripe_app


def _lapse(app: Flask, *, minutes: int = 1) -> None:
    with app.app_context():
        for row in db.session.scalars(select(Order)):
            if row.reserved_until is not None:
                row.reserved_until = datetime.now(UTC) - timedelta(minutes=minutes)
        db.session.commit()


def _settle(app: Flask, now: datetime | None = None) -> dict[str, int]:
    with app.app_context():
        return settle_lapsed_orders(now)


def test_worker_never_expires_an_order_whose_payment_is_processing(
    stocked: Flask, client: FlaskClient, stripe_standin: StripeStandIn
) -> None:
    """Issue 9.7: the buyer paid by bank debit; its webhook never came; the reservation
    lapsed. The worker asks Stripe, finds the payment processing, and waits for it."""
    add_to_cart(client, 3)
    checkout(client)
    placed = order(stocked)
    stripe_standin.complete(placed.stripe_session_id, async_payment=True)
    _lapse(stocked)
    assert _settle(stocked)["released"] == 0
    assert order(stocked).status == "payment_processing" and lots(stocked) == {"L1": (20, 3)}
    assert _settle(stocked, datetime.now(UTC) + timedelta(days=30))["released"] == 0
    settled = stripe_standin.settle_async_payment(placed.stripe_session_id)
    send_event(client, stripe_standin.event("checkout.session.async_payment_succeeded", settled))
    assert order(stocked).status == "paid" and lots(stocked) == {"L1": (17, 0)}


def test_worker_never_expires_an_order_paid_with_the_wrong_amount(
    stocked: Flask, client: FlaskClient, stripe_standin: StripeStandIn
) -> None:
    """Issue 9.7: a mismatched payment is flagged, and its stock held for staff."""
    add_to_cart(client, 3)
    checkout(client)
    placed = order(stocked)
    stripe_standin.complete(placed.stripe_session_id, amount_total=100)
    _lapse(stocked)
    _settle(stocked)
    flagged = order(stocked)
    assert flagged.status == "pending_payment" and flagged.needs_attention
    assert "does not match the order total" in flagged.attention_reason
    assert lots(stocked) == {"L1": (20, 3)}
    _settle(stocked, datetime.now(UTC) + timedelta(days=30))
    assert order(stocked).status == "pending_payment"


def test_card_orders_without_stripe_settings_never_stop_the_worker(
    stocked: Flask, client: FlaskClient, stripe_standin: StripeStandIn
) -> None:
    """Issue 9.7: `NotConfigured` aborted every run, holding back bank transfers too."""
    add_to_cart(client, 3)
    checkout(client)
    other = stocked.test_client()
    add_to_cart(other, 2)
    checkout(other, payment_method="bank_transfer")
    _lapse(stocked, minutes=60 * 24 * 30)
    stocked.config["SHOP_SETTINGS"] = dataclasses.replace(
        stocked.config["SHOP_SETTINGS"], stripe_secret_key=None
    )
    stocked.extensions.pop("stripe_client", None)
    counts = _settle(stocked)
    assert counts["released"] == 1 and counts["failed"] == 1
    card, bank = orders(stocked)
    assert (card.status, bank.status) == ("pending_payment", "expired")
    assert "not configured" in card.history[-1].note
    assert lots(stocked) == {"L1": (20, 3)}  # the card order's packs stay held


def test_a_hundred_failing_orders_never_block_the_ones_after_them(
    stocked: Flask, client: FlaskClient, stripe_standin: StripeStandIn
) -> None:
    """Issue 9.7: the worker took the first 100 lapsed orders each run; 100 that fail
    every time (sessions Stripe does not know) kept the rest waiting forever."""
    add_to_cart(client, 3)
    checkout(client, payment_method="bank_transfer")
    bank = order(stocked)
    with stocked.app_context():
        long_ago = datetime.now(UTC) - timedelta(days=60)
        for n in range(100):
            db.session.add(
                Order(
                    number=f"2026-9{n:05d}",
                    token=secrets.token_urlsafe(32),
                    status="pending_payment",
                    payment_method="card",
                    email="b@clinic.example",
                    contact_name="B",
                    shipping_address="Street 1, Town",
                    country="ES",
                    currency="usd",
                    subtotal=1000,
                    shipping_amount=0,
                    total=1000,
                    reserved_until=long_ago,
                    stripe_session_id=f"cs_test_unknown_{n}",
                )
            )
        row = db.session.get(Order, bank.id)
        assert row is not None
        row.reserved_until = datetime.now(UTC) - timedelta(minutes=1)
        db.session.commit()
    first = _settle(stocked)
    assert first["failed"] == 100
    second = _settle(stocked)
    assert second["released"] == 1
    assert order(stocked, bank.id).status == "expired"
    assert lots(stocked) == {"L1": (20, 0)}
