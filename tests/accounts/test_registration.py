"""Registering, confirming the address by its mailed link, resetting a password, and the
links' rules: signed, expiring, good once."""

from __future__ import annotations

import time

from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select

from shop.accounts import tokens
from shop.accounts.models import User
from shop.extensions import db
from tests.accounts.helpers import confirm, link_in, mails_to, register
from tests.conftest import PASSWORD, csrf_token, sign_in
from tests.flows import add_to_cart, checkout, order, stock_needle


def test_registration_keeps_the_clinic_details_and_mails_a_confirmation_link(
    app: Flask, client: FlaskClient
) -> None:
    response = register(client, vat_id="esb12345674")
    assert response.status_code == 303 and response.location.endswith("/account")
    page = client.get("/account").get_data(as_text=True)
    assert "Please confirm your email address" in page and "Clinica Ruiz" in page
    with app.app_context():
        user = db.session.scalars(select(User)).one()
        assert (user.company, user.country, user.vat_id, user.licence_number) == (
            "Clinica Ruiz",
            "ES",
            "ESB12345674",
            "COMM-28-123456",
        )
        assert user.email_confirmed_at is None and user.verification == "none"
    assert [m.subject for m in mails_to(app, "buyer@clinic.example")] == [
        "Confirm your email address"
    ]
    assert confirm(app, client).status_code == 303
    assert "Professional status: <strong>Waiting for verification" in client.get(
        "/account"
    ).get_data(as_text=True)


def test_registration_refuses_an_invalid_vat_id_and_keeps_what_was_typed(
    app: Flask, client: FlaskClient
) -> None:
    response = register(client, vat_id="DE123456789")  # a check digit off
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "That is not a valid EU VAT ID" in html
    assert 'value="Clinica Ruiz"' in html and 'value="DE123456789"' in html


def test_guest_orders_join_the_account_only_once_its_address_is_confirmed(
    app: Flask, client: FlaskClient
) -> None:
    stock_needle(app)
    guest = app.test_client()
    add_to_cart(guest, 2)
    assert checkout(guest, payment_method="bank_transfer").status_code == 303
    number = order(app).number
    assert register(client).status_code == 303
    assert "No orders yet" in client.get("/account/orders").get_data(as_text=True)
    # Someone who registers another person's address sees nothing of theirs.
    assert number not in client.get("/account").get_data(as_text=True)
    response = confirm(app, client)
    assert response.status_code == 303
    flashed = client.get(response.location).get_data(as_text=True)
    assert "1 earlier order placed with it is now in your account." in flashed
    assert number in client.get("/account/orders").get_data(as_text=True)


def test_a_confirmation_link_works_once(app: Flask, client: FlaskClient) -> None:
    register(client)
    link = link_in(app, "buyer@clinic.example", "Confirm your email address")
    assert client.get(link).status_code == 303
    again = client.get(link)
    assert again.status_code == 400
    assert "This link has already been used." in again.get_data(as_text=True)


def test_forged_and_expired_links_are_refused(app: Flask, client: FlaskClient) -> None:
    register(client)
    link = link_in(app, "buyer@clinic.example", "Confirm your email address")
    forged = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
    response = client.get(forged)
    assert response.status_code == 400
    assert "This link is not valid." in response.get_data(as_text=True)

    class ThreeDaysAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 3 * 24 * 3600

    with app.app_context():
        user = db.session.scalars(select(User)).one()
        payload = {"u": user.id, "f": tokens._fingerprint(user, tokens.Purpose.CONFIRM_EMAIL)}
        signed_then = URLSafeTimedSerializer(
            app.config["SECRET_KEY"], salt="account-confirm-email", signer=ThreeDaysAgo
        )
        old = signed_then.dumps(payload)
    response = client.get(f"/account/confirm/{old}")
    assert response.status_code == 400
    assert "This link has expired." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(User)).one().email_confirmed_at is None
    # The genuine link, still young, works.
    assert client.get(link).status_code == 303


def test_the_link_can_be_sent_again(app: Flask, client: FlaskClient) -> None:
    register(client)
    token = csrf_token(client, "/account")
    assert client.post("/account/confirm/resend", data={"csrf_token": token}).status_code == 303
    assert len(mails_to(app, "buyer@clinic.example")) == 2
    assert confirm(app, client).status_code == 303


def _forgot(client: FlaskClient, email: str):  # type: ignore[no-untyped-def]
    token = csrf_token(client, "/account/password/forgot")
    return client.post("/account/password/forgot", data={"email": email, "csrf_token": token})


def test_a_password_reset_never_says_whether_an_address_has_an_account(
    app: Flask, client: FlaskClient
) -> None:
    register(app.test_client())
    says = []
    for email in ("buyer@clinic.example", "nobody@clinic.example"):
        response = _forgot(client, email)
        assert response.status_code == 303 and response.location.endswith("/account/login")
        says.append(client.get(response.location).get_data(as_text=True))
    assert "If an account uses that address" in says[0]
    assert says[0] == says[1]
    assert [m.subject for m in mails_to(app, "buyer@clinic.example")][-1] == "Reset your password"
    assert mails_to(app, "nobody@clinic.example") == []


def test_a_reset_link_sets_a_new_password_once_and_ends_other_sessions(
    app: Flask, client: FlaskClient
) -> None:
    other_device = app.test_client()
    register(other_device)
    _forgot(client, "buyer@clinic.example")
    link = link_in(app, "buyer@clinic.example", "Reset your password")
    new = "a brand new passphrase"
    form = client.get(link)
    assert form.status_code == 200 and form.headers["Referrer-Policy"] == "no-referrer"
    short = client.post(
        link, data={"password": "short", "confirm": "short", "csrf_token": csrf_token(client, link)}
    )
    assert short.status_code == 422 and "Use at least 12 characters." in short.get_data(
        as_text=True
    )
    done = client.post(
        link, data={"password": new, "confirm": new, "csrf_token": csrf_token(client, link)}
    )
    assert done.status_code == 303 and done.location.endswith("/account")
    assert client.get("/account").status_code == 200  # signed in with the new password
    assert other_device.get("/account").status_code == 302  # the old session is over
    used = app.test_client().get(link)
    assert used.status_code == 400 and "already been used" in used.get_data(as_text=True)
    assert sign_in(app.test_client(), "buyer@clinic.example", PASSWORD).status_code == 401
    assert sign_in(app.test_client(), "buyer@clinic.example", new).status_code == 303


def test_registration_and_reset_are_rate_limited(app: Flask, client: FlaskClient) -> None:
    statuses = [_forgot(client, "someone@clinic.example").status_code for _ in range(5)]
    assert statuses == [303, 303, 303, 429, 429]  # three a hour for one address
