"""Refunds: held before they are asked for, counted only once they succeed, never more
than was paid, and a refund that fails gives the money back to the books."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from shop.extensions import db
from shop.inventory.services import STOCK_LOCK_KEY
from shop.orders.models import Refund
from shop.payments.services import resend_refunds
from tests.conftest import csrf_token, sign_in
from tests.flows import add_to_cart, checkout, order, pay, send_event, stock_needle
from tests.stripe_standin import StripeStandIn


@pytest.fixture
def stocked(stripe_app: Flask) -> Flask:
    stock_needle(stripe_app, {"L1": 20})
    return stripe_app


def _refund_form(staff: FlaskClient, number: str) -> dict[str, str]:
    html = staff.get(f"/admin/orders/{number}").get_data(as_text=True)
    start = html.index('action="/admin/orders/' + number + '/refund"')
    nonce = html[start:].split('name="nonce" value="', 1)[1].split('"', 1)[0]
    return {"csrf_token": csrf_token(staff, f"/admin/orders/{number}"), "nonce": nonce}


def _refunds(app: Flask) -> list[tuple[int, str]]:
    with app.app_context():
        return [
            (r.amount, r.status) for r in db.session.scalars(select(Refund).order_by(Refund.id))
        ]


def test_a_refund_that_fails_is_not_counted_and_flags_the_order(
    stocked: Flask, client: FlaskClient, stripe_standin: StripeStandIn, staff_client: FlaskClient
) -> None:
    """Issue 9.8: pending refunds counted as done, and `refund.updated` with status
    `failed` was ignored: the books said refunded, the buyer had nothing."""
    add_to_cart(client, 3)
    checkout(client)
    placed = order(stocked)
    pay(client, stripe_standin, placed.stripe_session_id)
    stripe_standin.refund_status = "pending"
    data = {**_refund_form(staff_client, placed.number), "refund_amount": "50"}
    response = staff_client.post(f"/admin/orders/{placed.number}/refund", data=data)
    assert response.status_code == 303
    page = staff_client.get(response.location).get_data(as_text=True)
    assert "Refund of $50.00 is pending at Stripe: $0.00 of $127.05 refunded so far" in page
    pending = order(stocked)
    assert pending.amount_refunded == 0 and pending.refundable == 7705
    ((refund_id, refund),) = stripe_standin.refunds.items()
    failed = stripe_standin.settle_refund(refund_id, succeeded=False)
    assert send_event(client, stripe_standin.event("refund.failed", failed)).status_code == 200
    send_event(client, stripe_standin.event("refund.updated", failed))  # the same, again
    after = order(stocked)
    assert after.amount_refunded == 0 and after.refundable == 12705
    assert after.needs_attention and "failed: the money was not returned" in after.attention_reason
    assert _refunds(stocked) == [(5000, "failed")]
    # A late `pending` update about the same refund changes nothing.
    send_event(client, stripe_standin.event("refund.updated", {**refund, "status": "pending"}))
    assert _refunds(stocked) == [(5000, "failed")]


def test_a_pending_refund_counts_once_it_succeeds(
    stocked: Flask, client: FlaskClient, stripe_standin: StripeStandIn, staff_client: FlaskClient
) -> None:
    add_to_cart(client, 3)
    checkout(client)
    placed = order(stocked)
    pay(client, stripe_standin, placed.stripe_session_id)
    stripe_standin.refund_status = "pending"
    data = {**_refund_form(staff_client, placed.number), "refund_amount": "127.05"}
    staff_client.post(f"/admin/orders/{placed.number}/refund", data=data)
    (refund_id,) = stripe_standin.refunds
    done = stripe_standin.settle_refund(refund_id, succeeded=True)
    send_event(client, stripe_standin.event("refund.updated", done))
    send_event(client, stripe_standin.event("refund.created", {**done, "status": "pending"}))
    after = order(stocked)
    assert after.amount_refunded == 12705 and after.refundable == 0
    assert not after.needs_attention and _refunds(stocked) == [(12705, "succeeded")]


@contextmanager
def stock_lock_held(app: Flask) -> Iterator[None]:
    """Another transaction holds the lock every stock and money change takes (and, on
    PostgreSQL, the row the catalogue version lives in), until the block ends."""
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "postgresql":
            with engine.begin() as conn:
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(STOCK_LOCK_KEY)))
                conn.execute(sa.text("UPDATE catalog_version SET version = version"))
                yield
        else:
            raw = engine.raw_connection()
            try:
                raw.driver_connection.isolation_level = None
                raw.driver_connection.execute("BEGIN IMMEDIATE")
                yield
                raw.driver_connection.execute("ROLLBACK")
            finally:
                raw.close()


def test_two_refunds_at_once_never_refund_more_than_was_paid(
    stocked: Flask, client: FlaskClient, app: Flask, staff_client: FlaskClient
) -> None:
    """Issue 9.10: two staff refund $60 of a $105 order at the same moment; the check ran
    outside the lock, so both were booked."""
    add_to_cart(client, 3)
    checkout(client, payment_method="bank_transfer")
    placed = order(stocked)
    token = csrf_token(staff_client, f"/admin/orders/{placed.number}")
    paid = staff_client.post(
        f"/admin/orders/{placed.number}/mark-paid",
        data={"csrf_token": token, "amount_received": "127.05"},
    )
    assert paid.status_code == 303 and order(stocked).status == "paid"
    second_staff = app.test_client()  # the same staff, in a second browser
    assert sign_in(second_staff, "staff@shop.example").status_code == 303
    forms = [
        {**_refund_form(staff_client, placed.number), "refund_amount": "70"},
        {**_refund_form(second_staff, placed.number), "refund_amount": "70"},
    ]
    assert forms[0]["nonce"] != forms[1]["nonce"]
    statuses: list[int] = []

    def refund(tab: FlaskClient, form: dict[str, str]) -> None:
        response = tab.post(f"/admin/orders/{placed.number}/refund", data=form)
        statuses.append(response.status_code)

    with stock_lock_held(stocked):
        threads = [
            threading.Thread(target=refund, args=(tab, form))
            for tab, form in zip((staff_client, second_staff), forms, strict=True)
        ]
        for thread in threads:
            thread.start()
        time.sleep(1.5)  # both requests are in, waiting for the lock
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [303, 422]
    after = order(stocked)
    assert after.amount_refunded == 7000 and after.refundable == 5705
    assert [e.action for e in after.history].count("refunded") == 1


def test_a_refund_stripe_never_answered_is_sent_again_by_the_worker_once(
    stocked: Flask, client: FlaskClient, stripe_standin: StripeStandIn, staff_client: FlaskClient
) -> None:
    add_to_cart(client, 3)
    checkout(client)
    placed = order(stocked)
    pay(client, stripe_standin, placed.stripe_session_id)
    data = {**_refund_form(staff_client, placed.number), "refund_amount": "30"}
    stripe_standin.drop_next(3)  # the request and both retries: no answer
    response = staff_client.post(f"/admin/orders/{placed.number}/refund", data=data)
    assert response.status_code == 503
    assert "The refund is held and sent again automatically" in response.get_data(as_text=True)
    assert _refunds(stocked) == [(3000, "requested")]
    assert order(stocked).refundable == 9705  # held: never refunded twice meanwhile
    with stocked.app_context():
        later = datetime.now(UTC) + timedelta(minutes=5)
        assert resend_refunds(later) == {"booked": 1, "refused": 0, "failed": 0}
        assert resend_refunds(later) == {"booked": 0, "refused": 0, "failed": 0}
    assert _refunds(stocked) == [(3000, "succeeded")]
    assert order(stocked).amount_refunded == 3000 and len(stripe_standin.refunds) == 1
    # Staff sending the very same form again books nothing twice.
    again = staff_client.post(f"/admin/orders/{placed.number}/refund", data=data)
    assert again.status_code == 303 and len(stripe_standin.refunds) == 1
    assert order(stocked).amount_refunded == 3000
