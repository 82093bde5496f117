"""Cached catalogue pages change the moment the catalogue or its stock does, in every process
serving the same database, and never show one visitor's state to another."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_wtf.csrf import generate_csrf
from sqlalchemy import select, text, update

from shop import create_app
from shop.catalog import versions
from shop.catalog.models import CatalogVersion, Product, Variant
from shop.catalog.services import refresh_derived
from shop.catalog.views import cached_fragment, url_key
from shop.extensions import cache, db
from shop.inventory import services as inventory
from tests.factories import make_lot, make_product, make_variant


def _names(html: str) -> list[str]:
    return re.findall(r'<span class="card-name">([^<]+)</span>', html)


def _another_app(app: Flask, **config: object) -> Flask:
    """A second shop process on the same database, with a cache of its own."""
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "TESTING": True,
            "CACHE_TYPE": "SimpleCache",
            **config,
        }
    )


@pytest.fixture
def other(app: Flask) -> Iterator[Flask]:
    other = _another_app(app)
    yield other
    with other.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def cached(app: Flask) -> None:
    with app.app_context():
        variant = make_variant(product=make_product(name="Cached Needle", slug="cached"), gauge=30)
        make_variant(product=make_product(name="Other Needle", slug="other"), gauge=27)
        db.session.commit()
        assert variant.id


def _receive(app: Flask, sku_product: str = "cached", packs: int = 12) -> None:
    with app.app_context():
        variant = db.session.scalar(
            select(Variant).join(Product).where(Product.slug == sku_product)
        )
        make_lot(variant, quantity=packs)
        db.session.commit()


def test_list_page_reflects_stock_change_at_once(
    app: Flask, client: FlaskClient, cached: None
) -> None:
    html = client.get("/products?q=cached").get_data(as_text=True)
    assert "Out of stock" in html and "In stock" not in html
    assert "Out of stock" in client.get("/products?q=cached").get_data(as_text=True)  # cached
    _receive(app)
    html = client.get("/products?q=cached").get_data(as_text=True)
    assert "In stock" in html


def test_list_page_reflects_catalogue_edits_at_once(
    app: Flask, client: FlaskClient, cached: None
) -> None:
    assert _names(client.get("/products").get_data(as_text=True)) == [
        "Cached Needle",
        "Other Needle",
    ]
    assert ">34G <span" not in client.get("/products").get_data(as_text=True)
    with app.app_context():
        product = db.session.scalar(select(Product).where(Product.slug == "cached"))
        product.name = "Renamed Needle"
        refresh_derived([product])
        make_variant(product=make_product(name="New Needle"), gauge=34)
        db.session.commit()
    html = client.get("/products").get_data(as_text=True)
    assert _names(html) == ["New Needle", "Other Needle", "Renamed Needle"]
    assert re.search(r'34G <span class="count">\(1\)</span>', html)
    assert _names(client.get("/products?q=renamed").get_data(as_text=True)) == ["Renamed Needle"]
    with app.app_context():
        product = db.session.scalar(select(Product).where(Product.slug == "other"))
        product.is_active = False
        refresh_derived([product])
        db.session.commit()
    assert "Other Needle" not in client.get("/products").get_data(as_text=True)


def test_two_apps_sharing_one_database(app: Flask, other: Flask, cached: None) -> None:
    """Each app caches pages (and its catalogue index) on its own; a change made through one
    shows on the other's next request."""
    mine, theirs = app.test_client(), other.test_client()
    for client in (mine, theirs):
        assert "Out of stock" in client.get("/products?q=cached").get_data(as_text=True)
        assert "Out of stock" in client.get("/products/cached").get_data(as_text=True)
        assert "Cached Needle" in client.get("/products").get_data(as_text=True)
    _receive(other)
    for client in (mine, theirs):
        assert "In stock" in client.get("/products?q=cached").get_data(as_text=True)
        assert "12 packs" in client.get("/products/cached").get_data(as_text=True)
    with app.app_context():
        product = db.session.scalar(select(Product).where(Product.slug == "cached"))
        product.is_active = False
        refresh_derived([product])
        db.session.commit()
    for client in (mine, theirs):
        html = client.get("/products").get_data(as_text=True)
        assert _names(html) == ["Other Needle"]
        assert not re.search(r">30G <span", html)  # the facet went with the product
        assert client.get("/products/cached").status_code == 404


def _redis_url() -> str:
    return (
        os.environ.get("TEST_REDIS_URL")
        or os.environ.get("REDIS_URL")
        or "redis://127.0.0.1:6379/0"
    )


def test_two_apps_sharing_a_redis_cache(app: Flask, cached: None) -> None:
    """The documented multi-process setup: one Redis cache for every process."""
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(_redis_url(), socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError:
        client.close()
        pytest.skip(f"no Redis at {_redis_url()}")
    prefix = f"shop-test-{uuid.uuid4().hex[:12]}:"
    config = {
        "CACHE_TYPE": "RedisCache",
        "CACHE_REDIS_URL": _redis_url(),
        "CACHE_KEY_PREFIX": prefix,
    }
    first, second = _another_app(app, **config), _another_app(app, **config)
    try:
        html = first.test_client().get("/products?q=cached").get_data(as_text=True)
        assert "Out of stock" in html
        assert client.keys(f"{prefix}listing-page:*")  # shared: the second app reads it
        assert "Out of stock" in second.test_client().get("/products?q=cached").get_data(
            as_text=True
        )
        _receive(second)
        for shop in (first, second):
            assert "In stock" in shop.test_client().get("/products?q=cached").get_data(as_text=True)
    finally:
        for key in client.scan_iter(match=f"{prefix}*"):
            client.delete(key)
        client.close()
        for shop in (first, second):
            with shop.app_context():
                db.engine.dispose()


def test_visitor_state_is_never_cached(app: Flask, cached: None) -> None:
    """The cart count and flashed messages are the visitor's own: shown to them, never cached
    for the next visitor, and their page never taken from the anonymous visitors' cache."""
    anonymous = app.test_client()
    anonymous.get("/products")  # cached for visitors without state
    buyer = app.test_client()
    with buyer.session_transaction() as session:
        session["cart_packs"] = 3
        session["_flashes"] = [("success", "Added MN-30G to your cart.")]
    html = buyer.get("/products").get_data(as_text=True)
    assert "(3 packs)" in html and "Added MN-30G to your cart." in html
    html = buyer.get("/products").get_data(as_text=True)
    assert "(3 packs)" in html and "Added MN-30G" not in html  # a message shows once
    for _ in range(2):
        html = app.test_client().get("/products").get_data(as_text=True)
        assert "packs)" not in html and "Added MN-30G" not in html


def test_first_visit_to_the_list_sets_no_cookie(client: FlaskClient, cached: None) -> None:
    for _ in range(2):
        response = client.get("/products?gauge=30")
        assert response.status_code == 200
        assert "Set-Cookie" not in response.headers
        assert "Cookie" in response.headers.get("Vary", "")


def _cached(name: str, key: str) -> object:
    """What cached_fragment(name, key, ...) holds now, whatever stock it was keyed by."""
    start = f"{name}:{versions.page_version()}:{date.today().isoformat()}:"
    found = [k for k in list(cache.cache._cache) if start in k and k.endswith(f":{key}")]
    return cache.cache.get(found[-1]) if found else None


def test_a_visitor_with_only_a_csrf_token_gets_the_shared_page(
    app: Flask, client: FlaskClient, cached: None
) -> None:
    assert client.get("/products/cached").status_code == 200  # the add-to-cart form's token
    with client.session_transaction() as session:
        assert set(session) == {"csrf_token"}
    with app.test_request_context("/products?pins=1"):
        key = url_key()
    client.get("/products?pins=1")
    with app.app_context():
        assert "Cached Needle" in str(_cached("listing-page", key))


def test_whole_pages_show_the_shops_own_address_whatever_the_host(
    client: FlaskClient, cached: None
) -> None:
    """A page's links come from SHOP_BASE_URL, so one cached page serves every host name
    (and a forged Host header never lands in a page another visitor gets)."""
    one = client.get("/products", base_url="http://shop.example").get_data(as_text=True)
    two = client.get("/products", base_url="https://evil.example").get_data(as_text=True)
    assert one == two
    assert 'content="http://127.0.0.1:5000/products"' in one and "evil.example" not in two


def test_a_render_holding_a_csrf_token_is_never_shared(app: Flask) -> None:
    with app.test_request_context("/products"):
        html = cached_fragment("test", "token", lambda: f"<input value='{generate_csrf()}'>")
        assert "value=" in html
        assert _cached("test", "token") is None
        assert cached_fragment("test", "plain", lambda: "<p>same for all</p>")
        assert _cached("test", "plain") == "<p>same for all</p>"


def test_version_is_read_fresh_on_a_connection_of_its_own(app: Flask, other: Flask) -> None:
    with app.app_context():
        make_product(name="First")
        db.session.commit()
        before = versions.page_version()
    with other.app_context():
        make_product(name="Bump")  # refresh_derived bumps the version
        db.session.commit()
    with app.app_context():
        assert versions.page_version() == before + 1
        # A connection lost (server restart, dispose) is made again.
        db.engine.dispose()
        assert versions.page_version() == before + 1
        reader = versions._readers[db.engine][os.getpid()]
        reader._connection.close()
        assert versions.page_version() == before + 1
        db.session.execute(update(CatalogVersion).values(version=CatalogVersion.version + 5))
        db.session.commit()
        assert versions.page_version() == before + 6
        # The reader's connection holds no transaction: the row is not locked by it.
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE catalog_version SET version = version + 1"))
        assert versions.page_version() == before + 7


def _entries(name: str, key: str) -> int:
    """How many renders of cached_fragment(name, key, ...) the cache holds (one per stock)."""
    return sum(1 for k in list(cache.cache._cache) if f"{name}:" in k and k.endswith(f":{key}"))


def test_a_stock_change_refreshes_the_pages_of_its_own_variant_only(
    app: Flask, client: FlaskClient, cached: None
) -> None:
    """Stock shows on pages, so pages showing a variant whose stock changed are rendered
    afresh; the catalogue version, each process's catalogue index and the pages of other
    variants are kept. A catalogue change invalidates all."""
    assert "Out of stock" in client.get("/products?q=cached").get_data(as_text=True)
    for slug in ("cached", "other"):
        assert client.get(f"/products/{slug}").status_code == 200
    assert _entries("product-page", "cached") == _entries("product-page", "other") == 1
    index = app.extensions["catalog_index"]
    with app.app_context():
        variant = db.session.scalar(select(Variant).join(Product).where(Product.slug == "cached"))
        pages, catalogue = versions.page_version(), versions.index_version()
        today = date.today()
        inventory.lock_stock()
        inventory.receive_lot(
            variant,
            lot_number="STOCK-ONLY",
            made_on=today - timedelta(days=30),
            expires_on=today + timedelta(days=900),
            quantity=7,
            actor="tests",
        )
        db.session.commit()
        assert (versions.page_version(), versions.index_version()) == (pages, catalogue)
    assert "In stock" in client.get("/products?q=cached").get_data(as_text=True)
    assert "7 packs" in client.get("/products/cached").get_data(as_text=True)
    assert "Out of stock" in client.get("/products/other").get_data(as_text=True)
    assert _entries("product-page", "cached") == 2  # rendered again for its new stock
    assert _entries("product-page", "other") == 1  # served from the cache as it was
    assert app.extensions["catalog_index"] is index
    with app.app_context():
        product = db.session.scalar(select(Product).where(Product.slug == "cached"))
        product.name = "Renamed"
        refresh_derived([product])
        db.session.commit()
        assert versions.page_version() == pages + 1
        assert versions.index_version() == catalogue + 1
    assert _names(client.get("/products?q=renamed").get_data(as_text=True)) == ["Renamed"]
    assert app.extensions["catalog_index"] is not index
