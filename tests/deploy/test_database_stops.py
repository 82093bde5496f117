"""The database stops answering (its processes are stopped with SIGSTOP) and comes back
(SIGCONT): buyers get the shop's 503 page within seconds, never a hang or a stack trace,
the shop recovers without a restart, and nothing committed before is lost."""

from __future__ import annotations

import os
import time

import pytest
from flask_migrate import upgrade

from shop import create_app
from shop.extensions import db
from tests.deploy.conftest import Buyer, PostgresCluster, shop_env
from tests.factories import make_lot, make_product, make_variant
from tests.flows import SKU, SLUG

# A cluster of its own takes a minute: it runs with the PostgreSQL suite (as in CI).
pytestmark = pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL"), reason="runs with the PostgreSQL suite"
)


def test_a_stopped_database_gives_503_pages_then_the_shop_recovers(
    own_postgres: PostgresCluster, serve: type
) -> None:
    setup = create_app({"SQLALCHEMY_DATABASE_URI": own_postgres.url, "TESTING": True})
    with setup.app_context():
        upgrade()
        variant = make_variant(product=make_product(slug=SLUG), sku=SKU)
        make_lot(variant, quantity=20, lot_number="L1")
        db.session.commit()
        db.engine.dispose()
    shop = serve(shop_env(own_postgres.url, DATABASE_STATEMENT_TIMEOUT_MS="2000"))
    buyer = Buyer(shop.base_url)
    buyer.add_to_cart(SLUG, SKU, 3)
    assert buyer.get("/healthz").status_code == 200

    own_postgres.pause()
    try:
        for path in ("/healthz", "/cart", f"/products/{SLUG}", "/products?gauge=32"):
            began = time.monotonic()
            response = buyer.get(path, timeout=30)
            seconds = time.monotonic() - began
            assert response.status_code == 503, (path, response.status_code)
            assert seconds < 8, (path, seconds)
            assert "Traceback" not in response.text
            if path != "/healthz":
                assert "Shop briefly unavailable" in response.text
        assert buyer.get("/account/login", timeout=10).status_code == 200  # needs no database
    finally:
        own_postgres.resume()

    deadline = time.monotonic() + 30
    while buyer.get("/healthz", timeout=30).status_code != 200:
        assert time.monotonic() < deadline, "the shop did not recover"
        time.sleep(0.5)
    cart = buyer.get("/cart")
    assert cart.status_code == 200 and 'value="3"' in cart.text  # the cart is still there
    assert "database did not answer" in shop.log_tail(200)
