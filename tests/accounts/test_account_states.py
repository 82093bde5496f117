"""Accounts and guest orders under any sequence of guest checkouts, registrations (also of
someone else's address), confirmations, stale links, sign-ins and closings (Hypothesis
drives the real routes through test clients).

After every step: an order is in an account only if the account's address is confirmed and
is the order's address (or the order was placed signed in); once in an account an order
stays there, closing included; no order is ever lost; each signed-in buyer's order list
shows exactly the orders of their account."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import select

from shop import create_app
from shop.accounts.models import User
from shop.extensions import db
from shop.orders.models import Order
from tests.accounts.helpers import link_in, register
from tests.conftest import PASSWORD, csrf_token, empty_tables, sign_in

EMAILS = ("ana@clinic.example", "ben@clinic.example")


class Accounts(RuleBasedStateMachine):
    def __init__(self, app: Flask) -> None:
        super().__init__()
        self.app = app
        with app.app_context():
            empty_tables()
        self.clients: dict[str, FlaskClient] = {}  # email -> the browser of its owner
        self.links: dict[str, list[str]] = {e: [] for e in EMAILS}
        self.linked: dict[int, int] = {}  # order id -> account id, once linked
        self.orders = 0

    def _orders(self) -> list[Order]:
        with self.app.app_context():
            rows = list(db.session.scalars(select(Order).order_by(Order.id)))
            db.session.expunge_all()
            return rows

    def _accounts(self) -> dict[int, User]:
        with self.app.app_context():
            rows = {u.id: u for u in db.session.scalars(select(User))}
            db.session.expunge_all()
            return rows

    @rule(email=st.sampled_from(EMAILS), shout=st.booleans())
    def guest_checkout(self, email: str, shout: bool) -> None:
        """A guest order, as checkout stores it (the address as typed, any case)."""
        with self.app.app_context():
            db.session.add(
                Order(
                    number=f"T-{self.orders + 1:05d}",
                    token=secrets.token_urlsafe(24),
                    status="awaiting_transfer",
                    payment_method="bank_transfer",
                    email=email.upper() if shout else email,
                    contact_name="Guest",
                    shipping_address="Calle Mayor 1\n28013 Madrid",
                    country="ES",
                    currency="usd",
                    subtotal=3000,
                    shipping_amount=1500,
                    total=4500,
                )
            )
            db.session.commit()
        self.orders += 1

    @rule(email=st.sampled_from(EMAILS))
    def register(self, email: str) -> None:
        client = self.app.test_client()
        response = register(client, email)
        if response.status_code == 303:
            self.clients[email] = client
            self.links[email].append(link_in(self.app, email, "Confirm your email address"))
        else:
            assert response.status_code == 422
            assert "An account with this email exists" in response.get_data(as_text=True)

    @rule(email=st.sampled_from(EMAILS), newest=st.booleans())
    def follow_a_confirmation_link(self, email: str, newest: bool) -> None:
        if not self.links[email]:
            return
        link = self.links[email][-1 if newest else 0]
        response = self.app.test_client().get(link)
        assert response.status_code in (303, 400)

    @rule(email=st.sampled_from(EMAILS))
    def sign_in(self, email: str) -> None:
        client = self.app.test_client()
        response = sign_in(client, email)
        if response.status_code != 303:
            return
        self.clients[email] = client
        with self.app.app_context():
            user = db.session.scalars(select(User).where(User.email == email)).one()
            if user.email_confirmed_at is not None:  # every guest order of the address joins
                unlinked = db.session.scalars(
                    select(Order).where(Order.user_id.is_(None), Order.email.ilike(email))
                ).all()
                assert unlinked == []

    @rule(email=st.sampled_from(EMAILS))
    def close(self, email: str) -> None:
        client = self.clients.pop(email, None)
        if client is None or client.get("/account").status_code != 200:
            return
        response = client.post(
            "/account/close",
            data={"password": PASSWORD, "csrf_token": csrf_token(client, "/account/close")},
        )
        assert response.status_code == 303
        self.links[email] = []

    @invariant()
    def orders_are_only_in_the_account_of_their_confirmed_address_and_stay_there(self) -> None:
        accounts = self._accounts()
        orders = self._orders()
        assert len(orders) == self.orders
        for order in orders:
            if order.id in self.linked:
                assert order.user_id == self.linked[order.id]
            if order.user_id is None:
                continue
            self.linked[order.id] = order.user_id
            owner = accounts[order.user_id]
            assert owner.email_confirmed_at is not None
            if owner.closed_at is None:
                assert owner.email.lower() == order.email.lower()

    @invariant()
    def each_buyer_sees_exactly_their_accounts_orders(self) -> None:
        orders = self._orders()
        for email, client in self.clients.items():
            response = client.get("/account/orders")
            if response.status_code != 200:
                continue  # signed out meanwhile (a new password elsewhere, a closing)
            shown = set(re.findall(r"T-\d{5}", response.get_data(as_text=True)))
            with self.app.app_context():
                user = db.session.scalars(select(User).where(User.email == email)).first()
            assert user is not None
            assert shown == {o.number for o in orders if o.user_id == user.id}


@pytest.fixture
def unlimited_app(database_url: str) -> Iterator[Flask]:
    """The shop without rate limits: a run registers and signs in more often than a person."""
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "TESTING": True,
            "CACHE_TYPE": "SimpleCache",
            "RATELIMIT_ENABLED": False,
        }
    )
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_accounts_and_guest_orders_hold_under_any_sequence(unlimited_app: Flask) -> None:
    app = unlimited_app
    run_state_machine_as_test(
        lambda: Accounts(app),
        settings=settings(
            max_examples=15,
            stateful_step_count=20,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
