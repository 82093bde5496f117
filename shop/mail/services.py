"""Queue email with the change that causes it; deliver what is due, each mail once.

`queue_email` only adds an outbox row to the caller's transaction, so a mail exists exactly
when the order (or whatever caused it) was committed. `deliver_due` sends due rows: it is
called by the worker (`flask --app shop worker`) and, in development, right after a request
that queued mail. It works in a session of its own and commits after every email.

Claiming: a row is claimed by moving its `next_attempt_at` a lease into the future with an
UPDATE that re-checks the row is still unsent and due. Only one writer can win that UPDATE
(PostgreSQL re-evaluates it on the locked row; SQLite has one writer at a time), and the
candidate is picked with FOR UPDATE SKIP LOCKED on PostgreSQL so concurrent workers pick
different rows instead of waiting. No lock is held while talking to the SMTP server. A
worker that dies after claiming leaves the row to be retried when the lease ends; one that
dies between the SMTP server's acceptance and the commit sends it again then (at least
once: the Message-ID stays the same, so mail clients can tell).

Failing: an email the server refuses (or that cannot be built) fails alone and is retried
with a backoff; one refused for good (5xx) on its MAX_ATTEMPTS-th try, or addressed where
no server without SMTPUTF8 can deliver (a non-ASCII local part), is given up (`failed_at`)
with a warning. A server that is unreachable, hangs, or answers "try later" (4xx) fails
the run or the try, never the email: it waits, however long.
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
import ssl
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any, Protocol, cast

from email_validator import EmailNotValidError, validate_email
from flask import Flask, Response, current_app, g, has_app_context, render_template
from sqlalchemy import ColumnElement, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from shop.config import Settings
from shop.extensions import db
from shop.mail.models import OutboxEmail

log = logging.getLogger("shop.mail")

SMTP_TIMEOUT = 10
# Longer than sending one email can take (the SMTP timeout is per socket operation).
CLAIM_LEASE = timedelta(minutes=5)
MAX_BACKOFF_MINUTES = 60
MAX_ERROR_LENGTH = 500
# Tries before an email refused for good (5xx) is given up: about two hours with the backoff.
MAX_ATTEMPTS = 8
# SMTP errors about one message; the connection stays usable (smtplib sends RSET).
MESSAGE_ERRORS = (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError)


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    given_up: int = 0


class UndeliverableAddress(ValueError):
    """The recipient cannot be written for SMTP without SMTPUTF8: no try can ever send it."""


def smtp_address(to: str) -> str:
    """`to` as plain SMTP carries it: ASCII, an internationalised domain in its IDNA form.

    Raises UndeliverableAddress for a local part outside ASCII (most servers refuse those,
    and the forms refuse them before they reach the outbox).
    """
    if to.isascii():
        return to
    try:
        checked = validate_email(
            to, check_deliverability=False, allow_smtputf8=False, test_environment=True
        )
    except EmailNotValidError as exc:
        raise UndeliverableAddress(f"the address cannot be sent without SMTPUTF8: {exc}") from None
    if not checked.ascii_email:
        raise UndeliverableAddress("the address cannot be sent without SMTPUTF8")
    return checked.ascii_email


def queue_email(*, to: str, subject: str, text: str, html: str | None = None) -> OutboxEmail:
    """Add an email to the outbox in the current transaction; never sends.

    The caller commits it with the rest of its work. Raises ValueError for a recipient or
    subject that cannot go into a header (a line break would inject headers).
    """
    to = to.strip()
    if not to or len(to) > 254 or any(c in to for c in "\r\n"):
        raise ValueError(f"not a usable recipient: {to!r}")
    if len(subject) > 300 or any(c in subject for c in "\r\n"):
        raise ValueError(f"not a usable subject: {subject!r}")
    email = OutboxEmail(to=to, subject=subject, body_text=text, body_html=html)
    db.session.add(email)
    db.session.flush()
    if has_app_context():
        g._mail_queued = True
        g.setdefault("_mail_queued_ids", []).append(email.id)
    return email


def queue_mail(*, to: str, subject: str, template: str, **context: Any) -> OutboxEmail:
    """Queue the email written in `templates/mail/<template>.txt` and `.html` (rendered with
    `context`) in the current transaction, as `queue_email` does."""
    return queue_email(
        to=to,
        subject=subject,
        text=render_template(f"mail/{template}.txt", **context),
        html=render_template(f"mail/{template}.html", **context),
    )


def backoff(attempts: int) -> timedelta:
    """Wait before attempt `attempts + 1`: 1, 2, 4, 8 ... minutes, at most an hour."""
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), MAX_BACKOFF_MINUTES))


class _Transport(Protocol):
    def send(self, email: OutboxEmail, message: EmailMessage) -> None: ...

    def close(self) -> None: ...


class _LogTransport:
    """No MAIL_SERVER (development, or production with SHOP_WAIVE=mail): the email goes to
    the log. Its recipient and body are personal data, so they are logged at DEBUG only."""

    def send(self, email: OutboxEmail, message: EmailMessage) -> None:
        log.info("email %s not sent (no MAIL_SERVER), logged: %s", email.id, email.subject)
        log.debug("email %s\nTo: %s\n\n%s", email.id, email.to, email.body_text)

    def close(self) -> None:
        pass


class _SMTPTransport:
    """One SMTP connection for a batch, opened on the first email: TLS from the start
    (MAIL_USE_SSL) or after STARTTLS (MAIL_USE_TLS), verified against MAIL_CA_FILE or the
    system's authorities, and signed in when MAIL_USERNAME is set."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        settings = self.settings
        host, port = settings.mail_server or "", settings.mail_port
        tls = None
        if settings.mail_use_ssl or settings.mail_use_tls:
            tls = ssl.create_default_context(cafile=settings.mail_ca_file)
        smtp: smtplib.SMTP
        if settings.mail_use_ssl:
            smtp = smtplib.SMTP_SSL(host, port, timeout=SMTP_TIMEOUT, context=tls)
        else:
            smtp = smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT)
        try:
            if settings.mail_use_tls:
                smtp.starttls(context=tls)
            if settings.mail_username:
                smtp.login(settings.mail_username, settings.mail_password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, email: OutboxEmail, message: EmailMessage) -> None:
        if self.smtp is None:
            self.smtp = self._connect()
        try:
            self.smtp.send_message(message, to_addrs=[str(message["To"])])
        except MESSAGE_ERRORS:
            if self.smtp.sock is None:  # smtplib hung up (a 421 answer): reconnect next time
                self.smtp = None
            raise
        except Exception:
            self.abort()
            raise

    def abort(self) -> None:
        if self.smtp is not None:
            with contextlib.suppress(OSError):
                self.smtp.close()
            self.smtp = None

    def close(self) -> None:
        if self.smtp is not None:
            with contextlib.suppress(OSError):
                self.smtp.quit()
            self.abort()


def _aware(value: datetime) -> datetime:
    """UTC-aware (SQLite hands back naive UTC; a naive argument is taken as UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def build_message(email: OutboxEmail, *, sender: str, now: datetime) -> EmailMessage:
    """The MIME message: text, plus an HTML alternative when there is one."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    message = EmailMessage()
    message["From"] = sender
    message["To"] = smtp_address(email.to)
    message["Subject"] = email.subject
    message["Date"] = format_datetime(_aware(now))
    # Stable per outbox row, so a resend after a crash carries the same Message-ID.
    created = int(_aware(email.created_at).timestamp())
    message["Message-ID"] = f"<outbox.{email.id}.{created}@{domain}>"
    message.set_content(email.body_text)
    if email.body_html:
        message.add_alternative(email.body_html, subtype="html")
    return message


def _due(now: datetime) -> list[ColumnElement[bool]]:
    return [
        OutboxEmail.sent_at.is_(None),
        OutboxEmail.failed_at.is_(None),
        OutboxEmail.next_attempt_at <= now,
    ]


def _claim_next(session: Session, now: datetime, ids: Collection[int] | None) -> OutboxEmail | None:
    """The next email due at `now`, claimed for this worker (committed), or None.

    The claim is a lease that starts when the row is claimed (by the clock, not at the
    start of the batch), so a long batch never claims rows whose lease has already run out
    and that another worker would send too.
    """
    while True:
        query = select(OutboxEmail).where(*_due(now)).order_by(OutboxEmail.id).limit(1)
        if ids is not None:
            query = query.where(OutboxEmail.id.in_(ids))
        query = query.with_for_update(skip_locked=True).execution_options(populate_existing=True)
        email = session.scalars(query).first()
        if email is None:
            session.commit()
            return None
        claimed = session.execute(
            update(OutboxEmail)
            .where(OutboxEmail.id == email.id, *_due(now))
            .values(next_attempt_at=max(now, datetime.now(UTC)) + CLAIM_LEASE)
            .execution_options(synchronize_session=False)
        )
        session.commit()
        if cast(CursorResult[Any], claimed).rowcount == 1:
            return email
        # Another worker claimed it between our SELECT and UPDATE (SQLite): pick again.


def server_failed(exc: Exception) -> bool:
    """The server, not this email, failed (unreachable, hanging, TLS or sign-in refused):
    the rest of the batch waits for the next run, and the email is never given up for it."""
    return isinstance(exc, OSError) and not isinstance(exc, MESSAGE_ERRORS)


def refused_for_good(exc: Exception) -> bool:
    """The server refused this email with a permanent (5xx) answer, or it could not be
    built; a temporary (4xx) answer, like a server that fails, is only waited out."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500
    return not isinstance(exc, OSError)


def gives_up(exc: Exception, attempts: int) -> bool:
    """Whether this failure ends the email's tries: an address nothing can send to at once,
    an email refused for good (or unbuildable) on its MAX_ATTEMPTS-th try; never a server
    that failed or asked to try later."""
    if isinstance(exc, UndeliverableAddress):
        return True
    return attempts >= MAX_ATTEMPTS and refused_for_good(exc)


def describe(exc: Exception) -> str:
    """The failure as the row keeps it and the log says it: for a refused recipient, the
    server's answer without the address (the log carries no personal data)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        answers = (
            f"{code} {text.decode(errors='replace')}" for code, text in exc.recipients.values()
        )
        return "SMTPRecipientsRefused: " + "; ".join(answers)
    return f"{type(exc).__name__}: {exc}"


def _record_failure(session: Session, email: OutboxEmail, exc: Exception, now: datetime) -> bool:
    """Note the failed attempt on the row (committed); True when the email is given up."""
    attempts = email.attempts + 1
    error = describe(exc)[:MAX_ERROR_LENGTH]
    retry_at = now + backoff(attempts)
    given_up = gives_up(exc, attempts)
    values: dict[str, Any] = {"attempts": attempts, "last_error": error}
    if given_up:
        values["failed_at"] = now
    else:
        values["next_attempt_at"] = retry_at
    session.execute(
        update(OutboxEmail)
        .where(OutboxEmail.id == email.id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    if given_up:
        log.warning("email %s given up after %s attempt(s): %s", email.id, attempts, error)
        return True
    log.warning(
        "email %s not sent (attempt %s): %s; next attempt at %s",
        email.id,
        attempts,
        error,
        retry_at.isoformat(timespec="seconds"),
    )
    return False


def deliver_due(
    *, now: datetime | None = None, limit: int = 50, ids: Collection[int] | None = None
) -> DeliveryReport:
    """Send up to `limit` unsent emails whose time has come, oldest first.

    Owns its transactions (a session of its own, committed after every email), so it must
    be called outside a request's unit of work. `ids` restricts it to those outbox rows.
    A failure to build or send one email is recorded on its row with a backoff (or gives it
    up, see `gives_up`); after a server failure the rest of the batch waits for the next
    run. Database errors propagate (rolled back, nothing half-done left open).
    """
    now = _aware(now) if now is not None else datetime.now(UTC)
    settings = current_app.config["SHOP_SETTINGS"]
    transport: _Transport = _SMTPTransport(settings) if settings.mail_server else _LogTransport()
    report = DeliveryReport()
    try:
        with Session(db.engine, expire_on_commit=False) as session:
            for _ in range(limit):
                email = _claim_next(session, now, ids)
                if email is None:
                    break
                try:
                    message = build_message(email, sender=settings.mail_default_sender, now=now)
                    transport.send(email, message)
                except Exception as exc:
                    report.failed += 1
                    report.given_up += _record_failure(session, email, exc, now)
                    if server_failed(exc):
                        break  # leave the rest for the next run
                    continue
                session.execute(
                    update(OutboxEmail)
                    .where(OutboxEmail.id == email.id)
                    .values(sent_at=now, last_error="")
                    .execution_options(synchronize_session=False)
                )
                session.commit()
                report.sent += 1
    finally:
        transport.close()
    return report


def troubled(*, limit: int = 100) -> tuple[list[OutboxEmail], list[OutboxEmail]]:
    """What staff must see: the emails given up, newest first, and those still waiting
    after a failed try, oldest first (each list at most `limit` long)."""
    given_up = db.session.scalars(
        select(OutboxEmail)
        .where(OutboxEmail.failed_at.is_not(None))
        .order_by(OutboxEmail.failed_at.desc(), OutboxEmail.id.desc())
        .limit(limit)
    ).all()
    waiting = db.session.scalars(
        select(OutboxEmail)
        .where(
            OutboxEmail.sent_at.is_(None),
            OutboxEmail.failed_at.is_(None),
            OutboxEmail.attempts > 0,
        )
        .order_by(OutboxEmail.id)
        .limit(limit)
    ).all()
    return list(given_up), list(waiting)


def register(app: Flask) -> None:
    """Send mail queued by a request right after it, when MAIL_SEND_AFTER_COMMIT is on.

    On by default in development (no worker needed to see mail); off in tests and in
    production, where `flask --app shop worker` sends. Only rows the view has committed
    are sent (delivery reads in its own session); a failure is logged, never raised.
    """
    settings = app.config["SHOP_SETTINGS"]
    app.config.setdefault("MAIL_SEND_AFTER_COMMIT", not app.testing and not settings.production)

    @app.after_request
    def send_queued_mail(response: Response) -> Response:
        if not app.config.get("MAIL_SEND_AFTER_COMMIT") or not g.get("_mail_queued"):
            return response
        ids = g.pop("_mail_queued_ids", [])
        g._mail_queued = False
        try:
            deliver_due(ids=ids)
        except Exception:
            log.exception("sending mail %s after the request failed; the worker retries", ids)
        return response
