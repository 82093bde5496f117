"""Redis hangs, then goes away: pages and sign-in keep working (no shared cache, limits per
process, one warning), /healthz says so, and all is shared again once Redis is back."""

from __future__ import annotations

import time

from flask import Flask

from shop.extensions import db
from tests.conftest import PASSWORD
from tests.deploy.conftest import Buyer, RedisServer, shop_env
from tests.factories import make_user
from tests.flows import SLUG, stock_needle

PAGES = ("/", "/products", f"/products/{SLUG}", "/account/login")


def _pages_answer(base_url: str) -> float:
    """Every page answers 200; the slowest took this long."""
    slowest = 0.0
    for path in PAGES:
        began = time.monotonic()
        assert Buyer(base_url).get(path, timeout=10).status_code == 200, path
        slowest = max(slowest, time.monotonic() - began)
    return slowest


def _sign_in(base_url: str, password: str) -> int:
    buyer = Buyer(base_url)
    buyer.get("/account/login")
    data = {"email": "buyer@clinic.example", "password": password}
    return buyer.post("/account/login", data, timeout=10).status_code


def test_redis_hanging_or_gone_never_breaks_a_page_or_sign_in(
    app: Flask, database_url: str, own_redis: RedisServer, serve: type
) -> None:
    stock_needle(app, {"L1": 20})
    with app.app_context():
        make_user("buyer@clinic.example", role="buyer")
        db.session.commit()
    shop = serve(shop_env(database_url, REDIS_URL=own_redis.url))
    _pages_answer(shop.base_url)
    assert Buyer(shop.base_url).get("/healthz").json()["redis"] == "ok"

    own_redis.pause()  # Redis accepts and never answers
    assert _pages_answer(shop.base_url) < 2
    assert _sign_in(shop.base_url, PASSWORD) == 303
    assert _sign_in(shop.base_url, "wrong password") == 401
    health = Buyer(shop.base_url).get("/healthz", timeout=10)
    assert health.status_code == 200
    assert health.json()["status"] == "degraded" and health.json()["redis"] == "unavailable"

    own_redis.resume()
    own_redis.stop()  # now its port is closed
    assert _pages_answer(shop.base_url) < 2
    assert _sign_in(shop.base_url, PASSWORD) == 303

    own_redis.start()
    deadline = time.monotonic() + 30
    while Buyer(shop.base_url).get("/healthz").json()["redis"] != "ok":
        assert time.monotonic() < deadline, "the shop never saw Redis again"
        time.sleep(0.5)
    _pages_answer(shop.base_url)
    assert "shared cache unavailable" in shop.log_tail(200)
