"""Staff see the mail that did not go: given up, or waiting after a failed try."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from shop.extensions import db
from shop.mail.services import queue_email
from tests.html_check import assert_valid_html


def _outbox(app: Flask) -> None:
    with app.app_context():
        now = datetime.now(UTC)
        queue_email(to="fine@clinic.example", subject="Order 2026-000001", text="x")
        gone = queue_email(to="gone@clinic.example", subject="Order 2026-000002", text="x")
        gone.attempts, gone.failed_at = 8, now
        gone.last_error = "SMTPRecipientsRefused: 550 5.1.1 No such mailbox here"
        later = queue_email(to="busy@clinic.example", subject="Quote Q-7 is ready", text="x")
        later.attempts, later.next_attempt_at = 2, now + timedelta(minutes=2)
        later.last_error = "ConnectionRefusedError: [Errno 111] Connection refused"
        db.session.commit()


def test_staff_see_mail_given_up_and_waiting_with_the_servers_answer(
    app: Flask, staff_client: FlaskClient
) -> None:
    _outbox(app)
    page = staff_client.get("/admin/mail")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    given_up, waiting = text.split("Waiting after a failed try")
    assert "gone@clinic.example" in given_up and "550 5.1.1 No such mailbox here" in given_up
    assert "busy@clinic.example" in waiting and "Connection refused" in waiting
    assert "fine@clinic.example" not in text  # waiting for its first try: nothing to see
    assert 'href="/admin/mail"' in text  # in the back-office menu


def test_the_mail_page_is_valid_html_full_and_empty(
    app: Flask, staff_client: FlaskClient, tmp_path: Path
) -> None:
    empty = staff_client.get("/admin/mail").data
    _outbox(app)
    assert_valid_html({"empty": empty, "full": staff_client.get("/admin/mail").data}, tmp_path)


def test_an_empty_mail_page_says_all_is_well(staff_client: FlaskClient) -> None:
    text = staff_client.get("/admin/mail").get_data(as_text=True)
    assert "No email has been given up." in text
    assert "Every email has gone at its first try or is waiting for it." in text


def test_buyers_cannot_see_the_mail_page(app: Flask, buyer_client: FlaskClient) -> None:
    _outbox(app)
    assert buyer_client.get("/admin/mail").status_code == 403
