"""The buyer's account steps the tests repeat: register, read the mailed links, confirm."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from shop.extensions import db
from shop.mail.models import OutboxEmail
from tests.conftest import PASSWORD, csrf_token

CLINIC = {
    "name": "Dr Ana Ruiz",
    "company": "Clinica Ruiz",
    "country": "ES",
    "phone": "+34 600 000 000",
    "vat_id": "",
    "licence_number": "COMM-28-123456",
}


def register(
    client: FlaskClient, email: str = "buyer@clinic.example", *, next: str = "", **changes: str
) -> TestResponse:
    path = "/account/register" + (f"?next={next}" if next else "")
    data = {
        **CLINIC,
        "email": email,
        "password": PASSWORD,
        "confirm": PASSWORD,
        **changes,
        "csrf_token": csrf_token(client, "/account/register"),
    }
    return client.post(path, data=data)


def mails_to(app: Flask, email: str) -> list[OutboxEmail]:
    with app.app_context():
        found = db.session.scalars(
            select(OutboxEmail).where(OutboxEmail.to == email).order_by(OutboxEmail.id)
        ).all()
        db.session.expunge_all()
        return list(found)


def link_in(app: Flask, email: str, subject: str) -> str:
    """The path of the last link mailed to `email` under `subject`, as a buyer clicks it."""
    mails = [m for m in mails_to(app, email) if m.subject == subject]
    assert mails, f"no mail {subject!r} to {email}"
    match = re.search(r"https?://[^/\s]+(/account/\S+)", mails[-1].body_text)
    assert match, mails[-1].body_text
    return match.group(1)


def confirm(app: Flask, client: FlaskClient, email: str = "buyer@clinic.example") -> TestResponse:
    return client.get(link_in(app, email, "Confirm your email address"))
