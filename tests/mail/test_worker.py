"""The worker's tasks run side by side: a Stripe that never answers holds back settling
only, never mail; a run past its deadline is reported; `--only` picks the tasks."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select

from shop.extensions import db
from shop.mail import worker
from shop.mail.services import DeliveryReport, queue_email
from shop.orders.models import Order
from tests.flows import add_to_cart, checkout, lots, order, stock_needle
from tests.mail.smtp_servers import SMTPServer, free_port, use_mail_server
from tests.stripe_standin import StripeStandIn


@pytest.fixture
def smtp(app: Flask) -> Iterator[SMTPServer]:
    server = SMTPServer(free_port()).start()
    use_mail_server(app, server.port)
    yield server
    server.stop()


def _lapsed_card_order(app: Flask, client: FlaskClient) -> int:
    stock_needle(app, {"L1": 20})
    add_to_cart(client, 3)
    checkout(client)
    with app.app_context():
        placed = db.session.scalars(select(Order)).one()
        placed.reserved_until = datetime.now(UTC) - timedelta(minutes=1)
        db.session.commit()
        return placed.id


def test_mail_goes_out_promptly_while_settling_waits_on_a_stripe_that_never_answers(
    stripe_app: Flask,
    client: FlaskClient,
    stripe_standin: StripeStandIn,
    smtp: SMTPServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = stripe_app
    use_mail_server(app, smtp.port)
    monkeypatch.setitem(worker.DEADLINES, "settle", 1.0)
    order_id = _lapsed_card_order(app, client)
    stripe_standin.hang = True
    with app.app_context():
        queue_email(to="buyer@clinic.example", subject="Your order", text="Thank you.")
        db.session.commit()

    def run() -> None:
        with app.app_context():
            worker.run_worker(once=True, interval=1)

    began = time.monotonic()
    running = threading.Thread(target=run)
    running.start()
    while not smtp.handler.envelopes and time.monotonic() - began < 10:
        time.sleep(0.02)
    delivered_after = time.monotonic() - began
    assert smtp.handler.envelopes and delivered_after < 3
    assert stripe_standin.requests  # settling is asking Stripe meanwhile ...
    assert running.is_alive()  # ... and still waiting for it
    running.join(timeout=60)
    settled_after = time.monotonic() - began
    assert not running.is_alive()
    assert settled_after > 5  # Stripe's read deadline, at least
    assert order(app, order_id).status == "pending_payment"  # retried later
    assert lots(app) == {"L1": (20, 3)}  # nothing released while Stripe cannot say
    assert "settle has run 1 s, past its deadline of 1 s" in caplog.text
    assert "the other tasks go on" in caplog.text
    print(
        f"mail delivered after {delivered_after:.2f} s, settling ended after {settled_after:.1f} s"
    )


def _recording_tasks(app: Flask) -> list[str]:
    calls: list[str] = []
    app.extensions["worker_tasks"] = {
        "settle": [lambda: calls.append("settle")],
        "quotes": [lambda: calls.append("quotes")],
    }
    return calls


@pytest.mark.parametrize(
    "only, expected",
    [
        ([], {"mail", "settle", "quotes"}),
        (["--only", "mail"], {"mail"}),
        (["--only", "settle,quotes"], {"settle", "quotes"}),
        (["--only", "mail", "--only", "quotes"], {"mail", "quotes"}),
    ],
)
def test_worker_only_runs_the_tasks_asked_for(
    app: Flask, runner: FlaskCliRunner, smtp: SMTPServer, only: list[str], expected: set[str]
) -> None:
    calls = _recording_tasks(app)
    with app.app_context():
        queue_email(to="buyer@clinic.example", subject="Your order", text="Thank you.")
        db.session.commit()
    result = runner.invoke(args=["worker", "--once", *only])
    assert result.exit_code == 0, result.output
    ran = set(calls) | ({"mail"} if smtp.handler.envelopes else set())
    assert ran == expected


def test_worker_refuses_an_unknown_task_and_names_the_known_ones(
    app: Flask, runner: FlaskCliRunner
) -> None:
    calls = _recording_tasks(app)
    result = runner.invoke(args=["worker", "--once", "--only", "mail,stripe"])
    assert result.exit_code == 2
    assert "no worker task stripe: the tasks are mail, settle, quotes" in result.output
    assert calls == []


def test_a_task_run_past_its_deadline_is_reported_and_its_next_run_waits_for_it(
    app: Flask, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="shop.worker")
    monkeypatch.setitem(worker.DEADLINES, "quotes", 0.2)
    quotes: list[tuple[float, float]] = []
    mail: list[float] = []

    def slow_quotes() -> None:
        began = time.monotonic()
        time.sleep(0.6)
        quotes.append((began, time.monotonic()))

    def deliver_due() -> DeliveryReport:
        mail.append(time.monotonic())
        return DeliveryReport()

    monkeypatch.setattr(worker, "deliver_due", deliver_due)
    app.extensions["worker_tasks"] = {"quotes": [slow_quotes]}
    stop = threading.Event()
    threading.Timer(1.5, stop.set).start()
    with app.app_context():
        worker._run(worker.chosen_tasks(), stop, once=False, interval=0.05)
    assert len(quotes) >= 2
    # Runs of one task never overlap; mail ran many times meanwhile.
    assert all(later[0] >= earlier[1] for earlier, later in zip(quotes, quotes[1:], strict=False))
    assert len(mail) > 2 * len(quotes)
    assert "worker: quotes has run 0 s, past its deadline of 0 s" in caplog.text
    assert "worker: quotes took 0.6 s, past its deadline of 0 s" in caplog.text
