"""Delivery against mail servers that fail for real on loopback: a closed port, a server
that never answers, one that refuses a recipient, addresses plain SMTP cannot carry, and
STARTTLS or TLS with a sign-in, certificates made for the test."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask

from shop.extensions import db
from shop.mail import services as mail_services
from shop.mail.models import OutboxEmail
from shop.mail.services import MAX_ATTEMPTS, deliver_due, queue_email
from tests.mail.smtp_servers import (
    Certificates,
    Collector,
    Silent,
    SMTPServer,
    free_port,
    password_check,
    use_mail_server,
)


def queue(*recipients: str) -> list[int]:
    ids = [queue_email(to=to, subject=f"For {to}", text="Your order.").id for to in recipients]
    db.session.commit()
    return ids


def row(email_id: int) -> OutboxEmail:
    db.session.expire_all()
    email = db.session.get(OutboxEmail, email_id)
    assert email is not None
    return email


@pytest.fixture
def certificates(tmp_path: Path) -> Certificates:
    return Certificates(tmp_path)


def test_mail_to_a_closed_port_is_never_given_up_however_long_the_server_is_down(
    app: Flask,
) -> None:
    use_mail_server(app, free_port())  # nothing listens there
    with app.app_context():
        (email_id,) = queue("clinic@example.com")
        now = datetime.now(UTC)
        for _ in range(MAX_ATTEMPTS + 4):
            report = deliver_due(now=now)
            assert (report.sent, report.failed, report.given_up) == (0, 1, 0)
            now = now + timedelta(hours=2)
        email = row(email_id)
        assert email.state == "queued" and email.attempts == MAX_ATTEMPTS + 4
        assert "ConnectionRefused" in email.last_error


@pytest.mark.parametrize("greeting", [b"", b"220 mail.clinic.example ESMTP\r\n"])
def test_a_server_that_never_answers_costs_one_timeout_and_the_mail_goes_later(
    app: Flask, monkeypatch: pytest.MonkeyPatch, greeting: bytes
) -> None:
    """Silent from the start, or after its greeting (no answer to EHLO)."""
    monkeypatch.setattr(mail_services, "SMTP_TIMEOUT", 1)
    silent = Silent(greeting).start()
    use_mail_server(app, silent.port)
    with app.app_context():
        first, second = queue("a@clinic.example", "b@clinic.example")
        now = datetime.now(UTC)
        began = time.monotonic()
        report = deliver_due(now=now)
        took = time.monotonic() - began
        assert (report.sent, report.failed) == (0, 1)
        assert took < 3  # one socket deadline, not one per email
        email = row(first)
        assert email.state == "queued" and "timed out" in email.last_error
        assert email.next_attempt_at.replace(tzinfo=UTC) == now + timedelta(minutes=1)
        assert row(second).attempts == 0  # the rest of the batch waits for the next run

        port = silent.port
        silent.stop()
        server = SMTPServer(port).start()
        try:
            report = deliver_due(now=now + timedelta(minutes=2))
        finally:
            server.stop()
        assert report.sent == 2
        assert sorted(e.rcpt_tos[0] for e in server.handler.envelopes) == [
            "a@clinic.example",
            "b@clinic.example",
        ]


def test_a_refused_recipient_fails_alone_and_is_given_up_after_max_attempts(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    server = SMTPServer(free_port(), Collector(refused=frozenset({"gone@clinic.example"})))
    server.start()
    use_mail_server(app, server.port)
    try:
        with app.app_context():
            ids = queue("a@clinic.example", "gone@clinic.example", "c@clinic.example")
            now = datetime.now(UTC)
            report = deliver_due(now=now)
            assert (report.sent, report.failed, report.given_up) == (2, 1, 0)
            assert [row(i).state for i in ids] == ["sent", "queued", "sent"]
            refused = row(ids[1])
            assert refused.attempts == 1 and "SMTPRecipientsRefused" in refused.last_error
            assert "No such mailbox" in refused.last_error

            for attempt in range(2, MAX_ATTEMPTS + 1):
                now = now + timedelta(hours=2)
                report = deliver_due(now=now)
                assert report.given_up == (attempt == MAX_ATTEMPTS)
            refused = row(ids[1])
            assert refused.state == "failed" and refused.attempts == MAX_ATTEMPTS
            assert refused.failed_at is not None and refused.sent_at is None
            assert deliver_due(now=now + timedelta(days=30)).failed == 0  # never tried again
    finally:
        server.stop()
    assert [e.rcpt_tos for e in server.handler.envelopes] == [
        ["a@clinic.example"],
        ["c@clinic.example"],
    ]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert f"email {ids[1]} given up after {MAX_ATTEMPTS} attempt(s)" in warnings[-1]
    assert "gone@clinic.example" not in " ".join(warnings)  # no personal data in the log


def test_an_address_plain_smtp_cannot_carry_is_given_up_at_once_and_holds_nothing_back(
    app: Flask,
) -> None:
    server = SMTPServer(free_port()).start()
    use_mail_server(app, server.port)
    try:
        with app.app_context():
            ids = queue("dörte@clinic.example", "einkauf@bücher.example", "a@clinic.example")
            report = deliver_due()
            assert (report.sent, report.failed, report.given_up) == (2, 1, 1)
            unsendable = row(ids[0])
            assert unsendable.state == "failed" and unsendable.attempts == 1
            assert "SMTPUTF8" in unsendable.last_error
            assert [row(i).state for i in ids[1:]] == ["sent", "sent"]
    finally:
        server.stop()
    # An internationalised domain goes in its IDNA form, in the envelope and the header.
    assert server.handler.envelopes[0].rcpt_tos == ["einkauf@xn--bcher-kva.example"]
    assert server.handler.messages[0]["To"] == "einkauf@xn--bcher-kva.example"


def _secured_server(certificates: Certificates, *, implicit: bool) -> SMTPServer:
    """STARTTLS required before AUTH; or TLS from the start (aiosmtpd cannot tell it is
    under TLS then, so it offers AUTH without asking for STARTTLS)."""
    tls: dict[str, object] = (
        {"ssl_context": certificates.server, "auth_require_tls": False}
        if implicit
        else {"tls_context": certificates.server, "require_starttls": True, "auth_required": True}
    )
    return SMTPServer(
        free_port(), authenticator=password_check("shop", "s3cret-mail"), **tls
    ).start()


@pytest.fixture(params=["starttls", "tls"])
def secured(request: pytest.FixtureRequest, certificates: Certificates) -> Iterator[SMTPServer]:
    server = _secured_server(certificates, implicit=request.param == "tls")
    server.mode = request.param  # type: ignore[attr-defined]
    yield server
    server.stop()


def _use_secured(app: Flask, server: SMTPServer, ca_file: Path | None, password: str) -> None:
    use_mail_server(
        app,
        server.port,
        mail_use_tls=server.mode == "starttls",  # type: ignore[attr-defined]
        mail_use_ssl=server.mode == "tls",  # type: ignore[attr-defined]
        mail_ca_file=None if ca_file is None else str(ca_file),
        mail_username="shop",
        mail_password=password,
    )


def test_mail_goes_over_tls_signed_in_with_the_configured_certificate_authority(
    app: Flask, secured: SMTPServer, certificates: Certificates
) -> None:
    _use_secured(app, secured, certificates.ca_file, "s3cret-mail")
    with app.app_context():
        (email_id,) = queue("a@clinic.example")
        assert deliver_due().sent == 1
        assert row(email_id).state == "sent"
    (session,) = secured.handler.sessions
    assert session.authenticated
    assert session.ssl or secured.mode == "tls"  # type: ignore[attr-defined]


@pytest.mark.parametrize("problem", ["wrong password", "unknown certificate authority"])
def test_a_refused_sign_in_or_certificate_keeps_mail_queued(
    app: Flask, secured: SMTPServer, certificates: Certificates, problem: str
) -> None:
    if problem == "wrong password":
        _use_secured(app, secured, certificates.ca_file, "wrong")
        expected = "SMTPAuthenticationError"
    else:
        _use_secured(app, secured, None, "s3cret-mail")  # the system's authorities only
        expected = "CERTIFICATE_VERIFY_FAILED"
    with app.app_context():
        first, second = queue("a@clinic.example", "b@clinic.example")
        report = deliver_due()
        assert (report.sent, report.failed, report.given_up) == (0, 1, 0)
        assert row(first).state == "queued" and expected in row(first).last_error
        assert row(second).attempts == 0
    assert secured.handler.envelopes == []
