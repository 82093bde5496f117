"""The one module that imports `stripe`: a configured StripeClient and typed calls."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import stripe
from flask import current_app
from stripe._base_address import BaseAddresses
from stripe.params.checkout import SessionCreateParams, SessionCreateParamsLineItem

from shop.config import Settings

StripeError = stripe.StripeError
InvalidRequest = stripe.InvalidRequestError
SignatureError = stripe.SignatureVerificationError
WEBHOOK_TOLERANCE_SECONDS = 300
# Event timestamps the shop accepts: from Stripe's start to the year 9999.
_CREATED_RANGE = range(1_262_304_000, 253_402_300_800)


def key_in_use(exc: StripeError) -> bool:
    """Stripe refused the call because another one with its idempotency key is under way
    (HTTP 409 `idempotency_key_in_use`, which the SDK retries before giving up)."""
    code = exc.error.code if exc.error is not None else exc.code
    return code == "idempotency_key_in_use"


class NotConfigured(RuntimeError):
    """Card payment needs STRIPE_SECRET_KEY (and STRIPE_WEBHOOK_SECRET for events)."""


def _settings() -> Settings:
    settings: Settings = current_app.config["SHOP_SETTINGS"]
    return settings


def configured() -> bool:
    return _settings().card_payments


# Deadlines of every call to Stripe: connecting, waiting for its answer, and one retry (with
# the same idempotency key), so a call, a checkout with it, answers within 15 s.
CONNECT_TIMEOUT = 2.0
READ_TIMEOUT = 5.0
RETRIES = 1


def client() -> stripe.StripeClient:
    """The app's StripeClient (deadlines set, one retry), made once per app process."""
    existing = current_app.extensions.get("stripe_client")
    if isinstance(existing, stripe.StripeClient):
        return existing
    settings = _settings()
    if settings.stripe_secret_key is None:
        raise NotConfigured("STRIPE_SECRET_KEY is not set")
    base: BaseAddresses = {}
    if settings.stripe_api_base:
        base["api"] = settings.stripe_api_base
    made = stripe.StripeClient(
        settings.stripe_secret_key,
        base_addresses=base,
        http_client=stripe.RequestsClient(timeout=(CONNECT_TIMEOUT, READ_TIMEOUT)),
        max_network_retries=RETRIES,
    )
    current_app.extensions["stripe_client"] = made
    return made


@dataclass(frozen=True)
class CheckoutLine:
    name: str
    description: str
    unit_amount: int
    quantity: int


@dataclass(frozen=True)
class CheckoutRequest:
    order_id: int
    order_number: str
    currency: str
    lines: list[CheckoutLine]
    shipping_amount: int
    # The order's VAT (on goods and shipping), charged as a line of its own when above zero.
    tax_amount: int
    tax_label: str
    email: str
    success_url: str
    cancel_url: str
    expires_at: datetime
    idempotency_key: str


@dataclass(frozen=True)
class SessionState:
    """What the shop needs to know of a Checkout Session."""

    id: str
    status: str | None
    payment_status: str
    amount_total: int | None
    currency: str | None
    payment_intent: str | None
    client_reference_id: str | None
    url: str | None


def _state(session: stripe.checkout.Session) -> SessionState:
    intent = session.payment_intent
    intent_id = intent if isinstance(intent, str) or intent is None else intent.id
    return SessionState(
        id=session.id,
        status=session.status,
        payment_status=session.payment_status,
        amount_total=session.amount_total,
        currency=session.currency,
        payment_intent=intent_id,
        client_reference_id=session.client_reference_id,
        url=session.url,
    )


def create_checkout_session(request: CheckoutRequest) -> SessionState:
    """A hosted Checkout Session for the order: price_data lines in cents, the VAT as one
    more line ("VAT 19 % (Germany)"), shipping as a shipping option, the order's id in
    client_reference_id and metadata. Its amount_total is the order's gross total."""
    line_items: list[SessionCreateParamsLineItem] = [
        {
            "quantity": line.quantity,
            "price_data": {
                "currency": request.currency,
                "unit_amount": line.unit_amount,
                "product_data": {"name": line.name, "description": line.description},
            },
        }
        for line in request.lines
    ]
    if request.tax_amount > 0:
        line_items.append(
            {
                "quantity": 1,
                "price_data": {
                    "currency": request.currency,
                    "unit_amount": request.tax_amount,
                    "product_data": {"name": request.tax_label},
                },
            }
        )
    params: SessionCreateParams = {
        "mode": "payment",
        "client_reference_id": str(request.order_id),
        "metadata": {"order_id": str(request.order_id), "order_number": request.order_number},
        "payment_intent_data": {
            "metadata": {"order_id": str(request.order_id), "order_number": request.order_number},
        },
        "customer_email": request.email,
        "line_items": line_items,
        "shipping_options": [
            {
                "shipping_rate_data": {
                    "type": "fixed_amount",
                    "display_name": "Tracked courier",
                    "fixed_amount": {
                        "amount": request.shipping_amount,
                        "currency": request.currency,
                    },
                }
            }
        ],
        "success_url": request.success_url,
        "cancel_url": request.cancel_url,
        "expires_at": int(request.expires_at.timestamp()),
    }
    session = client().v1.checkout.sessions.create(
        params, options={"idempotency_key": request.idempotency_key}
    )
    return _state(session)


def retrieve_session(session_id: str) -> SessionState:
    return _state(client().v1.checkout.sessions.retrieve(session_id))


def expire_session(session_id: str) -> SessionState:
    return _state(client().v1.checkout.sessions.expire(session_id))


def charge_refunded_amount(charge_id: str) -> tuple[int, str | None]:
    """(cumulative refunded amount, payment intent id) of a charge."""
    charge = client().v1.charges.retrieve(charge_id)
    intent = charge.payment_intent
    intent_id = intent if isinstance(intent, str) or intent is None else intent.id
    return charge.amount_refunded, intent_id


@dataclass(frozen=True)
class RefundState:
    """What the shop needs to know of a refund Stripe made."""

    id: str
    amount: int
    status: str  # Stripe's: pending, succeeded, failed, canceled, requires_action
    request_key: str | None  # the shop's key, from the refund's metadata


def refund_state(obj: dict[str, Any]) -> RefundState | None:
    """A refund as an event or the API gives it; None when it is not a well-formed refund."""
    refund_id, amount, status = obj.get("id"), obj.get("amount"), obj.get("status")
    metadata = obj.get("metadata")
    key = metadata.get("refund_request") if isinstance(metadata, dict) else None
    if not isinstance(refund_id, str) or not refund_id.startswith("re_"):
        return None
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        return None
    return RefundState(
        id=refund_id,
        amount=amount,
        status=status if isinstance(status, str) else "",
        request_key=key if isinstance(key, str) else None,
    )


def list_refunds(payment_intent: str) -> list[RefundState]:
    """Every refund of a payment, as Stripe has them now."""
    found = []
    for refund in (
        client()
        .v1.refunds.list({"payment_intent": payment_intent, "limit": 100})
        .auto_paging_iter()
    ):
        state = refund_state(refund.to_dict())
        if state is not None:
            found.append(state)
    return found


class RefundRefused(Exception):
    """Stripe answered and made no refund; the message is Stripe's, fit for staff."""


def create_refund(
    payment_intent: str, amount: int, *, idempotency_key: str, metadata: dict[str, str]
) -> RefundState:
    """Refund `amount` cents of a payment; the same key answers with the same refund, once.

    Raises RefundRefused when Stripe declines (more than remains, a key reused with other
    values, a refund that failed at once) and StripeError when Stripe cannot be reached.
    """
    try:
        refund = client().v1.refunds.create(
            {"payment_intent": payment_intent, "amount": amount, "metadata": metadata},
            options={"idempotency_key": idempotency_key},
        )
    except (stripe.InvalidRequestError, stripe.IdempotencyError) as exc:
        raise RefundRefused(exc.user_message or str(exc)) from exc
    if refund.status not in ("succeeded", "pending"):
        raise RefundRefused(f"Stripe's refund {refund.id} is {refund.status}.")
    return RefundState(
        id=refund.id,
        amount=refund.amount,
        status=refund.status,
        request_key=metadata.get("refund_request"),
    )


@dataclass(frozen=True)
class Event:
    """A verified Stripe event, its shape checked: what the handlers may rely on."""

    id: str
    type: str
    created: datetime
    object: dict[str, Any]


class MalformedEvent(ValueError):
    """A correctly signed event that is not shaped as Stripe's events are."""


def verify_event(payload: bytes, signature: str | None) -> Event:
    """The event, when the signature is Stripe's and recent and the event well formed.

    Raises NotConfigured without a webhook secret, SignatureError for a bad or old
    signature, MalformedEvent (a ValueError) for anything that is not a Stripe event.
    """
    secret = _settings().stripe_webhook_secret
    if secret is None:
        raise NotConfigured("STRIPE_WEBHOOK_SECRET is not set")
    if not signature:
        raise MalformedEvent("no Stripe-Signature header")
    stripe.WebhookSignature.verify_header(payload, signature, secret, WEBHOOK_TOLERANCE_SECONDS)
    try:
        event = json.loads(payload)
    except ValueError as exc:
        raise MalformedEvent("the body is not JSON") from exc
    if not isinstance(event, dict):
        raise MalformedEvent("the event is not an object")
    event_id, event_type, created = event.get("id"), event.get("type"), event.get("created")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(event_id, str) or not event_id.startswith("evt_") or len(event_id) > 255:
        raise MalformedEvent("the event has no Stripe event id")
    if not isinstance(event_type, str) or not 0 < len(event_type) <= 100:
        raise MalformedEvent("the event has no type")
    if not isinstance(created, int) or isinstance(created, bool) or created not in _CREATED_RANGE:
        raise MalformedEvent("the event's created time is not a timestamp")
    if not isinstance(obj, dict):
        raise MalformedEvent("the event carries no data.object")
    return Event(
        id=event_id,
        type=event_type,
        created=datetime.fromtimestamp(created, UTC),
        object=obj,
    )
