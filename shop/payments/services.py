"""Card payments: start a Checkout Session for an order, confirm it, apply Stripe's events.

Each event id is stored once (a unique key), so a repeated event has no second effect;
order state only moves forward, so events arriving out of order change nothing they
should not.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from flask import url_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from shop.extensions import db
from shop.orders import services as orders
from shop.orders.models import Order, OrderStatus, PaymentMethod
from shop.payments import stripe_client
from shop.payments.models import StripeEvent

log = logging.getLogger(__name__)
ACTOR = "stripe"


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
        email=order.email,
        success_url=url_for("checkout.success", _external=True)
        + "?session_id={CHECKOUT_SESSION_ID}",
        cancel_url=url_for("checkout.cancel", order=order.token, _external=True),
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


def apply_session(order: Order, state: stripe_client.SessionState, *, actor: str) -> str:
    """Bring the order in line with its Checkout Session; what happened, in words."""
    if state.status == "complete" and state.payment_status in ("paid", "no_payment_required"):
        made = orders.mark_paid(
            order,
            amount=state.amount_total or 0,
            currency=state.currency or "",
            actor=actor,
            payment_intent=state.payment_intent,
        )
        return "paid" if made else "already paid or flagged"
    if state.status == "complete":  # a delayed payment method: wait for its outcome
        orders.lock()
        if order.status == OrderStatus.PENDING_PAYMENT:
            order.status = OrderStatus.PAYMENT_PROCESSING.value
            order.reserved_until = None
            orders.note(order, "payment processing", actor=actor)
            db.session.flush()
            return "processing"
        return "no change"
    if state.status == "expired":
        released = orders.release(
            order, status=OrderStatus.EXPIRED, actor=actor, reason="checkout session expired"
        )
        return "released" if released else "no change"
    return "open"


def confirm_return(session_id: str) -> Order | None:
    """The buyer came back from Stripe: look the session up and apply it (idempotent)."""
    if not session_id.startswith("cs_") or len(session_id) > 255:
        return None
    order: Order | None = db.session.scalar(
        select(Order).where(Order.stripe_session_id == session_id)
    )
    if order is None:
        return None
    apply_session(order, stripe_client.retrieve_session(session_id), actor="return page")
    return order


def cancel_checkout(order: Order) -> None:
    """The buyer left Stripe's page: the session is expired so it cannot be paid any more,
    then the reservation is released (unless the payment got there first)."""
    if order.stripe_session_id and order.status == OrderStatus.PENDING_PAYMENT:
        state = stripe_client.retrieve_session(order.stripe_session_id)
        if state.status == "open":
            state = stripe_client.expire_session(order.stripe_session_id)
        if state.status == "complete":
            apply_session(order, state, actor="cancel page")
            return
    orders.release(
        order, status=OrderStatus.CANCELLED, actor="buyer", reason="left the card payment page"
    )


def _order_for_session(obj: dict[str, Any]) -> Order | None:
    session_id = obj.get("id")
    order = None
    if isinstance(session_id, str):
        order = db.session.scalar(select(Order).where(Order.stripe_session_id == session_id))
    reference = obj.get("client_reference_id") or (obj.get("metadata") or {}).get("order_id")
    if order is None and isinstance(reference, str) and reference.isdigit():
        order = db.session.get(Order, int(reference))
    return order


def _session_state(obj: dict[str, Any]) -> stripe_client.SessionState:
    intent = obj.get("payment_intent")
    if isinstance(intent, dict):
        intent = intent.get("id")
    return stripe_client.SessionState(
        id=str(obj.get("id")),
        status=obj.get("status"),
        payment_status=str(obj.get("payment_status")),
        amount_total=obj.get("amount_total"),
        currency=obj.get("currency"),
        payment_intent=intent if isinstance(intent, str) else None,
        client_reference_id=obj.get("client_reference_id"),
        url=obj.get("url"),
    )


def _on_session(obj: dict[str, Any]) -> tuple[Order | None, str]:
    order = _order_for_session(obj)
    if order is None:
        return None, "no order for this session"
    return order, apply_session(order, _session_state(obj), actor=ACTOR)


def _on_async_failed(obj: dict[str, Any]) -> tuple[Order | None, str]:
    order = _order_for_session(obj)
    if order is None:
        return None, "no order for this session"
    released = orders.release(
        order, status=OrderStatus.CANCELLED, actor=ACTOR, reason="delayed payment failed"
    )
    return order, "released" if released else "no change"


def _order_for_payment_intent(intent: Any) -> Order | None:
    if isinstance(intent, dict):
        intent = intent.get("id")
    if not isinstance(intent, str):
        return None
    return db.session.scalar(select(Order).where(Order.stripe_payment_intent == intent))


def _on_charge_refunded(obj: dict[str, Any]) -> tuple[Order | None, str]:
    order = _order_for_payment_intent(obj.get("payment_intent"))
    if order is None:
        return None, "no order for this charge"
    changed = orders.record_refund(
        order,
        refunded_total=int(obj.get("amount_refunded") or 0),
        actor=ACTOR,
        source="charge.refunded",
    )
    return order, "refund recorded" if changed else "no change"


def _on_refund(obj: dict[str, Any]) -> tuple[Order | None, str]:
    order = _order_for_payment_intent(obj.get("payment_intent"))
    if order is None:
        return None, "no order for this refund"
    if obj.get("status") != "succeeded" or not isinstance(obj.get("charge"), str):
        return order, f"refund {obj.get('status')}: no change"
    refunded, _intent = stripe_client.charge_refunded_amount(obj["charge"])
    changed = orders.record_refund(
        order, refunded_total=refunded, actor=ACTOR, source=f"refund {obj.get('id')}"
    )
    return order, "refund recorded" if changed else "no change"


HANDLERS: dict[str, Callable[[dict[str, Any]], tuple[Order | None, str]]] = {
    "checkout.session.completed": _on_session,
    "checkout.session.async_payment_succeeded": _on_session,
    "checkout.session.async_payment_failed": _on_async_failed,
    "checkout.session.expired": _on_session,
    "charge.refunded": _on_charge_refunded,
    "refund.created": _on_refund,
    "refund.updated": _on_refund,
    "charge.refund.updated": _on_refund,
}


def handle_event(event: dict[str, Any]) -> str:
    """Apply a verified event once; a repeat is acknowledged and changes nothing.

    The event row and its effect commit together (the caller commits), so an event whose
    handling failed is not marked as seen and Stripe's retry gets another chance.
    """
    event_id, event_type = str(event["id"]), str(event.get("type", ""))
    created = datetime.fromtimestamp(int(event.get("created") or 0), UTC)
    row = StripeEvent(id=event_id, type=event_type, created=created)
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:
        log.info("stripe event %s (%s) seen before: ignored", event_id, event_type)
        return "duplicate"
    handler = HANDLERS.get(event_type)
    if handler is None:
        log.info("stripe event %s of unhandled type %s acknowledged", event_id, event_type)
        row.outcome = "unhandled type"
        return row.outcome
    obj = (event.get("data") or {}).get("object") or {}
    order, outcome = handler(obj)
    row.order_id = order.id if order else None
    row.outcome = outcome
    log.info("stripe event %s (%s): %s", event_id, event_type, outcome)
    db.session.flush()
    return outcome


def settle_lapsed_orders() -> dict[str, int]:
    """The worker's task: settle every order whose reservation ran out."""
    return settle_lapsed(orders.lapsed())


def settle_lapsed(orders_due: list[Order]) -> dict[str, int]:
    """For the worker: orders whose reservation ran out without word from Stripe.

    A card order's session is looked up first: one that was paid after all is marked
    paid (a missed webhook), an open one is expired so it can no longer be paid, and the
    stock goes back. A bank-transfer order past its days is released. Each order is
    committed on its own, so one Stripe failure does not hold back the others.
    """
    counts = {"paid": 0, "released": 0, "failed": 0}
    for order in orders_due:
        try:
            if order.payment_method == "card" and order.stripe_session_id:
                state = stripe_client.retrieve_session(order.stripe_session_id)
                if state.status == "open":
                    state = stripe_client.expire_session(order.stripe_session_id)
                outcome = apply_session(order, state, actor="worker")
                if outcome in ("paid", "released"):
                    counts[outcome] += 1
                    db.session.commit()
                    continue
            if orders.release(
                order,
                status=OrderStatus.EXPIRED,
                actor="worker",
                reason="reservation ran out unpaid",
            ):
                counts["released"] += 1
            db.session.commit()
        except stripe_client.StripeError as exc:
            db.session.rollback()
            counts["failed"] += 1
            log.warning(
                "order %s: Stripe unreachable, retried on the next run: %s", order.number, exc
            )
    return counts


def refund(
    order: Order,
    *,
    amount: int,
    restock: Mapping[int, int],
    nonce: str,
    actor: str,
    reason: str = "",
    cancel: bool = False,
) -> bool:
    """Refund `amount` cents of a paid order and put the chosen packs back into stock.

    A card order is refunded through Stripe with an idempotency key made of the order, the
    form's `nonce` and the amount, so a form sent twice refunds once, and the refund is
    booked from Stripe's answer at once (the webhooks that follow find nothing new). A
    bank-transfer order books a refund staff sent by bank. With `cancel`, a paid order not
    shipped is refunded in all that remains and cancelled.

    Returns False when this very refund was booked before. Raises ValidationError or
    orders.ActionRefused before anything is sent, RefundRefused when Stripe declined and
    StripeError when Stripe could not be reached: then nothing is booked.
    """
    orders.check_refund(order, amount=amount, restock=restock, cancel=cancel)
    if order.payment_method == PaymentMethod.BANK_TRANSFER:
        made = orders.RefundMade(
            reference=f"bank transfer {nonce}", amount=amount, refunded_total=None
        )
    else:
        if not order.stripe_payment_intent:
            raise orders.ActionRefused(
                f"Order {order.number} has no Stripe payment on record: refund it in Stripe's "
                "dashboard."
            )
        state = stripe_client.create_refund(
            order.stripe_payment_intent,
            amount,
            idempotency_key=f"refund-{order.id}-{nonce}-{amount}",
            metadata={"order_id": str(order.id), "order_number": order.number or ""},
        )
        made = orders.RefundMade(
            reference=state.id, amount=state.amount, refunded_total=state.charge_refunded
        )
    return orders.book_refund(
        order, made, restock=restock, actor=actor, reason=reason, cancel=cancel
    )


def cancel_order(
    order: Order, *, actor: str, reason: str, restock_all: bool, nonce: str
) -> Literal["cancelled", "paid meanwhile"]:
    """Cancel an order for staff.

    An open card order's Checkout Session is expired first, so it can no longer be paid;
    if the buyer paid meanwhile, the payment is applied and nothing is cancelled. A paid
    order not yet shipped is refunded in all that remains (as `refund` does) and
    cancelled; with `restock_all` every sold pack goes back into its lot. Raises as
    `refund` does, and changes nothing when Stripe cannot be reached.
    """
    if order.status == OrderStatus.PENDING_PAYMENT and order.stripe_session_id:
        state = stripe_client.retrieve_session(order.stripe_session_id)
        if state.status == "open":
            state = stripe_client.expire_session(order.stripe_session_id)
        if state.status == "complete":
            apply_session(order, state, actor=actor)
            return "paid meanwhile"
    restock = orders.restockable(order) if restock_all else {}
    if order.status == OrderStatus.PAID and not order.fully_refunded:
        refund(
            order,
            amount=order.total - order.amount_refunded,
            restock=restock,
            nonce=nonce,
            actor=actor,
            reason=reason,
            cancel=True,
        )
    else:
        orders.cancel(order, actor=actor, reason=reason, restock=restock)
    return "cancelled"
