"""Settings from the environment: what production refuses to start without, the host names
the shop answers to, the proxies it trusts, and links built on SHOP_BASE_URL only."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator

import pytest
from flask import Flask

from shop import create_app
from shop.config import ConfigError, Settings
from shop.extensions import db
from shop.mail.models import OutboxEmail
from tests.conftest import PASSWORD, WEBHOOK_SECRET, csrf_token
from tests.factories import make_user
from tests.flows import add_to_cart, checkout, order, stock_needle
from tests.quotes.flow import request_quote
from tests.stripe_standin import StripeStandIn

PRODUCTION = {
    "SHOP_ENV": "production",
    "SECRET_KEY": "s" * 40,
    "SHOP_BASE_URL": "https://shop.example",
    "DATABASE_URL": "postgresql+psycopg://shop@db/shop",
    "REDIS_URL": "redis://cache:6379/0",
    "MAIL_SERVER": "smtp.example",
}


def _env(monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> None:
    mail = ("MAIL_USE_TLS", "MAIL_USE_SSL", "MAIL_USERNAME", "MAIL_PASSWORD", "MAIL_CA_FILE")
    for name in (*PRODUCTION, *mail, "SHOP_WAIVE", "TRUSTED_HOSTS", "SHOP_PROXY_HOPS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def test_production_starts_with_everything_it_needs(monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, PRODUCTION)
    settings = Settings.from_env()
    assert settings.production and settings.trusted_hosts == ("shop.example",)
    config = settings.flask_config()
    assert config["SESSION_COOKIE_SECURE"] and config["TRUSTED_HOSTS"] == ["shop.example"]


def test_production_names_everything_missing_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch, {"SHOP_ENV": "production"})
    with pytest.raises(ConfigError) as refused:
        Settings.from_env()
    message = str(refused.value)
    for name in ("SECRET_KEY", "SHOP_BASE_URL", "DATABASE_URL", "REDIS_URL", "MAIL_SERVER"):
        assert name in message


def test_production_runs_without_what_is_waived_and_only_that(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    values = {k: v for k, v in PRODUCTION.items() if k not in ("REDIS_URL", "MAIL_SERVER")}
    _env(monkeypatch, {**values, "SHOP_WAIVE": "redis"})
    with pytest.raises(ConfigError, match="MAIL_SERVER") as refused:
        Settings.from_env()
    assert "REDIS_URL" not in str(refused.value)
    _env(monkeypatch, {**values, "SHOP_WAIVE": "redis,mail"})
    assert Settings.from_env().production
    _env(monkeypatch, {**PRODUCTION, "SHOP_WAIVE": "secret_key"})
    with pytest.raises(ConfigError, match="only postgres, redis, mail can be waived"):
        Settings.from_env()


def test_mail_settings_are_read_and_contradictions_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mail = {
        "MAIL_USE_TLS": "1",
        "MAIL_USERNAME": "shop",
        "MAIL_PASSWORD": "s3cret",
        "MAIL_CA_FILE": "/etc/ssl/mail-ca.pem",
    }
    _env(monkeypatch, {**PRODUCTION, **mail})
    settings = Settings.from_env()
    assert (settings.mail_use_tls, settings.mail_use_ssl) == (True, False)
    assert (settings.mail_username, settings.mail_password) == ("shop", "s3cret")
    assert settings.mail_ca_file == "/etc/ssl/mail-ca.pem"
    monkeypatch.setenv("MAIL_USE_SSL", "1")
    with pytest.raises(ConfigError, match="MAIL_USE_TLS .* and MAIL_USE_SSL .* exclude"):
        Settings.from_env()
    monkeypatch.delenv("MAIL_USE_SSL")
    monkeypatch.delenv("MAIL_USE_TLS")
    with pytest.raises(ConfigError, match="MAIL_USERNAME's password goes in clear"):
        Settings.from_env()


def test_logs_are_json_lines_in_production_and_text_in_development_unless_told(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _env(monkeypatch, PRODUCTION)
    monkeypatch.delenv("SHOP_LOG_FORMAT", raising=False)
    assert Settings.from_env().log_format == "json"
    monkeypatch.setenv("SHOP_LOG_FORMAT", "text")
    assert Settings.from_env().log_format == "text"
    _env(monkeypatch, {})
    monkeypatch.delenv("SHOP_LOG_FORMAT")
    assert Settings.from_env().log_format == "text"
    monkeypatch.setenv("SHOP_LOG_FORMAT", "xml")
    with pytest.raises(ConfigError, match="SHOP_LOG_FORMAT must be json or text, got 'xml'"):
        Settings.from_env()


@pytest.fixture
def with_settings(app: Flask) -> Iterator[Callable[..., Flask]]:
    """Another shop on the same database with some settings changed; its connections are
    closed after the test (left to the garbage collector, they would warn in a later one)."""
    made: list[Flask] = []

    def make(**changes: object) -> Flask:
        settings = dataclasses.replace(app.config["SHOP_SETTINGS"], **changes)
        shop = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                "TESTING": True,
                "SHOP_SETTINGS": settings,
            }
        )
        made.append(shop)
        return shop

    yield make
    for shop in made:
        with shop.app_context():
            db.session.remove()
            db.engine.dispose()


def test_links_are_built_on_the_shops_address_never_on_the_host_header(
    app: Flask, stripe_standin: StripeStandIn, with_settings: Callable[..., Flask]
) -> None:
    """A request sent with `Host: evil.example` gets the shop's own address in every link:
    canonical, sitemap, API, Stripe's return pages, and the email it queues."""
    stock_needle(app, {"L1": 20})
    shop = with_settings(
        base_url="https://shop.example",
        stripe_secret_key="sk_test_shop",
        stripe_webhook_secret=WEBHOOK_SECRET,
        stripe_api_base=stripe_standin.base_url,
    )
    client = shop.test_client()
    client.environ_base["HTTP_HOST"] = "evil.example"  # every request of this visitor
    for path in ("/", "/products/meso-32", "/sitemap.xml", "/robots.txt", "/api/v1/products"):
        body = client.get(path).get_data(as_text=True)
        assert "evil.example" not in body, path
        assert "https://shop.example/" in body, path
    add_to_cart(client, 2)
    checkout(client)
    placed = order(shop)
    params = stripe_standin.sessions[placed.stripe_session_id].params
    assert params["success_url"].startswith("https://shop.example/checkout/success")
    assert params["cancel_url"].startswith("https://shop.example/checkout/cancel")
    request_quote(shop, client)
    with shop.app_context():
        bodies = [m.body_text for m in db.session.scalars(db.select(OutboxEmail))]
    assert bodies and all("evil.example" not in b for b in bodies)
    assert any(re.search(r"https://shop\.example/quotes/\S+", b) for b in bodies)


def test_only_trusted_host_names_are_answered(
    app: Flask, with_settings: Callable[..., Flask]
) -> None:
    shop = with_settings(trusted_hosts=("shop.example", "www.shop.example"))
    client = shop.test_client()
    assert client.get("/healthz", headers={"Host": "shop.example"}).status_code == 200
    assert client.get("/healthz", headers={"Host": "www.shop.example"}).status_code == 200
    refused = client.get("/products", headers={"Host": "evil.example"})
    assert refused.status_code == 400


def _fail_sign_in(client, address: str, email: str = "nobody@clinic.example") -> int:  # type: ignore[no-untyped-def]
    token = csrf_token(client, "/account/login")
    return client.post(
        "/account/login",
        data={"email": email, "password": "wrong", "csrf_token": token},
        headers={"X-Forwarded-For": address},
    ).status_code


def test_behind_a_proxy_every_client_has_its_own_sign_in_limit(
    app: Flask, with_settings: Callable[..., Flask]
) -> None:
    """Issue 10: without ProxyFix every client behind the proxy shared one bucket, so ten
    bad sign-ins a minute locked everyone out, staff included."""
    with app.app_context():
        make_user("staff@shop.example", role="staff")
        db.session.commit()
    shop = with_settings(proxy_hops=1)
    attacker, staff = shop.test_client(), shop.test_client()
    statuses = [_fail_sign_in(attacker, "203.0.113.9", f"x{n}@clinic.example") for n in range(11)]
    assert statuses[-1] == 429
    token = csrf_token(staff, "/account/login")
    signed_in = staff.post(
        "/account/login",
        data={"email": "staff@shop.example", "password": PASSWORD, "csrf_token": token},
        headers={"X-Forwarded-For": "198.51.100.7"},
    )
    assert signed_in.status_code == 303


def test_bad_sign_ins_for_one_account_are_limited_from_any_address(
    app: Flask, with_settings: Callable[..., Flask]
) -> None:
    shop = with_settings(proxy_hops=1)
    client = shop.test_client()
    statuses = [_fail_sign_in(client, f"203.0.113.{n}", "target@clinic.example") for n in range(11)]
    assert statuses[:10] == [401] * 10 and statuses[10] == 429
