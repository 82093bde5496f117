"""Fixtures: an app on a fresh migrated database (SQLite, or PostgreSQL when
TEST_DATABASE_URL is set: a database of its own per run, created and dropped)."""

from __future__ import annotations

import dataclasses
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy.engine import make_url

from shop import create_app
from shop.extensions import db
from tests.stripe_standin import StripeStandIn


def _postgres_database() -> Iterator[str]:
    base = make_url(os.environ["TEST_DATABASE_URL"])
    name = f"shop_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One migrated database for the whole run."""
    if os.environ.get("TEST_DATABASE_URL"):
        gen = _postgres_database()
        url = next(gen)
    else:
        gen = None
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'shop.sqlite3'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
    with app.app_context():
        upgrade()
        db.engine.dispose()
    yield url
    if gen is not None:
        for _ in gen:
            pass


def empty_tables() -> None:
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "TESTING": True,
            "CACHE_TYPE": "SimpleCache",
        }
    )
    with app.app_context():
        empty_tables()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask):  # type: ignore[no-untyped-def]
    return app.test_cli_runner()


@pytest.fixture
def demo(app: Flask) -> None:
    """The demo catalogue, loaded as `flask seed-demo` loads it."""
    from shop.demo import load_demo

    with app.app_context():
        load_demo()
        db.session.commit()


WEBHOOK_SECRET = "whsec_test_secret"


@pytest.fixture
def stripe_standin() -> Iterator[StripeStandIn]:
    """Stripe's API on a loopback port, for the real stripe SDK."""
    with StripeStandIn() as standin:
        yield standin
        assert standin.server_errors == []


@pytest.fixture
def stripe_app(app: Flask, stripe_standin: StripeStandIn) -> Flask:
    """The shop with card payment configured against the stand-in."""
    app.config["SHOP_SETTINGS"] = dataclasses.replace(
        app.config["SHOP_SETTINGS"],
        stripe_secret_key="sk_test_shop",
        stripe_webhook_secret=WEBHOOK_SECRET,
        stripe_api_base=stripe_standin.base_url,
    )
    return app


def csrf_token(client: FlaskClient, path: str = "/cart") -> str:
    """The CSRF token a page gives this client, as a browser would read it."""
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, f"no csrf_token on {path}"
    return match.group(1)


PASSWORD = "correct horse battery"


def sign_in(client: FlaskClient, email: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    token = csrf_token(client, "/account/login")
    return client.post(
        "/account/login", data={"email": email, "password": password, "csrf_token": token}
    )


def _client_as(app: Flask, role: str) -> FlaskClient:
    from tests.factories import make_user

    with app.app_context():
        make_user(f"{role}@shop.example", role=role)
        db.session.commit()
    client = app.test_client()
    assert sign_in(client, f"{role}@shop.example").status_code == 303
    return client


@pytest.fixture
def staff_client(app: Flask) -> FlaskClient:
    return _client_as(app, "staff")


@pytest.fixture
def admin_client(app: Flask) -> FlaskClient:
    return _client_as(app, "admin")


@pytest.fixture
def buyer_client(app: Flask) -> FlaskClient:
    return _client_as(app, "buyer")
