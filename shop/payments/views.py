"""`POST /stripe/webhook`: Stripe's events, signature checked, each applied once."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify, request
from werkzeug.wrappers import Response

from shop.extensions import db
from shop.payments import services, stripe_client

bp = Blueprint("payments", __name__)
log = logging.getLogger(__name__)


@bp.post("/stripe/webhook")
def webhook() -> tuple[Response, int]:
    payload = request.get_data(cache=False)
    try:
        event = stripe_client.verify_event(payload, request.headers.get("Stripe-Signature"))
    except stripe_client.NotConfigured:
        log.error("stripe webhook received but STRIPE_WEBHOOK_SECRET is not set")
        return jsonify({"error": "webhooks not configured"}), 400
    except stripe_client.SignatureError as exc:
        log.warning("stripe webhook refused: %s", exc)
        return jsonify({"error": "invalid signature"}), 400
    except (ValueError, UnicodeDecodeError) as exc:
        log.warning("stripe webhook refused: %s", exc)
        return jsonify({"error": f"malformed event: {exc}"}), 400
    try:
        outcome = services.handle_event(event)
    except stripe_client.StripeError as exc:
        db.session.rollback()  # not stored as seen: Stripe sends it again later
        log.warning("stripe event %s not applied, Stripe unreachable: %s", event.id, exc)
        return jsonify({"error": "try again later"}), 503
    db.session.commit()
    return jsonify({"received": True, "outcome": outcome.value}), 200
