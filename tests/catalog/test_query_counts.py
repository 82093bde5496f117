"""The catalogue and product pages run a fixed number of SQL queries (no N+1)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from flask import Flask
from sqlalchemy import event, select

from shop.catalog import versions
from shop.catalog.models import Product, Variant
from shop.demo import load_large
from shop.extensions import cache, db
from tests.factories import make_lot, make_product


@dataclass
class Counts:
    """What one GET cost: statements through the engine's pool, and reads of the catalogue
    version (made on a connection of its own, outside the pool)."""

    queries: int = 0
    version_reads: int = 0


@contextmanager
def counting(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[Counts]:
    counts = Counts()
    with app.app_context():
        engine = db.engine

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        counts.queries += 1

    read = versions._VersionReader.read

    def counted_read(self: versions._VersionReader) -> tuple[int, int]:
        counts.version_reads += 1
        return read(self)

    event.listen(engine, "before_cursor_execute", record)
    monkeypatch.setattr(versions._VersionReader, "read", counted_read)
    try:
        yield counts
    finally:
        monkeypatch.setattr(versions._VersionReader, "read", read)
        event.remove(engine, "before_cursor_execute", record)


def _queries(app: Flask, monkeypatch: pytest.MonkeyPatch, path: str) -> tuple[int, int, int]:
    """(queries with every cache empty, queries with a warm cache, version reads then)."""
    client = app.test_client()
    with app.app_context():
        cache.clear()
    app.extensions.pop("catalog_index", None)  # built again: its queries count too
    app.extensions.pop("page_stock", None)  # and the pages' stock counted again
    with counting(app, monkeypatch) as cold:
        assert client.get(path).status_code == 200
    with counting(app, monkeypatch) as warm:
        assert client.get(path).status_code == 200
    return cold.queries, warm.queries, warm.version_reads


def _catalogue(app: Flask, variants: int) -> str:
    with app.app_context():
        if not db.session.scalar(select(Product.id).where(Product.slug == "fixed")):
            make_product(slug="fixed", name="Fixed Needle", variants=3)
        load_large(variants, progress=lambda _n: None)
        for variant in db.session.scalars(select(Variant).limit(30)):
            make_lot(variant, quantity=5)
        db.session.commit()
        return db.session.scalar(select(Product.slug).order_by(Product.id.desc()))


PATHS = {
    "list": "/products",
    "filtered": "/products?gauge=27&gauge=28&q=needle&sort=price",
    "prefix": "/products?q=m&sort=-name&page=2",
    "words": "/products?q=Fixed+needle+27G&kind=meso-needle&length=1",
    "api": "/api/v1/products",
    "api search": "/api/v1/products?q=n&pins=1",
}


def test_query_counts_do_not_grow_with_the_catalogue(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    slug_small = _catalogue(app, 10)
    small = {name: _queries(app, monkeypatch, path) for name, path in PATHS.items()}
    small["product"] = _queries(app, monkeypatch, f"/products/{slug_small}")
    slug_large = _catalogue(app, 1000)
    large = {name: _queries(app, monkeypatch, path) for name, path in PATHS.items()}
    large["product"] = _queries(app, monkeypatch, f"/products/{slug_large}")
    assert small == large
    # A warm page cache leaves one read of the catalogue and stock versions (the stock of
    # the page's variants, which keys the page, is counted again only once stock moved)
    # and, for a text search, the search.
    for name in ("list", "product"):
        assert small[name][1:] == (0, 1), name
    for name in ("filtered", "prefix", "words"):
        assert small[name][1:] == (1, 1), name
    # Cold: the index (2), the text search (1), the page's products and variants (2) and
    # their stock (1).
    assert small["list"][0] == 5
    assert small["filtered"][0] == small["prefix"][0] == small["words"][0] == 6
