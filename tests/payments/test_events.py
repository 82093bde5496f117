"""Stripe's events take effect once: stored with their effect, never before it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from shop.extensions import db
from shop.payments.models import StripeEvent
from tests.flows import add_to_cart, checkout, lots, order, send_event, stock_needle
from tests.stripe_standin import StripeStandIn


@pytest.fixture
def stocked(stripe_app: Flask) -> Flask:
    stock_needle(stripe_app, {"L1": 20})
    return stripe_app


@contextmanager
def orders_refuse_to_become_paid(app: Flask) -> Iterator[None]:
    """A real fault in the database: a trigger that fails every update making an order
    paid, until it is dropped."""
    with app.app_context(), db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(
                sa.text(
                    "CREATE FUNCTION refuse_paid() RETURNS trigger AS $$ BEGIN "
                    "RAISE EXCEPTION 'disk trouble'; END $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                sa.text(
                    "CREATE TRIGGER refuse_paid BEFORE UPDATE ON orders FOR EACH ROW "
                    "WHEN (NEW.status = 'paid') EXECUTE FUNCTION refuse_paid()"
                )
            )
        else:
            conn.execute(
                sa.text(
                    "CREATE TRIGGER refuse_paid BEFORE UPDATE ON orders "
                    "WHEN NEW.status = 'paid' BEGIN SELECT RAISE(ABORT, 'disk trouble'); END"
                )
            )
    try:
        yield
    finally:
        with app.app_context(), db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("DROP TRIGGER refuse_paid ON orders"))
                conn.execute(sa.text("DROP FUNCTION refuse_paid()"))
            else:
                conn.execute(sa.text("DROP TRIGGER refuse_paid"))


def test_an_event_whose_handling_failed_is_applied_when_stripe_sends_it_again(
    stocked: Flask, client: FlaskClient, stripe_standin: StripeStandIn
) -> None:
    """Issue 9.6: on SQLite the event was stored as seen before its handler succeeded
    (`begin_nested()` commits under pysqlite), so Stripe's retry was ignored."""
    add_to_cart(client, 3)
    checkout(client)
    placed = order(stocked)
    event = stripe_standin.event(
        "checkout.session.completed", stripe_standin.complete(placed.stripe_session_id)
    )
    with orders_refuse_to_become_paid(stocked):
        assert send_event(client, event).status_code == 500
    assert order(stocked).status == "pending_payment"
    with stocked.app_context():
        assert db.session.get(StripeEvent, event["id"]) is None
    response = send_event(client, event)  # Stripe's retry
    assert response.status_code == 200 and response.get_json()["outcome"] == "paid"
    assert order(stocked).status == "paid" and lots(stocked) == {"L1": (17, 0)}
    assert send_event(client, event).get_json()["outcome"] == "duplicate"


def test_the_same_event_delivered_twice_at_once_takes_effect_once(
    stocked: Flask, client: FlaskClient, stripe_standin: StripeStandIn
) -> None:
    add_to_cart(client, 3)
    checkout(client)
    placed = order(stocked)
    event = stripe_standin.event(
        "checkout.session.completed", stripe_standin.complete(placed.stripe_session_id)
    )
    outcomes: list[str] = []
    start = threading.Barrier(4)

    def deliver() -> None:
        start.wait()
        response = send_event(stocked.test_client(), event)
        outcomes.append(response.get_json()["outcome"])

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["duplicate", "duplicate", "duplicate", "paid"]
    assert order(stocked).status == "paid" and lots(stocked) == {"L1": (17, 0)}
    with stocked.app_context():
        assert db.session.scalar(select(func.count()).select_from(StripeEvent)) == 1
