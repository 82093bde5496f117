"""The outbox under any sequence of queued email, a mail server going down and coming back,
a recipient it refuses for a while or for good, addresses plain SMTP cannot carry, and
worker runs as time passes (Hypothesis drives a real aiosmtpd server on loopback).

After every step: each email is queued, sent or failed (given up), never two at once; the
server got each sent email exactly once and no other; a sent or failed email never changes
again; only an address nothing can carry or a recipient refused for good MAX_ATTEMPTS times
is given up, never for a server that was down or said "try later"."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from shop.extensions import db
from shop.mail import services as mail_services
from shop.mail.models import OutboxEmail
from shop.mail.services import deliver_due, queue_email
from tests.conftest import empty_tables
from tests.mail.smtp_servers import Collector, SMTPServer, free_port, use_mail_server

GOOD = "ok@clinic.example"
GONE = "gone@clinic.example"  # refused for good
FLAKY = "flaky@clinic.example"  # "try later" (452) while its mailbox is full
UNSENDABLE = "dörte@clinic.example"


class Mailbox(Collector):
    def __init__(self) -> None:
        super().__init__(refused=frozenset({GONE}))
        self.full = False

    async def handle_RCPT(self, server, session, envelope, address, options):  # type: ignore[no-untyped-def]
        if address == FLAKY and self.full:
            return "452 4.2.2 Mailbox full"
        return await super().handle_RCPT(server, session, envelope, address, options)


class Outbox(RuleBasedStateMachine):
    def __init__(self, app: Flask, server: SMTPServer, closed_port: int) -> None:
        super().__init__()
        self.app, self.server, self.closed_port = app, server, closed_port
        self.mailbox: Mailbox = server.handler  # type: ignore[assignment]
        self.mailbox.envelopes.clear()
        self.mailbox.full = False
        self.now = datetime.now(UTC)
        self.finished: dict[int, tuple[object, ...]] = {}
        use_mail_server(app, server.port)
        with app.app_context():
            empty_tables()

    def rows(self) -> list[OutboxEmail]:
        with self.app.app_context():
            return list(db.session.scalars(select(OutboxEmail).order_by(OutboxEmail.id)))

    @rule(to=st.sampled_from([GOOD, GONE, FLAKY, UNSENDABLE]))
    def queue(self, to: str) -> None:
        with self.app.app_context():
            queue_email(to=to, subject=f"Order for {to}", text="Thank you.")
            db.session.commit()

    @rule(up=st.booleans())
    def server_up_or_down(self, up: bool) -> None:
        use_mail_server(self.app, self.server.port if up else self.closed_port)

    @rule(full=st.booleans())
    def mailbox_full(self, full: bool) -> None:
        self.mailbox.full = full

    @rule(minutes=st.integers(min_value=0, max_value=180))
    def worker_runs(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)
        with self.app.app_context():
            deliver_due(now=self.now)

    @invariant()
    def every_email_is_in_one_state_and_sent_ones_arrived_once(self) -> None:
        arrived: dict[str, int] = {}
        for message in self.mailbox.messages:
            arrived[message["Message-ID"]] = arrived.get(message["Message-ID"], 0) + 1
        assert all(count == 1 for count in arrived.values()), arrived
        sent_ids = {m.split(".")[1] for m in arrived}
        for row in self.rows():
            assert not (row.sent_at and row.failed_at)
            assert (str(row.id) in sent_ids) == (row.state == "sent"), row.id
            if row.state == "failed":  # only for good, never for a server down or busy
                assert row.to in (GONE, UNSENDABLE), row.to
                assert (
                    row.attempts == 1
                    if row.to == UNSENDABLE
                    else row.attempts >= mail_services.MAX_ATTEMPTS
                )
            if row.state != "queued":
                snapshot = (row.state, row.attempts, row.sent_at, row.failed_at, row.last_error)
                assert self.finished.setdefault(row.id, snapshot) == snapshot

    def teardown(self) -> None:
        """With the server up and room in every mailbox, the worker sends all that can go."""
        self.server_up_or_down(True)
        self.mailbox.full = False
        for _ in range(mail_services.MAX_ATTEMPTS + 2):
            self.worker_runs(120)
        self.every_email_is_in_one_state_and_sent_ones_arrived_once()
        for row in self.rows():
            expected = "sent" if row.to in (GOOD, FLAKY) else "failed"
            assert row.state == expected, (row.to, row.attempts, row.last_error)


@pytest.fixture
def mailbox_server() -> Iterator[SMTPServer]:
    server = SMTPServer(free_port(), Mailbox()).start()
    yield server
    server.stop()


def test_the_outbox_holds_under_any_sequence_of_faults(
    app: Flask, mailbox_server: SMTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mail_services, "MAX_ATTEMPTS", 3)  # so short runs reach giving up
    closed_port = free_port()
    run_state_machine_as_test(
        lambda: Outbox(app, mailbox_server, closed_port),
        settings=settings(
            max_examples=25,
            stateful_step_count=30,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
