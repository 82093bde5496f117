"""Turn a cart into an order with reserved stock, once per press of the button."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import func, select, update

from shop.cart.models import Cart
from shop.cart.services import PricedCart, priced, shipping_for
from shop.errors import ShopError
from shop.extensions import db
from shop.orders import services as orders
from shop.orders.models import Order, OrderStatus, PaymentMethod


class CheckoutStillOpen(ShopError):
    """Earlier card checkouts of this cart are still payable at Stripe: close them first
    (payments.close_checkout), then place the order again."""

    def __init__(self, orders: list[Order]) -> None:
        super().__init__(", ".join(o.number or str(o.id) for o in orders))
        self.orders = orders


class TooManyOpenTransfers(ShopError):
    """This buyer has as many unpaid bank-transfer orders as the shop holds stock for."""


def place_order(
    cart: Cart, *, contact: orders.Contact, method: PaymentMethod, vat_id: str = ""
) -> Order:
    """The order for this cart as it is now, with its stock reserved and its VAT worked out
    for the contact's country and the buyer's `vat_id` (checked by the form, "" for none).

    Pressing checkout twice (even at the same moment) gives the same order: the cart row
    is locked first, and an open order made from identical contents is returned again.
    Raises CheckoutStillOpen when an earlier card checkout of this cart could still be
    paid at Stripe (it is never released before Stripe has closed it), TooManyOpenTransfers
    and InsufficientStock (nothing changed).
    """
    orders.lock()
    db.session.execute(update(Cart).where(Cart.id == cart.id).values(updated_at=datetime.now(UTC)))
    current: PricedCart = priced(cart)
    fingerprint = current.fingerprint()
    now = datetime.now(UTC)
    card_orders = list(
        db.session.scalars(
            select(Order)
            .where(
                Order.cart_id == cart.id,
                Order.status == OrderStatus.PENDING_PAYMENT,
                Order.payment_method == PaymentMethod.CARD.value,
            )
            .order_by(Order.id.desc())
        )
    )
    if method is PaymentMethod.CARD:
        for order in card_orders:
            same_tax = (order.country, order.buyer_vat_id) == (contact.country, vat_id)
            if order.cart_fingerprint == fingerprint and same_tax and _still_reserved(order, now):
                return order
    still_payable = [o for o in card_orders if o.stripe_session_id]
    if still_payable:
        raise CheckoutStillOpen(still_payable)
    for stale in card_orders:  # no session was made (Stripe failed): nothing to close
        orders.release(
            stale,
            status=OrderStatus.CANCELLED,
            actor=contact.email,
            reason="checkout started again",
        )
    guest = cart.user_id is None
    if method is PaymentMethod.BANK_TRANSFER:
        _check_open_transfers(contact.email)
    return orders.create_order(
        [orders.LineRequest(p.variant, p.quantity, p.unit_amount) for p in current.lines],
        contact=contact,
        method=method,
        shipping_amount=shipping_for(current.subtotal),
        currency=current_app.config["SHOP_SETTINGS"].currency,
        reserved_until=orders.reservation_end(method, now, guest=guest),
        actor=contact.email,
        cart_id=cart.id,
        cart_fingerprint=fingerprint,
        user_id=cart.user_id,
        vat_id=vat_id,
    )


def _check_open_transfers(email: str) -> None:
    limit = current_app.config["SHOP_SETTINGS"].max_open_transfers
    open_count = db.session.scalar(
        select(func.count())
        .select_from(Order)
        .where(
            Order.email == email,
            Order.status == OrderStatus.AWAITING_TRANSFER,
        )
    )
    if (open_count or 0) >= limit:
        raise TooManyOpenTransfers(
            f"You have {open_count} orders waiting for a bank transfer. Please pay or let "
            "them lapse before placing another, or pay this one by card."
        )


def _still_reserved(order: Order, now: datetime) -> bool:
    if order.reserved_until is None:
        return True
    until = order.reserved_until
    if until.tzinfo is None:  # SQLite hands back naive UTC
        until = until.replace(tzinfo=UTC)
    return until - now > timedelta(minutes=5)


def clear_paid_cart(order: Order, actor: str) -> None:
    """Registered with orders: when an order is paid or its delayed payment starts (on the
    return page, by webhook or by the worker), the cart it was made from is emptied if it
    still holds what was ordered, so pressing checkout again cannot buy the same packs
    twice."""
    if order.cart_id is None:
        return
    cart = db.session.get(Cart, order.cart_id)
    if cart is None:
        return
    in_cart = {line.variant_id: line.quantity for line in cart.lines}
    ordered = {line.variant_id: line.quantity for line in order.lines if line.variant_id}
    if in_cart == ordered:
        cart.lines.clear()
        db.session.flush()


orders.on_paid(clear_paid_cart)
orders.on_payment_started(clear_paid_cart)
