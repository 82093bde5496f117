"""The life of an order: made with reserved stock, paid (once), released, refunded.

State only moves forward: a paid order never returns to pending, and an expiry or a
cancellation never undoes a payment. Every change is written to the order's history.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime

from flask import current_app, render_template
from sqlalchemy import select

from shop.catalog.models import Variant
from shop.errors import ShopError, ValidationError
from shop.extensions import db
from shop.inventory import services as inventory
from shop.mail.services import queue_email
from shop.money import format_amount
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


# ---- Staff actions: ship, cancel, bank transfers, refunds and returned packs -------------


class ActionRefused(ShopError):
    """Staff asked for something the order's state does not allow; the message says why."""


def _money(order: Order, cents: int) -> str:
    return format_amount(cents, order.currency)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def ship(order: Order, *, carrier: str, tracking_number: str, actor: str) -> None:
    """Mark a paid order shipped and queue the buyer's email with the tracking number.

    Raises ValidationError for a missing carrier or tracking number, and ActionRefused for
    an order that is not paid, is refunded in full or is flagged for staff.
    """
    carrier, tracking_number = _one_line(carrier), _one_line(tracking_number)
    errors = {}
    if not carrier or len(carrier) > 80:
        errors["carrier"] = "Enter the carrier (at most 80 characters)."
    if not tracking_number or len(tracking_number) > 120:
        errors["tracking_number"] = "Enter the tracking number (at most 120 characters)."
    if errors:
        raise ValidationError(errors)
    lock()
    if order.status != OrderStatus.PAID:
        raise ActionRefused(
            f"Only a paid order can be shipped; order {order.number} is "
            f"{order.status_label.lower()}."
        )
    if order.fully_refunded:
        raise ActionRefused(f"Order {order.number} is refunded in full: cancel it instead.")
    if order.needs_attention:
        raise ActionRefused(
            f"Order {order.number} needs attention ({order.attention_reason}): clear the flag "
            "with a note before shipping."
        )
    order.status = OrderStatus.SHIPPED.value
    order.carrier = carrier
    order.tracking_number = tracking_number
    order.shipped_at = datetime.now(UTC)
    note(order, "shipped", actor=actor, text=f"{carrier}, tracking number {tracking_number}")
    queue_shipped(order)
    db.session.flush()


def queue_shipped(order: Order) -> None:
    link = external_url("checkout.order_page", token=order.token)
    context = {"order": order, "link": link}
    queue_email(
        to=order.email,
        subject=f"Order {order.number} has shipped",
        text=render_template("mail/order_shipped.txt", **context),
        html=render_template("mail/order_shipped.html", **context),
    )


def cancel(
    order: Order, *, actor: str, reason: str, restock: Mapping[int, int] | None = None
) -> None:
    """Cancel an order that is open, or paid, not shipped and already refunded in full.

    An open order's reserved stock goes back. A paid order's packs go back into their lots
    as far as `restock` asks (packs per sold allocation id). A paid order with money left
    to refund is cancelled with `book_refund(..., cancel=True)` instead; anything else
    raises ActionRefused.
    """
    reason = _one_line(reason) or "cancelled by staff"
    lock()
    if order.status == OrderStatus.PAYMENT_PROCESSING:
        raise ActionRefused(
            "The buyer's bank is still processing the payment: wait for its outcome, then "
            "cancel the order (with a refund if the payment went through)."
        )
    if order.is_open:
        release(order, status=OrderStatus.CANCELLED, actor=actor, reason=reason)
        return
    if order.status != OrderStatus.PAID:
        raise ActionRefused(
            f"Order {order.number} is {order.status_label.lower()}: it cannot be cancelled."
        )
    if not order.fully_refunded:
        raise ActionRefused("A paid order is cancelled together with a refund of all that remains.")
    returned = _return_packs(order, restock or {}, actor=actor)
    if returned:
        reason += f"; back in stock: {returned}"
    _close_paid(order, actor=actor, reason=reason)
    db.session.flush()


def _close_paid(order: Order, *, actor: str, reason: str) -> None:
    order.status = OrderStatus.CANCELLED.value
    note(order, OrderStatus.CANCELLED.value, actor=actor, text=reason)


def record_transfer(order: Order, *, amount: int, actor: str) -> bool:
    """A bank transfer of `amount` cents received for a bank-transfer order.

    Returns True when the order became paid, False when the amount does not match the
    total (mark_paid flags the order for staff and it stays unpaid). Raises ActionRefused
    for an order that is not waiting for a transfer.
    """
    if order.payment_method != PaymentMethod.BANK_TRANSFER:
        raise ActionRefused(f"Order {order.number} is paid by card, not by bank transfer.")
    if order.status not in (OrderStatus.AWAITING_TRANSFER, OrderStatus.EXPIRED):
        raise ActionRefused(
            f"Order {order.number} is {order.status_label.lower()}: it is not waiting for a "
            "transfer."
        )
    if amount <= 0:
        raise ValidationError({"amount": "Enter the amount received, above zero."})
    return mark_paid(order, amount=amount, currency=order.currency, actor=actor)


def clear_attention(order: Order, *, actor: str, text: str) -> None:
    """Take the needs-attention flag off, with the staff's note in the history.

    The reason stays on the order, so the same problem reported again is not flagged twice.
    """
    text = _one_line(text)
    if not text:
        raise ValidationError({"note": "Say what was done about it."})
    lock()
    if not order.needs_attention:
        raise ActionRefused(f"Order {order.number} is not flagged.")
    order.needs_attention = False
    note(
        order,
        "attention cleared",
        actor=actor,
        text=f"{text} (flagged: {order.attention_reason})",
    )
    db.session.flush()


def _returns_reason(order: Order) -> str:
    """The stock-ledger reason of packs of this order put back into stock."""
    return f"order {order.number} returned"


def restockable(order: Order) -> dict[int, int]:
    """Packs of each sold allocation (by id) that have not gone back into stock yet."""
    sold = sorted(_allocations(order, AllocationState.SOLD), key=lambda a: a.id)
    back = inventory.returned_packs(_returns_reason(order), [a.lot_id for a in sold])
    left: dict[int, int] = {}
    for allocation in sold:
        counted = min(back.get(allocation.lot_id, 0), allocation.quantity)
        back[allocation.lot_id] = back.get(allocation.lot_id, 0) - counted
        left[allocation.id] = allocation.quantity - counted
    return left


def _return_packs(order: Order, restock: Mapping[int, int], *, actor: str) -> str:
    """Put the asked packs back into their lots, at most what is left of each sold
    allocation; what went back, in words."""
    left = restockable(order)
    sold = {a.id: a for a in _allocations(order, AllocationState.SOLD)}
    picks = [
        (sold[allocation_id], min(packs, left[allocation_id]))
        for allocation_id, packs in sorted(restock.items())
        if allocation_id in sold and min(packs, left[allocation_id]) > 0
    ]
    inventory.return_sold_packs(
        [(a.lot_id, n) for a, n in picks], actor=actor, reason=_returns_reason(order)
    )
    return ", ".join(f"{n} × {a.line.sku} lot {a.lot_number}" for a, n in picks)


def check_refund(
    order: Order, *, amount: int, restock: Mapping[int, int], cancel: bool = False
) -> None:
    """Raise ActionRefused or ValidationError when this refund cannot be made as asked.

    `amount` (cents) is at most what remains unrefunded; `restock` asks packs per sold
    allocation id, at most what has not gone back yet. With `cancel` the order is paid,
    not shipped, and `amount` is all that remains.
    """
    if order.paid_at is None or order.status not in (OrderStatus.PAID, OrderStatus.SHIPPED):
        raise ActionRefused(
            f"Order {order.number} is {order.status_label.lower()}: only a paid or shipped "
            "order can be refunded."
        )
    if cancel and order.status != OrderStatus.PAID:
        raise ActionRefused("A shipped order cannot be cancelled: refund it instead.")
    remaining = order.total - order.amount_refunded
    if remaining <= 0:
        raise ActionRefused(f"Order {order.number} is refunded in full already.")
    errors: dict[str, str] = {}
    if amount <= 0:
        errors["amount"] = "Enter an amount above zero."
    elif amount > remaining:
        errors["amount"] = (
            f"At most {_money(order, remaining)} remains to be refunded "
            f"({_money(order, order.amount_refunded)} of {_money(order, order.total)} "
            "refunded so far)."
        )
    elif cancel and amount != remaining:
        errors["amount"] = f"Cancelling refunds all that remains: {_money(order, remaining)}."
    left = restockable(order)
    for allocation_id, packs in restock.items():
        key = f"restock_{allocation_id}"
        if allocation_id not in left:
            errors[key] = "No packs of this order came from that lot."
        elif packs < 0:
            errors[key] = "Enter zero or more packs."
        elif packs > left[allocation_id]:
            errors[key] = (
                f"At most {left[allocation_id]} pack{'s' if left[allocation_id] != 1 else ''} "
                "of this lot can go back into stock."
            )
    if errors:
        raise ValidationError(errors)


@dataclass(frozen=True)
class RefundMade:
    """A refund the payment provider made, or one staff sent by bank transfer."""

    reference: str  # Stripe's refund id, or the bank-transfer form's reference
    amount: int
    # Refunded of the payment in all, as Stripe reports it; None adds `amount` to the books.
    refunded_total: int | None


def book_refund(
    order: Order,
    made: RefundMade,
    *,
    restock: Mapping[int, int],
    actor: str,
    reason: str = "",
    cancel: bool = False,
) -> bool:
    """Book a refund already made: the amount refunded, the packs put back, and with
    `cancel` the cancellation of an order not shipped.

    Books each refund once: a repeat (a form sent twice, answered by Stripe with the same
    refund) returns False and changes nothing. The refunded amount only grows; packs go
    back at most as far as they have not gone back already.
    """
    lock()
    if any(
        event.action == "refunded" and event.note.startswith(f"{made.reference}:")
        for event in order.history
    ):
        return False
    reason = _one_line(reason)
    refunded_total = made.refunded_total
    if refunded_total is None:
        refunded_total = order.amount_refunded + made.amount
    order.amount_refunded = max(order.amount_refunded, min(refunded_total, order.total))
    returned = _return_packs(order, restock, actor=actor)
    text = (
        f"{made.reference}: {_money(order, made.amount)} refunded, "
        f"{_money(order, order.amount_refunded)} of {_money(order, order.total)} in all"
    )
    if returned:
        text += f"; back in stock: {returned}"
    if reason:
        text += f"; {reason}"
    note(order, "refunded", actor=actor, text=text)
    if cancel and order.status == OrderStatus.PAID:
        _close_paid(order, actor=actor, reason=reason or "cancelled with a full refund")
    db.session.flush()
    return True
