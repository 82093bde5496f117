"""Fifty buyers in two processes for the last ten packs, on PostgreSQL."""

from __future__ import annotations

import multiprocessing
import os
import queue

import pytest
from flask import Flask
from sqlalchemy import func, select

from shop.extensions import db
from shop.inventory.models import Lot
from shop.orders.models import Allocation, Order
from tests.checkout.oversell_buyers import buy
from tests.conftest import WEBHOOK_SECRET
from tests.factories import make_lot, make_product, make_variant
from tests.stripe_standin import StripeStandIn

pytestmark = pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL"),
    reason="concurrency is proven on PostgreSQL: set TEST_DATABASE_URL",
)

PROCESSES, BUYERS_EACH, PACKS = 2, 25, 10


def test_fifty_buyers_for_ten_packs_never_oversell(
    stripe_app: Flask, database_url: str, stripe_standin: StripeStandIn
) -> None:
    with stripe_app.app_context():
        variant = make_variant(
            product=make_product(slug="last-ten"), sku="LAST-10", prices=((1, 3000),)
        )
        make_lot(variant, quantity=4, expires_in_days=700, lot_number="A")
        make_lot(variant, quantity=6, expires_in_days=900, lot_number="B")
        db.session.commit()
    context = multiprocessing.get_context("spawn")
    start, results = context.Event(), context.Queue()
    workers = [
        context.Process(
            target=buy,
            args=(
                database_url,
                stripe_standin.base_url,
                WEBHOOK_SECRET,
                BUYERS_EACH,
                "LAST-10",
                "last-ten",
                start,
                results,
            ),
        )
        for _ in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    outcomes = []
    start.set()
    for _ in range(PROCESSES * BUYERS_EACH):
        try:
            outcomes.append(results.get(timeout=120))
        except queue.Empty:
            break
    for worker in workers:
        worker.join(timeout=30)
    assert len(outcomes) == PROCESSES * BUYERS_EACH
    assert {added for added, *_ in outcomes} == {303}
    statuses = sorted(status for _, status, _, _ in outcomes)
    assert statuses == [303] * PACKS + [409] * (PROCESSES * BUYERS_EACH - PACKS), statuses
    refusals = {message for _, status, _, message in outcomes if status == 409}
    assert refusals == {"Only 0 packs left."}

    # Every reserved buyer pays; the webhooks race too. Nobody is paid without stock.
    client = stripe_app.test_client()
    for session_id in list(stripe_standin.sessions):
        event = stripe_standin.event(
            "checkout.session.completed", stripe_standin.complete(session_id)
        )
        body, headers = StripeStandIn.webhook_request(event, WEBHOOK_SECRET)
        assert client.post("/stripe/webhook", data=body, headers=headers).status_code == 200
    with stripe_app.app_context():
        paid = db.session.scalar(
            select(func.count()).select_from(Order).where(Order.status == "paid")
        )
        assert paid == PACKS
        assert (
            db.session.scalar(
                select(func.count()).select_from(Order).where(Order.needs_attention.is_(True))
            )
            == 0
        )
        sold = db.session.scalar(
            select(func.sum(Allocation.quantity)).where(Allocation.state == "sold")
        )
        assert sold == PACKS
        assert [
            (lot.quantity, lot.reserved)
            for lot in db.session.scalars(select(Lot).order_by(Lot.lot_number))
        ] == [(0, 0), (0, 0)]
