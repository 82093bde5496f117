"""The outbox against a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from shop.extensions import db
from shop.mail import services as mail_services
from shop.mail import worker
from shop.mail.models import OutboxEmail
from shop.mail.services import backoff, deliver_due, queue_email
from shop.mail.worker import run_worker
from tests.mail.smtp_servers import SENDER, Collector, SMTPServer, free_port, use_mail_server


@pytest.fixture
def smtp(app: Flask) -> Iterator[SMTPServer]:
    server = SMTPServer(free_port()).start()
    use_mail_server(app, server.port)
    yield server
    server.stop()


def aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def fresh(email_id: int) -> OutboxEmail:
    """The row as committed now (deliver_due works in a session of its own)."""
    db.session.expire_all()
    email = db.session.get(OutboxEmail, email_id)
    assert email is not None
    return email


def queue_committed(**kwargs: str) -> int:
    values = {"to": "clinic@example.com", "subject": "Your order", "text": "Thank you."}
    email = queue_email(**(values | kwargs))
    db.session.commit()
    return email.id


def test_queued_mail_is_delivered_once_with_headers_and_both_parts(
    app: Flask, smtp: SMTPServer
) -> None:
    with app.app_context():
        email = queue_email(
            to="dr.weiss@clinic.example",
            subject="Order 2026-000042 – 32G × 4 mm received",
            text="Thank you for your order.\nWe ship within 2 days.",
            html="<p>Thank you for your <b>order</b>.</p>",
        )
        assert email.id is not None and email.sent_at is None
        db.session.commit()
        before = datetime.now(UTC)

        report = deliver_due()

        assert (report.sent, report.failed) == (1, 0)
        assert len(smtp.handler.envelopes) == 1
        envelope = smtp.handler.envelopes[0]
        assert envelope.mail_from == "shop@meso-needles.example"
        assert envelope.rcpt_tos == ["dr.weiss@clinic.example"]
        message = smtp.handler.messages[0]
        assert message["From"] == SENDER
        assert message["To"] == "dr.weiss@clinic.example"
        assert message["Subject"] == "Order 2026-000042 – 32G × 4 mm received"
        assert abs(parsedate_to_datetime(message["Date"]) - before) < timedelta(minutes=1)
        assert re.fullmatch(
            rf"<outbox\.{email.id}\.\d+@meso-needles\.example>", message["Message-ID"]
        )
        assert message.get_content_type() == "multipart/alternative"
        text = message.get_body(("plain",))
        html = message.get_body(("html",))
        assert text is not None and html is not None
        assert text.get_content() == "Thank you for your order.\nWe ship within 2 days.\n"
        assert html.get_content() == "<p>Thank you for your <b>order</b>.</p>\n"

        row = fresh(email.id)
        assert row.sent_at is not None and row.attempts == 0 and row.last_error == ""

        again = deliver_due(now=datetime.now(UTC) + timedelta(days=1))
        assert (again.sent, again.failed) == (0, 0)
        assert len(smtp.handler.envelopes) == 1


def test_text_only_mail_is_a_single_plain_part(app: Flask, smtp: SMTPServer) -> None:
    with app.app_context():
        queue_committed(text="Plain only.")
        deliver_due()
        (message,) = smtp.handler.messages
        assert not message.is_multipart()
        assert message.get_content_type() == "text/plain"
        assert message.get_content() == "Plain only.\n"


def test_queue_email_flushes_marks_g_and_never_sends(app: Flask, smtp: SMTPServer) -> None:
    with app.test_request_context():
        from flask import g

        email = queue_email(to="a@example.com", subject="Hi", text="Hello")
        assert email.id is not None  # flushed
        assert g._mail_queued is True
        db.session.rollback()
    assert smtp.handler.envelopes == []


@pytest.mark.parametrize(
    "to, subject",
    [("", "Hi"), ("a@example.com\r\nBcc: x@example.com", "Hi"), ("a@example.com", "Hi\nBcc: x")],
)
def test_queue_email_refuses_header_injection(app: Flask, to: str, subject: str) -> None:
    with app.app_context(), pytest.raises(ValueError):
        queue_email(to=to, subject=subject, text="x")


def test_unreachable_server_keeps_mail_queued_with_backoff_then_sends(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()  # nothing listens there yet
    use_mail_server(app, port)
    with app.app_context():
        email_id = queue_committed(subject="Bank details")
        second_id = queue_committed(subject="Second")
        now = datetime.now(UTC)

        report = deliver_due(now=now)

        # After a connection failure the rest of the batch waits for the next run.
        assert (report.sent, report.failed) == (0, 1)
        row = fresh(email_id)
        assert row.sent_at is None
        assert row.attempts == 1
        assert "ConnectionRefused" in row.last_error
        assert aware(row.next_attempt_at) == now + timedelta(minutes=1)
        assert fresh(second_id).attempts == 0
        warning = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert warning and f"email {email_id} not sent" in warning[0].getMessage()
        assert "ConnectionRefused" in warning[0].getMessage()

        server = SMTPServer(port).start()
        try:
            # The second mail is due; the first waits out its backoff.
            report = deliver_due(now=now + timedelta(seconds=30))
            assert (report.sent, report.failed) == (1, 0)
            assert [m["Subject"] for m in server.handler.messages] == ["Second"]

            report = deliver_due(now=now + timedelta(minutes=2))
            assert (report.sent, report.failed) == (1, 0)
            assert [m["Subject"] for m in server.handler.messages] == ["Second", "Bank details"]
            row = fresh(email_id)
            assert row.sent_at is not None and row.attempts == 1
        finally:
            server.stop()


def test_backoff_doubles_up_to_an_hour() -> None:
    minutes = [backoff(n) / timedelta(minutes=1) for n in range(1, 10)]
    assert minutes == [1, 2, 4, 8, 16, 32, 60, 60, 60]


def test_without_mail_server_mail_is_logged_and_marked_sent_with_no_personal_data_at_info(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    use_mail_server(app, None)
    caplog.set_level(logging.DEBUG, logger="shop.mail")
    with app.app_context():
        email_id = queue_committed(
            to="nurse@clinic.example", subject="Reset your password", text="Follow this link."
        )
        report = deliver_due()
        assert (report.sent, report.failed) == (1, 0)
        assert fresh(email_id).sent_at is not None
    mail = [r for r in caplog.records if r.name == "shop.mail"]
    info = " ".join(r.getMessage() for r in mail if r.levelno >= logging.INFO)
    assert f"email {email_id}" in info and "Reset your password" in info
    assert "nurse@clinic.example" not in info and "Follow this link." not in info
    debug = " ".join(r.getMessage() for r in mail if r.levelno == logging.DEBUG)
    assert "nurse@clinic.example" in debug and "Follow this link." in debug


def test_mail_not_yet_due_waits(app: Flask, smtp: SMTPServer) -> None:
    with app.app_context():
        later = datetime.now(UTC) + timedelta(hours=1)
        email = queue_email(to="a@example.com", subject="Later", text="x")
        email.next_attempt_at = later
        db.session.commit()

        assert deliver_due().sent == 0
        assert smtp.handler.envelopes == []
        assert deliver_due(now=later + timedelta(seconds=1)).sent == 1
        assert len(smtp.handler.envelopes) == 1


def test_batches_go_oldest_first_within_the_limit(app: Flask, smtp: SMTPServer) -> None:
    with app.app_context():
        for n in range(5):
            queue_committed(subject=f"Mail {n}")
        assert deliver_due(limit=3).sent == 3
        assert deliver_due(limit=3).sent == 2
        assert [m["Subject"] for m in smtp.handler.messages] == [f"Mail {n}" for n in range(5)]


def test_concurrent_workers_send_each_mail_once(app: Flask, smtp: SMTPServer) -> None:
    with app.app_context():
        for n in range(20):
            queue_email(to=f"clinic{n}@example.com", subject=f"Mail {n}", text="x")
        db.session.commit()
    totals: list[int] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            with app.app_context():
                totals.append(deliver_due(limit=20).sent)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sum(totals) == 20
    subjects = sorted(m["Subject"] for m in smtp.handler.messages)
    assert subjects == sorted(f"Mail {n}" for n in range(20))
    with app.app_context():
        unsent = db.session.scalars(select(OutboxEmail).where(OutboxEmail.sent_at.is_(None)))
        assert list(unsent) == []


class SlowCollector(Collector):
    """A mail server that takes a quarter of a second to accept each message."""

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        await asyncio.sleep(0.25)
        return await super().handle_DATA(server, session, envelope)


def test_two_workers_never_send_the_same_email_twice_when_a_batch_outlasts_the_lease(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 9.11: the lease was counted from the start of the batch, so the rows a long
    batch claimed late were free for a second worker while the first was sending them."""
    monkeypatch.setattr(mail_services, "CLAIM_LEASE", timedelta(seconds=1))
    server = SMTPServer(free_port(), SlowCollector()).start()
    use_mail_server(app, server.port)
    try:
        with app.app_context():
            for n in range(16):
                queue_email(to=f"clinic{n}@example.com", subject=f"Mail {n}", text="x")
            db.session.commit()

        def work() -> None:
            with app.app_context():
                deliver_due(limit=16)

        first = threading.Thread(target=work)
        first.start()
        time.sleep(1.4)  # the first batch is mid-way, well past its first second
        second = threading.Thread(target=work)
        second.start()
        first.join(timeout=60)
        second.join(timeout=60)
    finally:
        server.stop()
    ids = [m["Message-ID"] for m in server.handler.messages]
    assert len(ids) == len(set(ids)) == 16


def _with_mail_routes(app: Flask, *, send_after_commit: bool | None = True) -> None:
    """Two tiny views; create_app registered the hook."""
    if send_after_commit is not None:
        app.config["MAIL_SEND_AFTER_COMMIT"] = send_after_commit

    def committed() -> str:
        queue_email(to="buyer@example.com", subject="Committed", text="Sent after the request")
        db.session.commit()
        return "ok"

    def uncommitted() -> str:
        queue_email(to="buyer@example.com", subject="Uncommitted", text="Never sent")
        return "ok"

    app.add_url_rule("/_test/mail/committed", view_func=committed)
    app.add_url_rule("/_test/mail/uncommitted", view_func=uncommitted)


def test_after_request_hook_sends_committed_mail(app: Flask, smtp: SMTPServer) -> None:
    _with_mail_routes(app)
    response = app.test_client().get("/_test/mail/committed")
    assert response.status_code == 200
    assert [m["Subject"] for m in smtp.handler.messages] == ["Committed"]
    with app.app_context():
        (row,) = db.session.scalars(select(OutboxEmail))
        assert row.sent_at is not None


def test_after_request_hook_ignores_uncommitted_mail(app: Flask, smtp: SMTPServer) -> None:
    _with_mail_routes(app)
    with app.app_context():
        earlier = queue_committed(subject="Earlier, for the worker")
    response = app.test_client().get("/_test/mail/uncommitted")
    assert response.status_code == 200
    assert smtp.handler.envelopes == []
    with app.app_context():
        rows = list(db.session.scalars(select(OutboxEmail)))
        assert [r.id for r in rows] == [earlier]  # the view's mail rolled back with it
        assert rows[0].sent_at is None  # the request sends its own mail only


def test_after_request_hook_is_off_by_default_in_tests(app: Flask, smtp: SMTPServer) -> None:
    _with_mail_routes(app, send_after_commit=None)
    assert app.config["MAIL_SEND_AFTER_COMMIT"] is False
    assert app.test_client().get("/_test/mail/committed").status_code == 200
    assert smtp.handler.envelopes == []
    with app.app_context():
        (row,) = db.session.scalars(select(OutboxEmail))
        assert row.sent_at is None  # left for the worker


def test_after_request_delivery_failure_never_breaks_the_response(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    use_mail_server(app, free_port())  # nothing listens
    _with_mail_routes(app)
    response = app.test_client().get("/_test/mail/committed")
    assert response.status_code == 200 and response.get_data(as_text=True) == "ok"
    with app.app_context():
        (row,) = db.session.scalars(select(OutboxEmail))
        assert row.sent_at is None and row.attempts == 1
    assert "not sent" in caplog.text


def test_worker_run_delivers_and_calls_tasks(
    app: Flask, smtp: SMTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="shop.worker")
    calls: list[str] = []

    def failing_task() -> None:
        calls.append("failing")
        raise RuntimeError("boom")

    def task() -> None:
        calls.append("task")

    app.extensions["worker_tasks"] = {"settle": [failing_task, task]}
    with app.app_context():
        queue_committed()
        run_worker(once=True, interval=5)
    assert len(smtp.handler.envelopes) == 1
    assert calls == ["failing", "task"]
    assert "mail sent 1, failed 0, given up 0" in caplog.text
    assert "failing_task failed" in caplog.text


def test_worker_survives_a_database_outage(
    app: Flask, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def down() -> None:
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(worker, "deliver_due", down)
    calls: list[str] = []
    app.extensions["worker_tasks"] = {"quotes": [lambda: calls.append("task")]}
    with app.app_context():
        run_worker(once=True, interval=5)
    assert calls == ["task"]
    assert "database unavailable: connection refused" in caplog.text


def test_worker_stops_cleanly_on_sigterm(app: Flask, smtp: SMTPServer) -> None:
    before = signal.getsignal(signal.SIGTERM)
    runs: list[float] = []
    app.extensions["worker_tasks"] = {"quotes": [lambda: runs.append(time.monotonic())]}
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    started = time.monotonic()
    try:
        with app.app_context():
            run_worker(once=False, interval=0.05)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 5
    assert len(runs) >= 2
    assert signal.getsignal(signal.SIGTERM) == before
