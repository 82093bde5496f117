"""Turn a cart into an order with reserved stock, once per press of the button."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

from shop.cart.models import Cart
from shop.cart.services import PricedCart, priced
from shop.extensions import db
from shop.orders import services as orders
from shop.orders.models import OPEN_STATUSES, Order, OrderStatus, PaymentMethod

# Stripe accepts a Checkout Session expiry from 30 minutes on; the reservation matches it.
CARD_RESERVATION = timedelta(minutes=35)


def shipping_for(subtotal: int) -> int:
    settings = current_app.config["SHOP_SETTINGS"]
    if subtotal >= settings.free_shipping_from:
        return 0
    return int(settings.shipping_amount)


def reservation_end(method: PaymentMethod, now: datetime) -> datetime:
    if method is PaymentMethod.CARD:
        return now + CARD_RESERVATION
    return now + timedelta(days=current_app.config["SHOP_SETTINGS"].bank_transfer_days)


def place_order(cart: Cart, *, contact: orders.Contact, method: PaymentMethod) -> Order:
    """The order for this cart as it is now, with its stock reserved.

    Pressing checkout twice (even at the same moment) gives the same order: the cart row
    is locked first, and an open order made from identical contents is returned again.
    Raises InsufficientStock when the stock is no longer there.
    """
    orders.lock()
    db.session.execute(update(Cart).where(Cart.id == cart.id).values(updated_at=datetime.now(UTC)))
    current: PricedCart = priced(cart)
    fingerprint = current.fingerprint()
    existing = db.session.scalar(
        select(Order)
        .where(
            Order.cart_id == cart.id,
            Order.cart_fingerprint == fingerprint,
            Order.status.in_([s.value for s in OPEN_STATUSES]),
            Order.payment_method == method.value,
        )
        .order_by(Order.id.desc())
    )
    now = datetime.now(UTC)
    if existing is not None and _still_reserved(existing, now):
        return existing
    for stale in db.session.scalars(
        select(Order).where(
            Order.cart_id == cart.id,
            Order.status.in_([s.value for s in OPEN_STATUSES]),
            Order.payment_method == PaymentMethod.CARD.value,
        )
    ):
        orders.release(
            stale,
            status=OrderStatus.CANCELLED,
            actor=contact.email,
            reason="checkout started again with another cart",
        )
    return orders.create_order(
        [orders.LineRequest(p.variant, p.quantity, p.unit_amount) for p in current.lines],
        contact=contact,
        method=method,
        shipping_amount=shipping_for(current.subtotal),
        currency=current_app.config["SHOP_SETTINGS"].currency,
        reserved_until=reservation_end(method, now),
        actor=contact.email,
        cart_id=cart.id,
        cart_fingerprint=fingerprint,
        user_id=cart.user_id,
    )


def _still_reserved(order: Order, now: datetime) -> bool:
    if order.reserved_until is None:
        return True
    until = order.reserved_until
    if until.tzinfo is None:  # SQLite hands back naive UTC
        until = until.replace(tzinfo=UTC)
    return until - now > timedelta(minutes=5)
