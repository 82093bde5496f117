"""Card payments: start a Checkout Session for an order, confirm it, close it, apply
Stripe's events, refund.

Only the Checkout Session the shop created for an order moves that order. Each event id is
stored once, in the transaction of its effect, so a repeated event has no second effect and
an event whose handling failed is retried by Stripe. Stripe is never called while a lock is
held: the functions here that call it commit the work before them first (`before_stripe`).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from shop.extensions import db
from shop.orders import services as orders
from shop.orders.models import Order, OrderStatus, PaymentMethod, Refund, RefundStatus
from shop.payments import stripe_client
from shop.payments.models import StripeEvent
from shop.urls import external_url

log = logging.getLogger(__name__)
ACTOR = "stripe"


class Outcome(enum.Enum):
    """What bringing an order in line with Stripe did."""

    PAID = "paid"
    ALREADY_PAID = "already paid"
    MISMATCH = "payment flagged: amount or currency mismatch"
    UNFULFILLABLE = "paid after release, stock gone: flagged for a refund"
    PROCESSING = "payment processing"
    RELEASED = "released"
    OPEN = "session still open"
    NO_CHANGE = "no change"
    NOT_OURS = "not the order's session"
    REFUND_RECORDED = "refund recorded"
    NO_ORDER = "no order for this object"
    DUPLICATE = "duplicate"
    UNHANDLED = "unhandled type"


def before_stripe() -> None:
    """Commit the work so far: Stripe is never called inside a transaction, so no lock
    is held (and no SQLite write lock kept) while it answers, however slowly."""
    db.session.commit()


_PAYMENT_OUTCOMES = {
    orders.PaymentOutcome.PAID: Outcome.PAID,
    orders.PaymentOutcome.ALREADY_PAID: Outcome.ALREADY_PAID,
    orders.PaymentOutcome.MISMATCH: Outcome.MISMATCH,
    orders.PaymentOutcome.UNFULFILLABLE: Outcome.UNFULFILLABLE,
}


def start_checkout(order: Order) -> str:
    """Create (or find again, by idempotency key) the order's Checkout Session; its URL."""
    assert order.reserved_until is not None and order.number is not None
    request = stripe_client.CheckoutRequest(
        order_id=order.id,
        order_number=order.number,
        currency=order.currency,
        lines=[
            stripe_client.CheckoutLine(
                name=line.name,
                description=f"SKU {line.sku}",
                unit_amount=line.unit_amount,
                quantity=line.quantity,
            )
            for line in order.lines
        ],
        shipping_amount=order.shipping_amount,
        tax_amount=order.tax_amount,
        tax_label=order.tax_label,
        email=order.email,
        success_url=external_url("checkout.success") + "?session_id={CHECKOUT_SESSION_ID}",
        cancel_url=external_url("checkout.cancel", order=order.token),
        expires_at=order.reserved_until,
        idempotency_key=f"checkout-{order.id}-{order.token[:16]}",
    )
    state = stripe_client.create_checkout_session(request)
    if state.url is None:
        raise stripe_client.StripeError("Checkout Session without a URL")
    order.stripe_session_id = state.id
    order.stripe_checkout_url = state.url
    orders.note(order, "checkout session", actor=ACTOR, text=state.id)
    db.session.flush()
    return state.url


def start_or_release(order: Order, *, after_release: Callable[[Order], None] | None = None) -> str:
    """The URL of the order's Checkout Session (made now, or found again by its key).

    When Stripe cannot make it, nothing may stay reserved: the order is released (and
    `after_release` called, for the quote it came from), committed, and the StripeError
    raised again. Only when another request is making this very page right now (Stripe
    says its key is in use) is nothing released: that page stands.
    """
    try:
        return start_checkout(order)
    except stripe_client.StripeError as exc:
        db.session.rollback()
        if stripe_client.key_in_use(exc):
            raise
        log.error("order %s: Stripe Checkout could not be started: %s", order.number, exc)
        orders.release(
            order,
            status=OrderStatus.CANCELLED,
            actor="shop",
            reason=f"card payment could not be started: {type(exc).__name__}",
        )
        if after_release is not None:
            after_release(order)
        db.session.commit()
        raise


def apply_session(order: Order, state: stripe_client.SessionState, *, actor: str) -> Outcome:
    """Bring the order in line with its own Checkout Session (any other session: NOT_OURS)."""
    if not order.stripe_session_id or state.id != order.stripe_session_id:
        return Outcome.NOT_OURS
    if state.status == "complete" and state.payment_status in ("paid", "no_payment_required"):
        made = orders.mark_paid(
            order,
            amount=state.amount_total or 0,
            currency=state.currency or "",
            actor=actor,
            payment_intent=state.payment_intent,
        )
        return _PAYMENT_OUTCOMES[made]
    if state.status == "complete":  # a delayed payment method: wait for its outcome
        started = orders.mark_processing(order, actor=actor, payment_intent=state.payment_intent)
        return Outcome.PROCESSING if started else Outcome.NO_CHANGE
    if state.status == "expired":
        released = orders.release(
            order, status=OrderStatus.EXPIRED, actor=actor, reason="checkout session expired"
        )
        return Outcome.RELEASED if released else Outcome.NO_CHANGE
    return Outcome.OPEN


def confirm_return(session_id: str) -> Order | None:
    """The buyer came back from Stripe: look the session up and apply it (idempotent)."""
    if not session_id.startswith("cs_") or len(session_id) > 255:
        return None
    order: Order | None = db.session.scalar(
        select(Order).where(Order.stripe_session_id == session_id)
    )
    if order is None:
        return None
    state = stripe_client.retrieve_session(session_id)
    apply_session(order, state, actor="return page")
    return order


def close_checkout(order: Order, *, status: OrderStatus, actor: str, reason: str) -> Outcome:
    """Make sure the order's Checkout Session can no longer be paid, then release the order
    as `status`; when the buyer paid first, apply the payment instead.

    Stripe is asked first, outside any transaction (the caller's work is committed first):
    an open session is expired there. Raises StripeError when Stripe cannot confirm that
    the session is closed: then the order stays as it is.
    """
    if order.stripe_session_id:
        before_stripe()
        state = stripe_client.retrieve_session(order.stripe_session_id)
        if state.status == "open":
            try:
                state = stripe_client.expire_session(order.stripe_session_id)
            except stripe_client.InvalidRequest:
                # Completed between our two calls: Stripe refuses to expire it. Read it again.
                state = stripe_client.retrieve_session(order.stripe_session_id)
        if state.status == "complete":
            return apply_session(order, state, actor=actor)
        if state.status != "expired":
            raise stripe_client.StripeError(f"session {state.id} is still {state.status}")
    released = orders.release(order, status=status, actor=actor, reason=reason)
    return Outcome.RELEASED if released else Outcome.NO_CHANGE


# ---- Events ----------------------------------------------------------------------------------


def _order_for_session(obj: dict[str, Any]) -> Order | None:
    """The order whose Checkout Session this is: only the session id the shop stored."""
    session_id = obj.get("id")
    if not isinstance(session_id, str) or not session_id.startswith("cs_"):
        return None
    return db.session.scalar(select(Order).where(Order.stripe_session_id == session_id))


def _text(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _session_state(obj: dict[str, Any]) -> stripe_client.SessionState:
    return stripe_client.SessionState(
        id=str(obj.get("id")),
        status=_text(obj.get("status")),
        payment_status=str(obj.get("payment_status")),
        amount_total=_int(obj.get("amount_total")),
        currency=_text(obj.get("currency")),
        payment_intent=_text(obj.get("payment_intent")),
        client_reference_id=_text(obj.get("client_reference_id")),
        url=_text(obj.get("url")),
    )


def _on_session(obj: dict[str, Any]) -> tuple[Order | None, Outcome]:
    order = _order_for_session(obj)
    if order is None:
        return None, Outcome.NO_ORDER
    return order, apply_session(order, _session_state(obj), actor=ACTOR)


def _on_async_failed(obj: dict[str, Any]) -> tuple[Order | None, Outcome]:
    order = _order_for_session(obj)
    if order is None:
        return None, Outcome.NO_ORDER
    if order.status != OrderStatus.PAYMENT_PROCESSING:
        return order, Outcome.NO_CHANGE
    released = orders.release(
        order, status=OrderStatus.CANCELLED, actor=ACTOR, reason="delayed payment failed"
    )
    return order, Outcome.RELEASED if released else Outcome.NO_CHANGE


def _order_for_payment_intent(intent: Any) -> Order | None:
    intent_id = _text(intent)
    if intent_id is None:
        return None
    return db.session.scalar(select(Order).where(Order.stripe_payment_intent == intent_id))


def _report_refund(order: Order, refund: stripe_client.RefundState) -> bool:
    try:
        status = RefundStatus(refund.status)
    except ValueError:
        return False
    if status is RefundStatus.REQUESTED:
        return False
    return orders.refund_reported(
        order,
        reference=refund.id,
        amount=refund.amount,
        status=status,
        request_key=refund.request_key,
        actor=ACTOR,
    )


def _on_refund(obj: dict[str, Any]) -> tuple[Order | None, Outcome]:
    order = _order_for_payment_intent(obj.get("payment_intent"))
    refund = stripe_client.refund_state(obj)
    if order is None or refund is None:
        return order, Outcome.NO_ORDER
    return order, Outcome.REFUND_RECORDED if _report_refund(order, refund) else Outcome.NO_CHANGE


def _on_charge_refunded(obj: dict[str, Any]) -> tuple[Order | None, Outcome]:
    """A charge was refunded: Stripe's list of the payment's refunds is the truth."""
    order = _order_for_payment_intent(obj.get("payment_intent"))
    if order is None or not order.stripe_payment_intent:
        return order, Outcome.NO_ORDER
    changed = False
    for refund in stripe_client.list_refunds(order.stripe_payment_intent):
        changed = _report_refund(order, refund) or changed
    return order, Outcome.REFUND_RECORDED if changed else Outcome.NO_CHANGE


HANDLERS: dict[str, Callable[[dict[str, Any]], tuple[Order | None, Outcome]]] = {
    "checkout.session.completed": _on_session,
    "checkout.session.async_payment_succeeded": _on_session,
    "checkout.session.async_payment_failed": _on_async_failed,
    "checkout.session.expired": _on_session,
    "charge.refunded": _on_charge_refunded,
    "refund.created": _on_refund,
    "refund.updated": _on_refund,
    "refund.failed": _on_refund,
    "charge.refund.updated": _on_refund,
}


def handle_event(event: stripe_client.Event) -> Outcome:
    """Apply a verified event once; a repeat is acknowledged and changes nothing.

    The event row is written first and commits with the event's effect (the caller
    commits; no savepoint, which pysqlite would commit on its own). A second delivery of
    the same event waits on the row's unique key and is then found a duplicate, with its
    transaction rolled back. A handler that fails leaves no row, so Stripe's retry applies it.
    """
    if db.session.get(StripeEvent, event.id) is not None:
        log.info("stripe event %s (%s) seen before: ignored", event.id, event.type)
        return Outcome.DUPLICATE
    row = StripeEvent(id=event.id, type=event.type, created=event.created)
    db.session.add(row)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        log.info("stripe event %s (%s) delivered twice at once: ignored", event.id, event.type)
        return Outcome.DUPLICATE
    handler = HANDLERS.get(event.type)
    if handler is None:
        log.info("stripe event %s of unhandled type %s acknowledged", event.id, event.type)
        row.outcome = Outcome.UNHANDLED.value
        return Outcome.UNHANDLED
    order, outcome = handler(event.object)
    row.order_id = order.id if order else None
    row.outcome = outcome.value
    log.info("stripe event %s (%s): %s", event.id, event.type, outcome.value)
    db.session.flush()
    return outcome


# ---- The worker ------------------------------------------------------------------------------


def settle_lapsed_orders(now: datetime | None = None) -> dict[str, int]:
    """The worker's task: settle every open order whose reservation ran out.

    A card order's Checkout Session is closed at Stripe first (`close_checkout`): one paid
    after all is marked paid (a missed webhook), an open one is expired so it can no
    longer be paid, and then the stock goes back. A bank-transfer order past its days is
    released. Each order is claimed and committed on its own; one that fails (Stripe
    unreachable, not configured, any error) is retried after a backoff and never holds
    back the others.
    """
    now = now or datetime.now(UTC)
    counts = {"paid": 0, "released": 0, "failed": 0, "unchanged": 0}
    for order_id in orders.lapsed(now):
        order = _claim(order_id, now)
        if order is None:
            continue
        try:
            outcome = close_checkout(
                order,
                status=OrderStatus.EXPIRED,
                actor="worker",
                reason="reservation ran out unpaid",
            )
            db.session.commit()
        except Exception as exc:  # isolate each order: log, back off, go on
            db.session.rollback()
            counts["failed"] += 1
            _settle_failed(order_id, now, exc)
            continue
        key = {Outcome.PAID: "paid", Outcome.RELEASED: "released"}.get(outcome, "unchanged")
        counts[key] += 1
    return counts


def _claim(order_id: int, now: datetime) -> Order | None:
    """Lock one lapsed order for this worker, or None when another worker has it (PostgreSQL:
    SKIP LOCKED) or it is no longer due. The row lock is held until the next commit; the
    claim is then kept by the order's state, which settling changes."""
    query = select(Order).where(Order.id == order_id).with_for_update(skip_locked=True)
    order = db.session.scalars(query.execution_options(populate_existing=True)).first()
    if order is None or order.status not in (
        OrderStatus.PENDING_PAYMENT,
        OrderStatus.AWAITING_TRANSFER,
    ):
        db.session.rollback()
        return None
    order.settle_after = now + SETTLE_LEASE
    db.session.commit()  # the lease stands before Stripe is asked; other workers skip it
    return order


SETTLE_LEASE = timedelta(minutes=2)


def _settle_failed(order_id: int, now: datetime, exc: Exception) -> None:
    if isinstance(exc, stripe_client.NotConfigured):
        message = "card payment is not configured: cannot ask Stripe about the session"
    else:
        message = f"{type(exc).__name__}: {exc}"
    log.warning("settling order %s failed, retried later: %s", order_id, message)
    try:
        order = db.session.get(Order, order_id)
        if order is not None:
            orders.settle_failed(order, now, message)
            db.session.commit()
    except Exception:
        db.session.rollback()
        log.exception("could not record the failure of settling order %s", order_id)


REFUND_RESEND_AFTER = timedelta(minutes=2)


def resend_refunds(now: datetime | None = None) -> dict[str, int]:
    """The worker's task: ask Stripe again, with the same idempotency key, for refunds that
    got no answer, and book what it says. Stripe answers a repeat with the refund it made,
    so nothing is refunded twice."""
    now = now or datetime.now(UTC)
    counts = {"booked": 0, "refused": 0, "failed": 0}
    for refund in orders.refunds_to_resend(now, older_than=REFUND_RESEND_AFTER):
        refund_id = refund.id
        try:
            outcome = send_refund(refund, actor="worker")
            db.session.commit()
            counts["booked" if outcome else "refused"] += 1
        except stripe_client.RefundRefused:
            db.session.commit()
            counts["refused"] += 1
        except Exception as exc:
            db.session.rollback()
            counts["failed"] += 1
            log.warning("refund %s not sent again: %s", refund_id, exc)
    return counts


# ---- Refunds and cancellations for staff -------------------------------------------------


def send_refund(refund: Refund, *, actor: str) -> bool:
    """Have a refund held by `orders.request_refund` made, and book it.

    A card order is refunded through Stripe with the refund's request key as idempotency
    key, so asking twice refunds once; a bank-transfer order books a refund staff sent by
    bank. Returns False when it was booked before. Raises RefundRefused when Stripe
    declined (the refund is marked failed: commit) and StripeError when Stripe could not
    be reached (the refund stays held; the worker asks again).
    """
    order = refund.order
    if refund.status != RefundStatus.REQUESTED:
        return False
    if order.payment_method == PaymentMethod.BANK_TRANSFER:
        return orders.refund_made(
            refund,
            reference=f"bank transfer {refund.request_key}"[:255],
            status=RefundStatus.SUCCEEDED,
            actor=actor,
        )
    if not order.stripe_payment_intent:
        orders.refund_refused(refund, actor=actor, message="no Stripe payment on record")
        raise stripe_client.RefundRefused(
            f"Order {order.number} has no Stripe payment on record: refund it in Stripe's "
            "dashboard."
        )
    before_stripe()
    try:
        state = stripe_client.create_refund(
            order.stripe_payment_intent,
            refund.amount,
            idempotency_key=refund.request_key,
            metadata={
                "order_id": str(order.id),
                "order_number": order.number or "",
                "refund_request": refund.request_key,
            },
        )
    except stripe_client.RefundRefused as exc:
        orders.refund_refused(refund, actor=actor, message=str(exc))
        raise
    return orders.refund_made(
        refund, reference=state.id, status=RefundStatus(state.status), actor=actor
    )


def refund_key(order: Order, nonce: str) -> str:
    return f"refund-{order.id}-{nonce}"


class CancelOutcome(enum.Enum):
    CANCELLED = "cancelled"
    PAID_MEANWHILE = "paid meanwhile"


def cancel_order(
    order: Order, *, actor: str, reason: str, restock_all: bool, nonce: str
) -> CancelOutcome:
    """Cancel an order for staff.

    An open card order's Checkout Session is closed first, so it can no longer be paid; if
    the buyer paid meanwhile, the payment is applied and nothing is cancelled. A paid
    order not yet shipped is refunded in all that remains (as `send_refund` does) and
    cancelled once Stripe has taken the refund on; with `restock_all` every sold pack
    goes back into its lot. Raises as `send_refund` and `orders.request_refund` do, and
    changes nothing when Stripe cannot be reached.
    """
    if order.status == OrderStatus.PENDING_PAYMENT and order.stripe_session_id:
        outcome = close_checkout(order, status=OrderStatus.CANCELLED, actor=actor, reason=reason)
        if outcome is Outcome.RELEASED or outcome is Outcome.NO_CHANGE:
            return CancelOutcome.CANCELLED
        return CancelOutcome.PAID_MEANWHILE
    restock = orders.restockable(order) if restock_all else {}
    if order.status == OrderStatus.PAID and order.refundable > 0:
        refund = orders.request_refund(
            order,
            amount=order.refundable,
            restock=restock,
            request_key=refund_key(order, nonce),
            actor=actor,
            reason=reason,
            cancel=True,
        )
        send_refund(refund, actor=actor)
        return CancelOutcome.CANCELLED
    orders.cancel(order, actor=actor, reason=reason, restock=restock)
    return CancelOutcome.CANCELLED
