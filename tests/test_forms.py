"""Shared form checks, seen where buyers type them: an email address mail can be sent to."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from shop.accounts.models import User
from shop.extensions import db
from shop.forms import PLAIN_ADDRESS
from shop.mail.models import OutboxEmail
from shop.orders.models import Order
from shop.quotes.models import Quote
from tests.conftest import csrf_token
from tests.flows import add_to_cart, checkout, stock_needle
from tests.quotes.flow import post_request

UNSENDABLE = "dörte@klinik.example"


def counts(app: Flask) -> tuple[int, ...]:
    with app.app_context():
        return tuple(
            db.session.scalar(select(func.count()).select_from(table)) or 0
            for table in (User, Order, Quote, OutboxEmail)
        )


def sent_form(client: FlaskClient, form: str, app: Flask) -> str:
    if form == "checkout":
        stock_needle(app)
        add_to_cart(client, 2)
        response = checkout(client, email=UNSENDABLE)
    elif form == "quote request":
        stock_needle(app)
        response = post_request(client, {"email": UNSENDABLE})
    else:
        path = "/account/register" if form == "register" else "/account/login"
        response = client.post(
            path,
            data={
                "name": "Dörte Sommer",
                "email": UNSENDABLE,
                "password": "a long password 123",
                "confirm": "a long password 123",
                "csrf_token": csrf_token(client, path),
            },
        )
    assert response.status_code in (200, 422), response.status_code
    return response.get_data(as_text=True)


@pytest.mark.parametrize("form", ["checkout", "quote request", "register", "sign in"])
def test_an_address_with_letters_mail_cannot_carry_is_refused_with_a_clear_message(
    app: Flask, client: FlaskClient, form: str
) -> None:
    before = counts(app)
    page = sent_form(client, form, app)
    assert PLAIN_ADDRESS in page
    assert counts(app) == before  # nothing made, nothing queued


def test_an_internationalised_domain_is_accepted_at_registration(
    app: Flask, client: FlaskClient
) -> None:
    response = client.post(
        "/account/register",
        data={
            "name": "Jana Vogel",
            "company": "Praxis Vogel",
            "country": "DE",
            "email": "jana@bücher.example",
            "password": "a long password 123",
            "confirm": "a long password 123",
            "csrf_token": csrf_token(client, "/account/register"),
        },
    )
    assert response.status_code == 303
    with app.app_context():
        assert db.session.scalar(select(User.email)) == "jana@bücher.example"
