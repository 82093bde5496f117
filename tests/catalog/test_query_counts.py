"""The catalogue and product pages run a fixed number of SQL queries (no N+1)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from sqlalchemy import event, select

from shop.catalog.models import Product, Variant
from shop.demo import load_large
from shop.extensions import cache, db
from tests.factories import make_lot, make_product


@contextmanager
def counting(app: Flask) -> Iterator[list[str]]:
    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _queries(app: Flask, path: str) -> tuple[int, int]:
    """(queries with an empty cache, queries with a warm cache) for one GET."""
    client = app.test_client()
    with app.app_context():
        cache.clear()
    with counting(app) as cold:
        assert client.get(path).status_code == 200
    with counting(app) as warm:
        assert client.get(path).status_code == 200
    return len(cold), len(warm)


def _catalogue(app: Flask, variants: int) -> str:
    with app.app_context():
        if not db.session.scalar(select(Product.id).where(Product.slug == "fixed")):
            make_product(slug="fixed", name="Fixed Needle", variants=3)
        load_large(variants, progress=lambda _n: None)
        for variant in db.session.scalars(select(Variant).limit(30)):
            make_lot(variant, quantity=5)
        db.session.commit()
        return db.session.scalar(select(Product.slug).order_by(Product.id.desc()))


def test_query_counts_do_not_grow_with_the_catalogue(app: Flask) -> None:
    slug_small = _catalogue(app, 10)
    small = {
        "list": _queries(app, "/products"),
        "filtered": _queries(app, "/products?gauge=27&gauge=28&q=needle&sort=price"),
        "product": _queries(app, f"/products/{slug_small}"),
        "api": _queries(app, "/api/v1/products"),
    }
    slug_large = _catalogue(app, 1000)
    large = {
        "list": _queries(app, "/products"),
        "filtered": _queries(app, "/products?gauge=27&gauge=28&q=needle&sort=price"),
        "product": _queries(app, f"/products/{slug_large}"),
        "api": _queries(app, "/api/v1/products"),
    }
    assert small == large
    # A warm cache leaves one query: the catalogue version.
    assert small["list"][1] == small["product"][1] == 1
    assert small["list"][0] <= 12
