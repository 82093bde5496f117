"""The one module that imports `stripe`: a configured StripeClient and typed calls."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import stripe
from flask import current_app
from stripe.params.checkout import SessionCreateParams

from shop.config import Settings

StripeError = stripe.StripeError
SignatureError = stripe.SignatureVerificationError
WEBHOOK_TOLERANCE_SECONDS = 300


class NotConfigured(RuntimeError):
    """Card payment needs STRIPE_SECRET_KEY (and STRIPE_WEBHOOK_SECRET for events)."""


def _settings() -> Settings:
    settings: Settings = current_app.config["SHOP_SETTINGS"]
    return settings


def configured() -> bool:
    return _settings().stripe_secret_key is not None


def client() -> stripe.StripeClient:
    """The app's StripeClient (retries on), made once per app."""
    existing = current_app.extensions.get("stripe_client")
    if isinstance(existing, stripe.StripeClient):
        return existing
    settings = _settings()
    if settings.stripe_secret_key is None:
        raise NotConfigured("STRIPE_SECRET_KEY is not set")
    base: dict[str, str] = {}
    if settings.stripe_api_base:
        base = {"api": settings.stripe_api_base}
    made = stripe.StripeClient(
        settings.stripe_secret_key,
        base_addresses=base,  # type: ignore[arg-type]
        max_network_retries=2,
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
    """A hosted Checkout Session for the order: price_data lines in cents, shipping as a
    shipping option, the order's id in client_reference_id and metadata."""
    params: SessionCreateParams = {
        "mode": "payment",
        "client_reference_id": str(request.order_id),
        "metadata": {"order_id": str(request.order_id), "order_number": request.order_number},
        "payment_intent_data": {
            "metadata": {"order_id": str(request.order_id), "order_number": request.order_number},
        },
        "customer_email": request.email,
        "line_items": [
            {
                "quantity": line.quantity,
                "price_data": {
                    "currency": request.currency,
                    "unit_amount": line.unit_amount,
                    "product_data": {"name": line.name, "description": line.description},
                },
            }
            for line in request.lines
        ],
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
    status: str | None
    charge_refunded: int  # the charge's refunded amount in all, this refund included


class RefundRefused(Exception):
    """Stripe answered and made no refund; the message is Stripe's, fit for staff."""


def create_refund(
    payment_intent: str, amount: int, *, idempotency_key: str, metadata: dict[str, str]
) -> RefundState:
    """Refund `amount` cents of a payment; the same key answers with the same refund, once.

    Raises RefundRefused when Stripe declines (more than remains, a key reused with other
    values, a refund that failed) and StripeError when Stripe cannot be reached.
    """
    try:
        refund = client().v1.refunds.create(
            {
                "payment_intent": payment_intent,
                "amount": amount,
                "metadata": metadata,
                "expand": ["charge"],
            },
            options={"idempotency_key": idempotency_key},
        )
    except (stripe.InvalidRequestError, stripe.IdempotencyError) as exc:
        raise RefundRefused(exc.user_message or str(exc)) from exc
    if refund.status not in ("succeeded", "pending"):
        raise RefundRefused(f"Stripe's refund {refund.id} is {refund.status}.")
    charge = refund.charge
    if isinstance(charge, str):
        refunded, _intent = charge_refunded_amount(charge)
    else:
        refunded = refund.amount if charge is None else charge.amount_refunded
    return RefundState(
        id=refund.id, amount=refund.amount, status=refund.status, charge_refunded=refunded
    )


def verify_event(payload: bytes, signature: str | None) -> dict[str, Any]:
    """The event as a dict, when the signature is Stripe's and recent; raises otherwise."""
    secret = _settings().stripe_webhook_secret
    if secret is None:
        raise NotConfigured("STRIPE_WEBHOOK_SECRET is not set")
    if not signature:
        raise ValueError("no Stripe-Signature header")
    stripe.WebhookSignature.verify_header(payload, signature, secret, WEBHOOK_TOLERANCE_SECONDS)
    event = json.loads(payload)
    if not isinstance(event, dict) or not isinstance(event.get("id"), str):
        raise ValueError("not a Stripe event")
    return event
