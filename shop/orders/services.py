"""The life of an order: made with reserved stock, paid (once), released, refunded.

State only moves forward: a paid order never returns to pending, and an expiry or a
cancellation never undoes a payment. Every change is written to the order's history.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from flask import current_app, render_template
from sqlalchemy import select

from shop.catalog.models import Variant
from shop.extensions import db
from shop.inventory import services as inventory
from shop.mail.services import queue_email
from shop.orders.models import (
    OPEN_STATUSES,
    Allocation,
    AllocationState,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    PaymentMethod,
)
from shop.urls import external_url

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Contact:
    email: str
    contact_name: str
    company: str
    phone: str
    shipping_address: str
    country: str


@dataclass(frozen=True)
class LineRequest:
    """A line to order: a catalogue variant (stock reserved) or, with variant None, a
    free-text item such as a private-label run (named by `sku` and `name`)."""

    variant: Variant | None
    quantity: int
    unit_amount: int
    sku: str = ""
    name: str = ""


def lock() -> None:
    """Serialise changes to orders and stock, then read them afresh.

    Every payment, release and refund takes the same lock first, so the webhook and the
    return page racing to mark one order paid do it once.
    """
    inventory.lock_stock()
    db.session.expire_all()


def note(order: Order, action: str, *, actor: str, text: str = "") -> None:
    order.history.append(OrderEvent(actor=actor, action=action, note=text))


def create_order(
    lines: list[LineRequest],
    *,
    contact: Contact,
    method: PaymentMethod,
    shipping_amount: int,
    currency: str,
    reserved_until: datetime,
    actor: str,
    cart_id: int | None = None,
    cart_fingerprint: str = "",
    user_id: int | None = None,
) -> Order:
    """An order whose stock is reserved until `reserved_until` (raises InsufficientStock).

    Call inventory.lock_stock() first in the transaction.
    """
    taken = inventory.reserve([(x.variant, x.quantity) for x in lines if x.variant is not None])
    subtotal = sum(line.unit_amount * line.quantity for line in lines)
    order = Order(
        token=secrets.token_urlsafe(32),
        cart_id=cart_id,
        cart_fingerprint=cart_fingerprint,
        user_id=user_id,
        status=(
            OrderStatus.PENDING_PAYMENT
            if method is PaymentMethod.CARD
            else OrderStatus.AWAITING_TRANSFER
        ).value,
        payment_method=method.value,
        currency=currency,
        subtotal=subtotal,
        shipping_amount=shipping_amount,
        total=subtotal + shipping_amount,
        amount_refunded=0,
        reserved_until=reserved_until,
        **contact.__dict__,
    )
    for line in lines:
        variant = line.variant
        order_line = OrderLine(
            variant_id=variant.id if variant else None,
            sku=variant.sku if variant else line.sku,
            name=_line_name(variant) if variant else line.name,
            pack_size=variant.pack_size if variant else 1,
            quantity=line.quantity,
            unit_amount=line.unit_amount,
            line_total=line.unit_amount * line.quantity,
        )
        order_line.allocations = [
            Allocation(
                lot_id=t.lot_id,
                lot_number=t.lot_number,
                expires_on=t.expires_on,
                quantity=t.quantity,
                state=AllocationState.RESERVED.value,
            )
            for t in (taken[variant.id] if variant else [])
        ]
        order.lines.append(order_line)
    until = f"{reserved_until:%Y-%m-%d %H:%M} UTC"
    method_name = method.value.replace("_", " ")
    note(order, "created", actor=actor, text=f"{method_name}; stock reserved until {until}")
    db.session.add(order)
    db.session.flush()
    order.number = f"{datetime.now(UTC):%Y}-{order.id:06d}"
    db.session.flush()
    return order


def _line_name(variant: Variant) -> str:
    return (
        f"{variant.product.name}, {variant.gauge}G x {variant.length_mm:g} mm, "
        f"{variant.pack_size} per pack"
    )


def _allocations(order: Order, state: AllocationState) -> list[Allocation]:
    return [a for line in order.lines for a in line.allocations if a.state == state.value]


def release(order: Order, *, status: OrderStatus, actor: str, reason: str) -> bool:
    """Give back the order's reserved stock and close it, if it is still open.

    Returns False (and changes nothing) for an order that is paid, shipped or closed.
    """
    lock()
    if order.status not in OPEN_STATUSES:
        return False
    held = _allocations(order, AllocationState.RESERVED)
    inventory.release([(a.lot_id, a.quantity) for a in held])
    for allocation in held:
        allocation.state = AllocationState.RELEASED.value
    order.status = status.value
    order.reserved_until = None
    note(order, status.value, actor=actor, text=reason)
    db.session.flush()
    return True


def mark_paid(
    order: Order,
    *,
    amount: int,
    currency: str,
    actor: str,
    payment_intent: str | None = None,
) -> bool:
    """Record a payment of the whole order, once. Returns True when this call made it paid.

    A wrong amount or currency is flagged for staff and not fulfilled. A payment for an
    order whose reservation was released is honoured when stock allows; otherwise the
    order is marked paid and flagged for a refund, never lost.
    """
    lock()
    if order.status in (OrderStatus.PAID, OrderStatus.SHIPPED):
        return False
    if amount != order.total or currency.lower() != order.currency:
        reason = (
            f"payment of {amount} {currency.upper()} does not match the order total "
            f"{order.total} {order.currency.upper()}: check and refund"
        )
        if order.attention_reason != reason:
            order.needs_attention = True
            order.attention_reason = reason
            note(order, "payment mismatch", actor=actor, text=reason)
            log.warning("order %s: %s", order.number, reason)
        db.session.flush()
        return False
    released_before = order.status not in OPEN_STATUSES
    if released_before and not _reserve_again(order, actor=actor):
        order.needs_attention = True
        order.attention_reason = (
            "paid after its reservation was released and the stock is gone: refund"
        )
        log.warning("order %s: %s", order.number, order.attention_reason)
    held = _allocations(order, AllocationState.RESERVED)
    inventory.sell(
        [(a.lot_id, a.quantity) for a in held], actor=actor, reason=f"order {order.number}"
    )
    for allocation in held:
        allocation.state = AllocationState.SOLD.value
    order.status = OrderStatus.PAID.value
    order.paid_at = datetime.now(UTC)
    order.reserved_until = None
    if payment_intent:
        order.stripe_payment_intent = payment_intent
    note(order, "paid", actor=actor, text=f"{order.payment_method.replace('_', ' ')}")
    for hook in PAID_HOOKS:
        hook(order, actor)
    queue_confirmation(order)
    db.session.flush()
    return True


def _reserve_again(order: Order, *, actor: str) -> bool:
    variants = {
        v.id: v
        for v in db.session.scalars(
            select(Variant).where(
                Variant.id.in_([x.variant_id for x in order.lines if x.variant_id])
            )
        )
    }
    try:
        taken = inventory.reserve(
            [(variants[x.variant_id], x.quantity) for x in order.lines if x.variant_id in variants]
        )
    except inventory.InsufficientStock as exc:
        note(order, "stock gone", actor=actor, text=str(exc))
        return False
    for line in order.lines:
        for t in taken.get(line.variant_id or 0, []):
            line.allocations.append(
                Allocation(
                    lot_id=t.lot_id,
                    lot_number=t.lot_number,
                    expires_on=t.expires_on,
                    quantity=t.quantity,
                    state=AllocationState.RESERVED.value,
                )
            )
    note(order, "reserved again", actor=actor, text="late payment honoured from stock")
    return True


def record_refund(order: Order, *, refunded_total: int, actor: str, source: str) -> bool:
    """Take the cumulative refunded amount from Stripe; it only ever grows."""
    lock()
    refunded_total = min(refunded_total, order.total)
    if refunded_total <= order.amount_refunded:
        return False
    order.amount_refunded = refunded_total
    note(
        order,
        "refunded",
        actor=actor,
        text=f"{refunded_total} {order.currency.upper()} refunded in all ({source})",
    )
    db.session.flush()
    return True


def queue_confirmation(order: Order) -> None:
    link = external_url("checkout.order_page", token=order.token)
    context = {"order": order, "link": link, "today": date.today()}
    queue_email(
        to=order.email,
        subject=f"Order {order.number} confirmed: {order.status_label}",
        text=render_template("mail/order_confirmation.txt", **context),
        html=render_template("mail/order_confirmation.html", **context),
    )


def by_token(token: str) -> Order | None:
    if not token or len(token) > 64:
        return None
    return db.session.scalar(select(Order).where(Order.token == token))


def settings_currency() -> str:
    return str(current_app.config["SHOP_SETTINGS"].currency)


def lapsed(now: datetime | None = None, *, limit: int = 100) -> list[Order]:
    """Open orders whose reservation ran out: the worker settles them."""
    now = now or datetime.now(UTC)
    return list(
        db.session.scalars(
            select(Order)
            .where(
                Order.status.in_([s.value for s in OPEN_STATUSES]),
                Order.reserved_until.is_not(None),
                Order.reserved_until < now,
            )
            .order_by(Order.id)
            .limit(limit)
        )
    )


# Called with (order, actor) the moment an order becomes paid, in the same transaction:
# other domains (quotes) register here, so orders never imports them.
PAID_HOOKS: list[Callable[[Order, str], None]] = []


def on_paid(hook: Callable[[Order, str], None]) -> None:
    """Call `hook` whenever mark_paid makes an order paid (registered once)."""
    if hook not in PAID_HOOKS:
        PAID_HOOKS.append(hook)
