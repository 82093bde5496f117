"""Checkout through the Stripe stand-in: reservation, payment once, events, refusals."""

from __future__ import annotations

import logging
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from shop.extensions import db
from shop.inventory.models import Lot, StockMovement
from shop.mail.models import OutboxEmail
from shop.orders.models import Order
from tests.conftest import WEBHOOK_SECRET
from tests.factories import make_lot, make_product, make_variant
from tests.flows import add_to_cart, checkout, lots, send_event
from tests.flows import order as only_order
from tests.stripe_standin import StripeStandIn

CONTACT = {
    "email": "Buyer@Clinic.example",
    "contact_name": "Dr Ana Ruiz",
    "company": "Clinica Ruiz",
    "phone": "+34 600 000 000",
    "shipping_address": "Calle Mayor 1\n28013 Madrid",
    "country": "ES",
    "payment_method": "card",
}


@pytest.fixture
def stocked(stripe_app: Flask) -> Flask:
    with stripe_app.app_context():
        variant = make_variant(
            product=make_product(slug="meso-32", name="Meso Needle 32G"),
            sku="MN-32G-4MM-100",
            prices=((1, 3000), (10, 2760)),
        )
        make_lot(variant, quantity=5, expires_in_days=600, lot_number="EARLY")
        make_lot(variant, quantity=30, expires_in_days=1200, lot_number="LATE")
        make_lot(variant, quantity=50, expires_in_days=100, lot_number="SHORT")
        db.session.commit()
    return stripe_app


def _checkout(client: FlaskClient, **changes: str):  # type: ignore[no-untyped-def]
    return checkout(client, **{**CONTACT, **changes})


def test_checkout_reserves_fefo_and_builds_the_session_from_the_order(
    stocked: Flask, client: FlaskClient, stripe_standin: StripeStandIn
) -> None:
    add_to_cart(client, 12)
    response = _checkout(client, unit_amount="1", price="1")  # tampering is ignored
    assert response.status_code == 303
    assert response.location.startswith(stripe_standin.base_url + "/pay/cs_")
    order = only_order(stocked)
    assert order.status == "pending_payment"
    # VAT for Spain (21 %): 69.552 → 69.55 on the line, 3.15 on shipping.
    assert (order.subtotal, order.shipping_amount, order.tax_amount) == (33120, 1500, 7270)
    assert (order.tax_treatment, order.tax_rate, order.total) == ("eu_distance", 2100, 41890)
    # First expiry first out, never the short-dated lot.
    assert lots(stocked) == {"EARLY": (5, 5), "LATE": (30, 7), "SHORT": (50, 0)}
    session = stripe_standin.sessions[order.stripe_session_id]
    params = session.params
    assert params["client_reference_id"] == str(order.id)
    assert params["metadata"]["order_id"] == str(order.id)
    item = params["line_items"][0]
    assert item["price_data"]["unit_amount"] == "2760" and item["quantity"] == "12"
    rate = params["shipping_options"][0]["shipping_rate_data"]
    assert rate["fixed_amount"]["amount"] == "1500"
    vat = params["line_items"][1]
    assert vat["price_data"]["product_data"]["name"] == "VAT 21 % (Spain)"
    assert vat["price_data"]["unit_amount"] == "7270" and vat["quantity"] == "1"
    assert session["amount_total"] == 41890 == order.total
    reserved_until = order.reserved_until.replace(tzinfo=UTC)
    assert int(params["expires_at"]) == int(reserved_until.timestamp())
    create = [r for r in stripe_standin.requests if r.path == "/v1/checkout/sessions"]
    assert create[0].headers.get("Idempotency-Key", "").startswith(f"checkout-{order.id}-")


def test_pressing_checkout_twice_makes_one_order_and_one_reservation(
    stocked: Flask, client: FlaskClient, stripe_standin: StripeStandIn
) -> None:
    add_to_cart(client, 12)
    first = _checkout(client)
    second = _checkout(client)
    assert first.location == second.location
    only_order(stocked)
    assert lots(stocked)["LATE"] == (30, 7)
    assert len(stripe_standin.sessions) == 1


def test_paid_once_whether_webhook_or_return_page_comes_first(
    stocked: Flask, client: FlaskClient, stripe_standin: StripeStandIn
) -> None:
    add_to_cart(client, 12)
    _checkout(client)
    order = only_order(stocked)
    paid = stripe_standin.complete(order.stripe_session_id)
    event = stripe_standin.event("checkout.session.completed", paid)
    assert send_event(client, event).status_code == 200
    response = client.get(f"/checkout/success?session_id={order.stripe_session_id}")
    assert response.status_code == 303
    page = client.get(response.location).get_data(as_text=True)
    assert "Paid" in page and order.number in page
    assert "EARLY (" in page and "LATE (" in page
    assert "$346.20" in page
    assert send_event(client, event).get_json()["outcome"] == "duplicate"
    assert lots(stocked) == {"EARLY": (0, 0), "LATE": (23, 0), "SHORT": (50, 0)}
    with stocked.app_context():
        assert (
            db.session.scalar(
                select(func.count()).select_from(StockMovement).where(StockMovement.kind == "sold")
            )
            == 2
        )
        mails = db.session.scalars(select(OutboxEmail)).all()
        assert [m.to for m in mails] == ["buyer@clinic.example"]
        assert f"Order {order.number} confirmed" in mails[0].subject
        assert "lot EARLY" in mails[0].body_text
    assert "Your cart is empty" in client.get("/cart").get_data(as_text=True)


def test_return_page_first_then_webhook(
    stocked: Flask, client: FlaskClient, stripe_standin: StripeStandIn
) -> None:
    add_to_cart(client, 3)
    _checkout(client)
    order = only_order(stocked)
    paid = stripe_standin.complete(order.stripe_session_id)
    client.get(f"/checkout/success?session_id={order.stripe_session_id}")
    response = send_event(client, stripe_standin.event("checkout.session.completed", paid))
    assert response.get_json()["outcome"] == "already paid"
    assert only_order(stocked).status == "paid"
    assert lots(stocked)["EARLY"] == (2, 0)


def test_forged_missing_and_stale_signatures_are_refused(
    stocked: Flask, client: FlaskClient, stripe_standin: StripeStandIn
) -> None:
    add_to_cart(client, 3)
    _checkout(client)
    order = only_order(stocked)
    event = stripe_standin.event(
        "checkout.session.completed", stripe_standin.complete(order.stripe_session_id)
    )
    body, headers = StripeStandIn.webhook_request(event, "whsec_not_ours")
    assert client.post("/stripe/webhook", data=body, headers=headers).status_code == 400
    assert (
        client.post(
            "/stripe/webhook", data=body, headers={"Content-Type": "application/json"}
        ).status_code
        == 400
    )
    old = int(time.time()) - 600
    assert send_event(client, event, timestamp=old).status_code == 400
    tampered_body = body.replace(b'"amount_total": 10500', b'"amount_total": 1')
    good = StripeStandIn.sign(body, WEBHOOK_SECRET)
    assert (
        client.post(
            "/stripe/webhook", data=tampered_body + b" ", headers={"Stripe-Signature": good}
        ).status_code
        == 400
    )
    assert only_order(stocked).status == "pending_payment"


def test_unknown_event_type_is_acknowledged(
    stocked: Flask, client: FlaskClient, stripe_standin: StripeStandIn, caplog
) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO, logger="shop")
    response = send_event(client, stripe_standin.event("customer.created", {"id": "cus_1"}))
    assert response.status_code == 200
    assert "unhandled type customer.created" in caplog.text


def test_amount_mismatch_is_flagged_and_not_fulfilled(
    stocked: Flask, client: FlaskClient, stripe_standin: StripeStandIn
) -> None:
    add_to_cart(client, 3)
    _checkout(client)
    order = only_order(stocked)
    paid = stripe_standin.complete(order.stripe_session_id, amount_total=100)
    send_event(client, stripe_standin.event("checkout.session.completed", paid))
    flagged = only_order(stocked)
    assert flagged.status == "pending_payment" and flagged.needs_attention
    assert "does not match" in flagged.attention_reason
    assert lots(stocked)["EARLY"] == (5, 3)  # nothing sold


def test_expired_event_after_payment_changes_nothing(
    stocked: Flask, client: FlaskClient, stripe_standin: StripeStandIn
) -> None:
    add_to_cart(client, 3)
    _checkout(client)
    order = only_order(stocked)
    paid = stripe_standin.complete(order.stripe_session_id)
    send_event(client, stripe_standin.event("checkout.session.completed", paid))
    expired = {**paid, "status": "expired"}
    assert (
        send_event(client, stripe_standin.event("checkout.session.expired", expired)).status_code
        == 200
    )
    assert only_order(stocked).status == "paid"


def test_late_payment_for_a_released_order_is_honoured_or_flagged(
    stocked: Flask, client: FlaskClient, stripe_standin: StripeStandIn
) -> None:
    add_to_cart(client, 3)
    _checkout(client)
    order = only_order(stocked)
    session = stripe_standin.session_object(order.stripe_session_id)
    send_event(
        client, stripe_standin.event("checkout.session.expired", {**session, "status": "expired"})
    )
    assert only_order(stocked).status == "expired"
    assert lots(stocked)["EARLY"] == (5, 0)
    paid = stripe_standin.complete(order.stripe_session_id)
    send_event(client, stripe_standin.event("checkout.session.completed", paid))
    honoured = only_order(stocked)
    assert honoured.status == "paid" and not honoured.needs_attention
    assert lots(stocked)["EARLY"] == (2, 0)


def test_late_payment_without_stock_is_recorded_flagged_and_never_confirmed(
    stocked: Flask, client: FlaskClient, stripe_standin: StripeStandIn
) -> None:
    """Issue 9.12: a late payment whose stock is gone is not "confirmed: Paid"."""
    add_to_cart(client, 35)
    _checkout(client)
    order = only_order(stocked)
    session = stripe_standin.session_object(order.stripe_session_id)
    send_event(
        client, stripe_standin.event("checkout.session.expired", {**session, "status": "expired"})
    )
    with stocked.app_context():  # someone else takes the stock meanwhile
        for lot in db.session.scalars(select(Lot).where(Lot.lot_number != "SHORT")):
            lot.reserved = lot.quantity
        db.session.commit()
    paid = stripe_standin.complete(order.stripe_session_id)
    send_event(client, stripe_standin.event("checkout.session.completed", paid))
    flagged = only_order(stocked)
    assert flagged.status == "expired" and flagged.needs_attention
    assert flagged.amount_paid == flagged.total and flagged.paid_at is not None
    assert "refund" in flagged.attention_reason
    with stocked.app_context():
        subjects = [m.subject for m in db.session.scalars(select(OutboxEmail))]
    assert not any("confirmed" in s for s in subjects)
    assert f"Order {order.number}: payment received, refund to follow" in subjects
    page = client.get(f"/orders/{order.token}").get_data(as_text=True)
    assert "cannot ship it" in page and "refunded in full" in page


def test_stripe_down_during_checkout_leaves_nothing_reserved(
    stocked: Flask, client: FlaskClient, stripe_standin: StripeStandIn
) -> None:
    add_to_cart(client, 3)
    stripe_standin.down = True
    response = _checkout(client)
    assert response.status_code == 503
    html = response.get_data(as_text=True)
    assert "Card payment is unavailable right now, so nothing was reserved or charged" in html
    assert 'value="Dr Ana Ruiz"' in html  # nothing typed is lost
    assert lots(stocked)["EARLY"] == (5, 0)
    assert only_order(stocked).status == "cancelled"
    stripe_standin.down = False
    assert _checkout(client).status_code == 303


def test_cancel_expires_the_session_and_releases_stock(
    stocked: Flask, client: FlaskClient, stripe_standin: StripeStandIn
) -> None:
    add_to_cart(client, 3)
    _checkout(client)
    order = only_order(stocked)
    response = client.get(f"/checkout/cancel?order={order.token}")
    assert response.status_code == 303 and response.location.endswith("/cart")
    page = client.get("/cart").get_data(as_text=True)
    assert "Payment cancelled: nothing was charged" in page and "MN-32G-4MM-100" in page
    assert stripe_standin.sessions[order.stripe_session_id]["status"] == "expired"
    assert lots(stocked)["EARLY"] == (5, 0)
    with pytest.raises(ValueError):
        stripe_standin.complete(order.stripe_session_id)


def test_worker_settles_reservations_whose_session_lapsed(
    stocked: Flask, client: FlaskClient, stripe_standin: StripeStandIn
) -> None:
    from shop.payments.services import settle_lapsed_orders

    add_to_cart(client, 3)
    _checkout(client)
    with stocked.app_context():
        order = db.session.scalars(select(Order)).one()
        order.reserved_until = datetime.now(UTC) - timedelta(minutes=1)
        db.session.commit()
        assert settle_lapsed_orders() == {"paid": 0, "released": 1, "failed": 0, "unchanged": 0}
    assert only_order(stocked).status == "expired"
    assert lots(stocked)["EARLY"] == (5, 0)


def test_worker_finds_a_payment_whose_webhook_never_came(
    stocked: Flask, client: FlaskClient, stripe_standin: StripeStandIn
) -> None:
    from shop.payments.services import settle_lapsed_orders

    add_to_cart(client, 3)
    _checkout(client)
    order = only_order(stocked)
    stripe_standin.complete(order.stripe_session_id)
    with stocked.app_context():
        row = db.session.get(Order, order.id)
        row.reserved_until = datetime.now(UTC) - timedelta(minutes=1)
        db.session.commit()
        assert settle_lapsed_orders()["paid"] == 1
    assert only_order(stocked).status == "paid"


def test_refunds_follow_refund_events_and_charge_refunded(
    stocked: Flask, client: FlaskClient, stripe_standin: StripeStandIn
) -> None:
    add_to_cart(client, 3)
    _checkout(client)
    order = only_order(stocked)
    paid = stripe_standin.complete(order.stripe_session_id)
    send_event(client, stripe_standin.event("checkout.session.completed", paid))
    refund = stripe_standin.refund_object(order.stripe_session_id, amount=2000, record=True)
    send_event(client, stripe_standin.event("refund.created", refund))
    assert only_order(stocked).amount_refunded == 2000
    # An older charge.refunded arriving late never lowers the amount.
    send_event(
        client,
        stripe_standin.event(
            "charge.refunded",
            stripe_standin.charge_object(order.stripe_session_id, amount_refunded=1000),
        ),
    )
    assert only_order(stocked).amount_refunded == 2000
    second = stripe_standin.refund_object(order.stripe_session_id, amount=500, record=True)
    send_event(
        client,
        stripe_standin.event(
            "charge.refunded", stripe_standin.charge_object(order.stripe_session_id)
        ),
    )
    after = only_order(stocked)
    assert after.amount_refunded == 2500 and after.status == "paid"
    assert second["amount"] == 500


def test_invoice_pdf_lists_lots(
    stocked: Flask, client: FlaskClient, stripe_standin: StripeStandIn
) -> None:
    import io

    from pypdf import PdfReader

    add_to_cart(client, 7)
    _checkout(client)
    order = only_order(stocked)
    client.get(f"/checkout/success?session_id={order.stripe_session_id}")
    stripe_standin.complete(order.stripe_session_id)
    client.get(f"/checkout/success?session_id={order.stripe_session_id}")
    response = client.get(f"/orders/{order.token}/invoice.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)
    assert order.number in text and "EARLY" in text and "LATE" in text
    assert client.get("/orders/not-a-token/invoice.pdf").status_code == 404


def test_order_link_is_unguessable(stocked: Flask, client: FlaskClient) -> None:
    add_to_cart(client, 3)
    _checkout(client)
    order = only_order(stocked)
    assert len(order.token) >= 40
    assert client.get(f"/orders/{order.id}").status_code == 404
    assert re.fullmatch(r"\d{4}-\d{6}", order.number)


def test_a_buyer_back_from_stripes_cancel_finds_the_checkout_form_filled(
    stocked: Flask, client: FlaskClient
) -> None:
    add_to_cart(client, 3)
    _checkout(client)
    order = only_order(stocked)
    client.get(f"/checkout/cancel?order={order.token}")
    html = client.get("/cart").get_data(as_text=True)
    assert 'value="Buyer@Clinic.example"' in html
    assert 'value="Dr Ana Ruiz"' in html and 'value="Clinica Ruiz"' in html
    assert 'value="+34 600 000 000"' in html
    assert "Calle Mayor 1\n28013 Madrid</textarea>" in html
    assert '<option selected value="ES">' in html
    # Only what the buyer typed is kept: nothing about the payment.
    with client.session_transaction() as session:
        assert set(session["checkout_details"]) == {
            "email",
            "contact_name",
            "company",
            "phone",
            "shipping_address",
            "country",
            "vat_id",
        }


def test_checkout_fields_tell_the_browser_what_to_fill_in(
    stocked: Flask, client: FlaskClient
) -> None:
    add_to_cart(client, 1)
    html = client.get("/cart").get_data(as_text=True)
    for name, token in (
        ("email", "email"),
        ("contact_name", "name"),
        ("company", "organization"),
        ("phone", "tel"),
        ("shipping_address", "shipping street-address"),
        ("country", "shipping country"),
    ):
        tag = re.search(rf'<(?:input|textarea|select)[^>]*name="{name}"[^>]*>', html)
        assert tag and f'autocomplete="{token}"' in tag.group(0), name
