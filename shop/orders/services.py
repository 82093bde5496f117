"""The life of an order: made with reserved stock, paid (once), released, refunded.

Every status change goes through `lifecycle.move` and its table of allowed moves. A
cancelled, refunded or expired order is never paid again, except an order that was never
paid: a late payment is honoured from stock when it is there, and otherwise recorded,
flagged and refunded, never lost.
"""

from __future__ import annotations

import enum
import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import or_, select

from shop import tax
from shop.catalog.models import Variant
from shop.errors import ShopError, ValidationError
from shop.extensions import db
from shop.inventory import services as inventory
from shop.mail.services import queue_mail
from shop.money import format_money
from shop.orders import lifecycle
from shop.orders.models import (
    Allocation,
    AllocationState,
    Order,
    OrderLine,
    OrderStatus,
    PaymentMethod,
    Refund,
    RefundStatus,
)
from shop.urls import external_url
from shop.wording import packs

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

    Every payment, release and refund takes the stock lock first, so the webhook and the
    return page racing to mark one order paid do it once.
    """
    inventory.lock_stock()
    db.session.expire_all()


def note(order: Order, action: str, *, actor: str, text: str = "") -> None:
    lifecycle.record(order, action, actor=actor, note=text)


# Stripe accepts a Checkout Session expiry from 30 minutes on; the reservation matches it.
CARD_RESERVATION = timedelta(minutes=35)


def reservation_end(method: PaymentMethod, now: datetime, *, guest: bool = False) -> datetime:
    """When a new order's reservation ends: a card checkout's session lifetime, or the
    days a bank transfer may take (hours for a guest without an account)."""
    settings = current_app.config["SHOP_SETTINGS"]
    if method is PaymentMethod.CARD:
        return now + CARD_RESERVATION
    if guest:
        return now + timedelta(hours=settings.guest_transfer_hours)
    return now + timedelta(days=settings.bank_transfer_days)


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
    vat_id: str = "",
) -> Order:
    """An order whose stock is reserved until `reserved_until` (raises InsufficientStock,
    having changed nothing). Call `lock()` first in the transaction.

    Prices are net: the VAT for the contact's country and the buyer's `vat_id` (checked
    before, "" for none) is added to each line and to shipping, and the total is gross.
    """
    subtotal = sum(line.unit_amount * line.quantity for line in lines)
    vat = tax_for(
        contact.country,
        vat_id,
        [line.unit_amount * line.quantity for line in lines],
        shipping_amount,
    )
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
        tax_amount=vat.amount,
        tax_rate=vat.rate,
        tax_treatment=vat.treatment.value,
        buyer_vat_id=vat_id,
        total=subtotal + shipping_amount + vat.amount,
        amount_paid=0,
        amount_refunded=0,
        reserved_until=reserved_until,
        **contact.__dict__,
    )
    for line, line_tax in zip(lines, vat.line_taxes, strict=True):
        variant = line.variant
        order.lines.append(
            OrderLine(
                variant_id=variant.id if variant else None,
                sku=variant.sku if variant else line.sku,
                name=_line_name(variant) if variant else line.name,
                pack_size=variant.pack_size if variant else 1,
                quantity=line.quantity,
                unit_amount=line.unit_amount,
                line_total=line.unit_amount * line.quantity,
                tax_amount=line_tax,
            )
        )
    _reserve(order, {x.variant.id: x.variant for x in lines if x.variant is not None})
    until = f"{reserved_until:%Y-%m-%d %H:%M} UTC"
    method_name = method.value.replace("_", " ")
    note(order, "created", actor=actor, text=f"{method_name}; stock reserved until {until}")
    db.session.add(order)
    db.session.flush()
    order.number = f"{datetime.now(UTC):%Y}-{order.id:06d}"
    db.session.flush()
    return order


def tax_for(country: str, vat_id: str, line_nets: list[int], shipping: int) -> tax.Tax:
    """The VAT of a delivery to `country` by the shop's rules (settings), per line and on
    shipping: what an order made now would carry."""
    rules = tax.rules(current_app.config["SHOP_SETTINGS"])
    return tax.work_out(
        rules, destination=country, vat_id=vat_id, line_nets=line_nets, shipping=shipping
    )


def _reserve(order: Order, variants: Mapping[int, Variant]) -> None:
    """Reserve every catalogue line's packs, each line its own picks; all or nothing."""
    stocked = [line for line in order.lines if line.variant_id in variants]
    picks = inventory.reserve([(variants[line.variant_id or 0], line.quantity) for line in stocked])
    for line, taken in zip(stocked, picks, strict=True):
        line.allocations.extend(
            Allocation(
                lot_id=p.lot_id,
                lot_number=p.lot_number,
                expires_on=p.expires_on,
                quantity=p.quantity,
                state=AllocationState.RESERVED.value,
            )
            for p in taken
        )


def _line_name(variant: Variant) -> str:
    return (
        f"{variant.product.name}, {variant.gauge}G x {variant.length_mm:g} mm, "
        f"{variant.pack_size} per pack"
    )


def _allocations(order: Order, state: AllocationState) -> list[Allocation]:
    return [a for line in order.lines for a in line.allocations if a.state == state.value]


def release(order: Order, *, status: OrderStatus, actor: str, reason: str) -> bool:
    """Give back the order's reserved stock and close it as `status`, if the order's state
    allows that move (an open order not yet paid).

    Returns False, changing nothing, for any other order: paid, processing a payment that
    may still succeed (unless `status` is cancelled after its failure), or closed.
    """
    lock()
    if not lifecycle.allowed(order, status):
        return False
    held = _allocations(order, AllocationState.RESERVED)
    inventory.release([(a.lot_id, a.quantity) for a in held])
    for allocation in held:
        allocation.state = AllocationState.RELEASED.value
    lifecycle.move(order, status, actor=actor, note=reason)
    db.session.flush()
    return True


class PaymentOutcome(enum.Enum):
    """What recording a payment did."""

    PAID = "paid"  # the order became paid now
    ALREADY_PAID = "already paid"  # this order was paid before: nothing changed
    MISMATCH = "amount or currency mismatch"  # flagged for staff, not paid
    SHORT = "bank transfer short of the total"  # kept and flagged: the rest, or accept it
    UNFULFILLABLE = "paid, stock gone"  # paid late, the stock is gone: flagged to refund


def mark_paid(
    order: Order,
    *,
    amount: int,
    currency: str,
    actor: str,
    payment_intent: str | None = None,
) -> PaymentOutcome:
    """Record a payment of the whole order, once.

    A wrong amount or currency is flagged for staff and not fulfilled; the order then
    keeps its stock (the worker never expires an order that money was sent for). An order
    paid before is never paid again. A payment for an order released unpaid is honoured
    when its stock can be reserved again; otherwise the money is recorded, the order
    flagged for a full refund and the buyer told so, and it stays closed.
    """
    lock()
    if order.amount_paid > 0 or order.paid_at is not None:
        return PaymentOutcome.ALREADY_PAID
    if amount != order.total or currency.lower() != order.currency:
        reason = (
            f"payment of {_money(order, amount, currency)} does not match the order total "
            f"{_money(order, order.total)}: check and refund"
        )
        order.reserved_until = None
        _flag(order, reason, actor=actor, action="payment mismatch")
        db.session.flush()
        return PaymentOutcome.MISMATCH
    return _pay(order, amount=amount, actor=actor, payment_intent=payment_intent)


def _pay(
    order: Order, *, amount: int, actor: str, payment_intent: str | None = None
) -> PaymentOutcome:
    """The order is paid with `amount` (its total, or less when staff accepted a shortfall):
    stock sold (or reserved again, or flagged when gone), hooks run, the buyer emailed."""
    if payment_intent:
        order.stripe_payment_intent = payment_intent
    if not order.is_open and not _reserve_again(order, actor=actor):
        order.amount_paid = amount
        order.paid_at = datetime.now(UTC)
        _flag(
            order,
            "paid after its reservation was released and the stock is gone: refund in full",
            actor=actor,
            action="paid, stock gone",
        )
        queue_unfulfillable(order)
        db.session.flush()
        return PaymentOutcome.UNFULFILLABLE
    held = _allocations(order, AllocationState.RESERVED)
    inventory.sell(
        [(a.lot_id, a.quantity) for a in held], actor=actor, reason=f"order {order.number}"
    )
    for allocation in held:
        allocation.state = AllocationState.SOLD.value
    lifecycle.move(
        order, OrderStatus.PAID, actor=actor, note=order.payment_method.replace("_", " ")
    )
    order.amount_paid = amount
    order.paid_at = datetime.now(UTC)
    order.transfer_received = 0
    for hook in PAID_HOOKS:
        hook(order, actor)
    queue_confirmation(order)
    db.session.flush()
    return PaymentOutcome.PAID


def mark_processing(order: Order, *, actor: str, payment_intent: str | None) -> bool:
    """The buyer paid by a method whose outcome comes later (a bank debit): the order
    waits for it, holding its stock however long that takes. True when this call moved it."""
    lock()
    if order.status != OrderStatus.PENDING_PAYMENT:
        return False
    lifecycle.move(order, OrderStatus.PAYMENT_PROCESSING, actor=actor)
    order.reserved_until = None
    if payment_intent:
        order.stripe_payment_intent = payment_intent
    for hook in PAYMENT_STARTED_HOOKS:
        hook(order, actor)
    db.session.flush()
    return True


def flag(order: Order, reason: str, *, actor: str, action: str) -> None:
    """Flag the order for staff with `reason` (it cannot ship until they clear it)."""
    _flag(order, reason, actor=actor, action=action)


def _flag(order: Order, reason: str, *, actor: str, action: str) -> None:
    """Flag the order for staff with `reason`, once per reason."""
    if order.needs_attention and order.attention_reason == reason:
        return
    order.needs_attention = True
    order.attention_reason = reason
    note(order, action, actor=actor, text=reason)
    log.warning("order %s: %s", order.number, reason)


def _reserve_again(order: Order, *, actor: str) -> bool:
    """Reserve a released order's packs again, all or nothing; False when stock is short."""
    ids = [x.variant_id for x in order.lines if x.variant_id]
    variants = {v.id: v for v in db.session.scalars(select(Variant).where(Variant.id.in_(ids)))}
    try:
        _reserve(order, variants)
    except inventory.InsufficientStock as exc:
        note(order, "stock gone", actor=actor, text=str(exc))
        return False
    note(order, "reserved again", actor=actor, text="late payment honoured from stock")
    return True


def queue_confirmation(order: Order) -> None:
    subject = f"Order {order.number} confirmed: {order.status_label}"
    _queue_order_mail(order, "order_confirmation", subject)


def queue_unfulfillable(order: Order) -> None:
    _queue_order_mail(
        order, "payment_unfulfillable", f"Order {order.number}: payment received, refund to follow"
    )


def _queue_order_mail(order: Order, template: str, subject: str, **context: Any) -> None:
    link = external_url("checkout.order_page", token=order.token)
    queue_mail(
        to=order.email,
        subject=subject,
        template=template,
        order=order,
        link=link,
        today=date.today(),
        **context,
    )


def _queue_refund_mail(refund: Refund) -> None:
    """Tell the buyer a refund is made, with its credit note."""
    order = refund.order
    credit_note = external_url("checkout.credit_note", token=order.token, refund_id=refund.id)
    _queue_order_mail(
        order,
        "refund_made",
        f"Order {order.number}: {_money(order, refund.amount)} refunded",
        refund=refund,
        credit_note=credit_note,
    )


def by_token(token: str) -> Order | None:
    if not token or len(token) > 64:
        return None
    return db.session.scalar(select(Order).where(Order.token == token))


def settings_currency() -> str:
    return str(current_app.config["SHOP_SETTINGS"].currency)


SETTLE_BACKOFF_MAX = timedelta(hours=1)


def lapsed(now: datetime | None = None, *, limit: int = 100) -> list[int]:
    """Ids of open orders whose reservation ran out and that are due for settling, oldest
    first: an order whose settling failed waits for its backoff, so it never holds back
    the others."""
    now = now or datetime.now(UTC)
    return list(
        db.session.scalars(
            select(Order.id)
            .where(
                Order.status.in_([OrderStatus.PENDING_PAYMENT, OrderStatus.AWAITING_TRANSFER]),
                Order.reserved_until.is_not(None),
                Order.reserved_until < now,
                or_(Order.settle_after.is_(None), Order.settle_after <= now),
            )
            .order_by(Order.reserved_until, Order.id)
            .limit(limit)
        )
    )


def settle_failed(order: Order, now: datetime, error: str) -> None:
    """Settling this order failed: try it again after a backoff (1, 2, 4 ... minutes, at
    most an hour), so one broken order never blocks the others."""
    order.settle_attempts += 1
    wait = min(timedelta(minutes=2 ** min(order.settle_attempts - 1, 10)), SETTLE_BACKOFF_MAX)
    order.settle_after = now + wait
    note(order, "settling failed", actor="worker", text=f"{error[:300]}; next try in {wait}")


# Called with (order, actor) the moment an order becomes paid, or its delayed payment
# starts, in the same transaction: other domains (quotes, checkout) register here, so
# orders never imports them.
Hook = Callable[[Order, str], None]
PAID_HOOKS: list[Hook] = []
PAYMENT_STARTED_HOOKS: list[Hook] = []


def on_paid(hook: Hook) -> None:
    """Call `hook` whenever mark_paid makes an order paid (registered once)."""
    if hook not in PAID_HOOKS:
        PAID_HOOKS.append(hook)


def on_payment_started(hook: Hook) -> None:
    """Call `hook` whenever an order starts waiting for a delayed payment (registered once)."""
    if hook not in PAYMENT_STARTED_HOOKS:
        PAYMENT_STARTED_HOOKS.append(hook)


# ---- Staff actions: ship, cancel, bank transfers, refunds and returned packs -------------


class ActionRefused(ShopError):
    """Staff asked for something the order's state does not allow; the message says why."""


def _money(order: Order, cents: int, currency: str | None = None) -> str:
    return format_money(cents, currency or order.currency)


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
    if order.refundable == 0:
        raise ActionRefused(f"Order {order.number} is refunded in full: cancel it instead.")
    if order.needs_attention:
        raise ActionRefused(
            f"Order {order.number} needs attention ({order.attention_reason}): clear the flag "
            "with a note before shipping."
        )
    lifecycle.move(
        order,
        OrderStatus.SHIPPED,
        actor=actor,
        note=f"{carrier}, tracking number {tracking_number}",
    )
    order.carrier = carrier
    order.tracking_number = tracking_number
    order.shipped_at = datetime.now(UTC)
    queue_shipped(order)
    db.session.flush()


def queue_shipped(order: Order) -> None:
    _queue_order_mail(order, "order_shipped", f"Order {order.number} has shipped")


def cancel(
    order: Order, *, actor: str, reason: str, restock: Mapping[int, int] | None = None
) -> None:
    """Cancel an order that is open, or paid, not shipped and refunded in full (or with
    its full refund under way).

    An open order's reserved stock goes back. A paid order's packs go back into their lots
    as far as `restock` asks (packs per sold allocation id). A paid order with money left
    to refund is cancelled with a refund that has `cancel` set instead; anything else
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
    if not lifecycle.allowed(order, OrderStatus.CANCELLED):
        raise ActionRefused("A paid order is cancelled together with a refund of all that remains.")
    returned = _return_packs(order, restock or {}, actor=actor)
    if returned:
        reason += f"; back in stock: {returned}"
    lifecycle.move(order, OrderStatus.CANCELLED, actor=actor, note=reason)
    db.session.flush()


def record_transfer(order: Order, *, amount: int, actor: str) -> PaymentOutcome:
    """A bank transfer of `amount` cents received for a bank-transfer order.

    Returns what `mark_paid` did: PAID, ALREADY_PAID, or MISMATCH when the amount does not
    match the total (the order is flagged for staff and stays unpaid). Raises ActionRefused
    for an order never paid that is not waiting for a transfer.
    """
    if order.payment_method != PaymentMethod.BANK_TRANSFER:
        raise ActionRefused(f"Order {order.number} is paid by card, not by bank transfer.")
    if order.paid_at is None and order.status not in (
        OrderStatus.AWAITING_TRANSFER,
        OrderStatus.EXPIRED,
    ):
        raise ActionRefused(
            f"Order {order.number} is {order.status_label.lower()}: it is not waiting for a "
            "transfer."
        )
    if amount <= 0:
        raise ValidationError({"amount": "Enter the amount received, above zero."})
    lock()
    if order.paid_at is None and amount < order.total:
        order.transfer_received = amount
        order.reserved_until = None  # money was sent: the worker never expires it now
        _flag(order, _short_reason(order), actor=actor, action="payment short")
        db.session.flush()
        return PaymentOutcome.SHORT
    short_flag = order.needs_attention and order.attention_reason == _short_reason(order)
    made = mark_paid(order, amount=amount, currency=order.currency, actor=actor)
    if made is PaymentOutcome.PAID and short_flag:
        order.needs_attention = False
        note(order, "attention cleared", actor=actor, text="the full amount was recorded")
        db.session.flush()
    return made


def _short_reason(order: Order) -> str:
    """Why a short transfer flags the order (the same words each time, so it flags once)."""
    received = order.transfer_received
    return (
        f"payment of {_money(order, received)} is {_money(order, order.total - received)} "
        f"short of the order total {_money(order, order.total)}: record the full amount when "
        "the rest arrives, or accept the shortfall"
    )


def accept_shortfall(order: Order, *, reason: str, actor: str) -> PaymentOutcome:
    """Staff accept a short bank transfer: the order is paid for the amount received (the
    rest written off, the reason in its history) and the attention flag is cleared.

    Raises ValidationError without a reason, ActionRefused when no short transfer is
    recorded or the order is paid already.
    """
    reason = _one_line(reason)
    if not reason:
        raise ValidationError({"reason": "Say why the shortfall is accepted."})
    lock()
    received = order.transfer_received
    if order.paid_at is not None or not 0 < received < order.total:
        raise ActionRefused(f"Order {order.number} has no short bank transfer to accept.")
    shortfall = order.total - received
    order.shortfall_accepted = shortfall
    note(
        order,
        "shortfall accepted",
        actor=actor,
        text=f"{_money(order, received)} received of {_money(order, order.total)}, "
        f"{_money(order, shortfall)} written off: {reason}",
    )
    short_flag = order.needs_attention and order.attention_reason == _short_reason(order)
    made = _pay(order, amount=received, actor=actor)
    if made is PaymentOutcome.PAID and short_flag:
        order.needs_attention = False
    db.session.flush()
    return made


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

    `amount` (cents) is at most what can still be refunded (paid, less refunds made or
    under way); `restock` asks packs per sold allocation id, at most what has not gone back
    yet. With `cancel` the order is paid, not shipped, and `amount` is all that remains.
    """
    if order.amount_paid <= 0:
        raise ActionRefused(
            f"Order {order.number} is {order.status_label.lower()} and was never paid: "
            "there is nothing to refund."
        )
    if cancel and order.status != OrderStatus.PAID:
        raise ActionRefused(
            "A shipped order cannot be cancelled: refund it instead."
            if order.status == OrderStatus.SHIPPED
            else f"Order {order.number} is {order.status_label.lower()}: it cannot be cancelled."
        )
    remaining = order.refundable
    if remaining <= 0:
        raise ActionRefused(
            f"Order {order.number} is refunded in full already"
            + (" (a refund is still under way)." if order.refund_in_flight else ".")
        )
    errors: dict[str, str] = {}
    if amount <= 0:
        errors["amount"] = "Enter an amount above zero."
    elif amount > remaining:
        errors["amount"] = (
            f"At most {_money(order, remaining)} remains to be refunded "
            f"({_money(order, order.amount_paid - remaining)} of "
            f"{_money(order, order.amount_paid)} refunded or under way)."
        )
    elif cancel and amount != remaining:
        errors["amount"] = f"Cancelling refunds all that remains: {_money(order, remaining)}."
    left = restockable(order)
    for allocation_id, asked in restock.items():
        key = f"restock_{allocation_id}"
        if allocation_id not in left:
            errors[key] = "No packs of this order came from that lot."
        elif asked < 0:
            errors[key] = "Enter zero or more packs."
        elif asked > left[allocation_id]:
            errors[key] = (
                f"At most {packs(left[allocation_id])} of this lot can go back into stock."
            )
    if errors:
        raise ValidationError(errors)


def request_refund(
    order: Order,
    *,
    amount: int,
    restock: Mapping[int, int],
    request_key: str,
    actor: str,
    reason: str = "",
    cancel: bool = False,
) -> Refund:
    """The first step of every refund: hold `amount` for a refund about to be made.

    Checked under the lock against what can still be refunded, so two refunds at once can
    never give back more than was paid. The same `request_key` (a form sent twice) finds
    the refund asked for the first time, whatever its state. Raises as `check_refund`.
    The caller commits, then has the refund made and books it with `refund_made`.
    """
    lock()
    existing = db.session.scalar(select(Refund).where(Refund.request_key == request_key))
    if existing is not None:
        return existing
    check_refund(order, amount=amount, restock=restock, cancel=cancel)
    refund = Refund(
        request_key=request_key,
        amount=amount,
        status=RefundStatus.REQUESTED.value,
        restock={str(k): v for k, v in sorted(restock.items()) if v > 0},
        cancel=cancel,
        reason=_one_line(reason),
        actor=actor,
    )
    order.refunds.append(refund)
    note(order, "refund requested", actor=actor, text=f"{_money(order, amount)}")
    db.session.flush()
    return refund


# How a refund's status may change: Stripe's refund lifecycle, never backwards, so events
# arriving out of order cannot undo a later state.
R = RefundStatus
REFUND_MOVES: dict[RefundStatus, frozenset[RefundStatus]] = {
    R.REQUESTED: frozenset({R.PENDING, R.SUCCEEDED, R.FAILED, R.CANCELED}),
    R.PENDING: frozenset({R.SUCCEEDED, R.FAILED, R.CANCELED}),
    R.SUCCEEDED: frozenset({R.FAILED}),
    R.FAILED: frozenset(),
    R.CANCELED: frozenset(),
}


def value_of_packs(order: Order, restock: dict[int, int]) -> int:
    """What these packs (by sold allocation id) were sold for, gross: at their lines' net
    prices, plus the share of their lines' VAT they carried."""
    price = {a.id: line.unit_amount for line in order.lines for a in line.allocations}
    net = sum(price.get(allocation_id, 0) * n for allocation_id, n in restock.items())
    return net + order.packs_tax(restock)


def refund_made(refund: Refund, *, reference: str, status: RefundStatus, actor: str) -> bool:
    """The payment provider (or the bank) took the refund on as `reference`: book it.

    The packs it asked for go back into stock and, when it cancels the order, the order is
    cancelled. Only a succeeded refund counts as refunded; a pending one stays held.
    Returns False, changing nothing, when it was booked before (a repeat, or the webhook
    got there first).
    """
    lock()
    if refund.status != RefundStatus.REQUESTED:
        return False
    order = refund.order
    refund.reference = reference
    _set_refund_status(refund, status, actor=actor)
    if status not in (RefundStatus.PENDING, RefundStatus.SUCCEEDED):
        db.session.flush()
        return True
    restock = {int(k): v for k, v in (refund.restock or {}).items()}
    returned = _return_packs(order, restock, actor=actor)
    text = (
        f"{reference}: {_money(order, refund.amount)} "
        f"{'refunded' if status is RefundStatus.SUCCEEDED else status.value}, "
        f"{_money(order, order.amount_refunded)} of {_money(order, order.amount_paid)} "
        "refunded in all"
    )
    if returned:
        text += f"; back in stock: {returned}"
    if refund.reason:
        text += f"; {refund.reason}"
    note(order, "refunded", actor=actor, text=text)
    if refund.cancel and lifecycle.allowed(order, OrderStatus.CANCELLED):
        lifecycle.move(
            order,
            OrderStatus.CANCELLED,
            actor=actor,
            note=refund.reason or "cancelled with a full refund",
        )
    db.session.flush()
    return True


def refund_refused(refund: Refund, *, actor: str, message: str) -> None:
    """The payment provider refused the refund: nothing was refunded, the amount is free."""
    lock()
    if refund.status == RefundStatus.REQUESTED:
        refund.status = RefundStatus.FAILED.value
        note(refund.order, "refund refused", actor=actor, text=message[:500])
        db.session.flush()


def refund_reported(
    order: Order,
    *,
    reference: str,
    amount: int,
    status: RefundStatus,
    request_key: str | None,
    actor: str,
) -> bool:
    """The payment provider reports refund `reference` of this order in `status`.

    A refund the shop asked for is found by its reference or request key and moved on (a
    refund still `requested` is booked as `refund_made` would); one made elsewhere (in
    Stripe's dashboard) is recorded. A state older than the one known is ignored. Returns
    whether anything changed.
    """
    lock()
    refund = db.session.scalar(select(Refund).where(Refund.reference == reference))
    if refund is None and request_key:
        refund = db.session.scalar(
            select(Refund).where(Refund.request_key == request_key, Refund.order_id == order.id)
        )
    if refund is not None and refund.status == RefundStatus.REQUESTED:
        return refund_made(refund, reference=reference, status=status, actor=actor)
    if refund is None:
        if amount <= 0 or order.amount_paid <= 0:
            return False
        refund = Refund(
            request_key=f"reported {reference}"[:120],
            reference=reference,
            amount=amount,
            status=RefundStatus.REQUESTED.value,
            restock={},
            reason="made outside the shop",
            actor=actor,
        )
        order.refunds.append(refund)
        db.session.flush()
        return refund_made(refund, reference=reference, status=status, actor=actor)
    if status not in REFUND_MOVES[RefundStatus(refund.status)]:
        return False
    _set_refund_status(refund, status, actor=actor)
    note(
        order,
        f"refund {status.value}",
        actor=actor,
        text=f"{reference}: {_money(order, refund.amount)}",
    )
    db.session.flush()
    return True


def _set_refund_status(refund: Refund, status: RefundStatus, *, actor: str) -> None:
    """Move a refund on; only succeeded refunds count in the order's refunded amount, and a
    refund that failed flags the order (the money is still with the shop)."""
    order = refund.order
    was = RefundStatus(refund.status)
    counted = (status is RefundStatus.SUCCEEDED) - (was is RefundStatus.SUCCEEDED)
    refund.status = status.value
    if counted > 0 and order.amount_refunded + refund.amount > order.amount_paid:
        # Stripe never refunds more than was paid; should it say so, staff must look.
        _flag(
            order,
            f"refund {refund.reference} would take the refunds over what was paid",
            actor=actor,
            action="refund over payment",
        )
        return
    order.amount_refunded += counted * refund.amount
    if counted > 0 and order.email:
        _queue_refund_mail(refund)
    if status in (RefundStatus.FAILED, RefundStatus.CANCELED):
        _flag(
            order,
            f"refund {refund.reference} of {_money(order, refund.amount)} {status.value}: the "
            "money was not returned, refund again or contact the buyer",
            actor=actor,
            action=f"refund {status.value}",
        )


def refunds_to_resend(now: datetime, *, older_than: timedelta, limit: int = 50) -> list[Refund]:
    """Refunds asked of the payment provider with no answer (Stripe was unreachable or the
    shop stopped in between): the worker asks again with the same key."""
    return list(
        db.session.scalars(
            select(Refund)
            .where(
                Refund.status == RefundStatus.REQUESTED.value,
                Refund.reference.is_(None),
                Refund.created_at < now - older_than,
            )
            .order_by(Refund.id)
            .limit(limit)
        )
    )
