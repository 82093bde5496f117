"""Changes to the catalogue that keep its derived data (search words, prices, cache) true."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select, update

from shop.catalog import search
from shop.catalog.models import CatalogVersion, Product
from shop.extensions import db

VERSION_ROW = 1


def current_version() -> int:
    """The catalogue's version: cached pages are valid for one version only."""
    version = db.session.scalar(
        select(CatalogVersion.version).where(CatalogVersion.id == VERSION_ROW)
    )
    return version or 0


def bump_version() -> None:
    """Invalidate every cached catalogue page (flushes; visible to others at commit)."""
    result = db.session.execute(
        update(CatalogVersion)
        .where(CatalogVersion.id == VERSION_ROW)
        .values(version=CatalogVersion.version + 1)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        db.session.add(CatalogVersion(id=VERSION_ROW, version=2))
        db.session.flush()


def refresh_derived(products: Iterable[Product]) -> None:
    """Recompute search words and the from-price of these products after an edit."""
    products = list(products)
    db.session.flush()
    for product in products:
        prices = [
            v.price_tiers[0].unit_amount for v in product.variants if v.is_active and v.price_tiers
        ]
        product.price_from = min(prices) if prices else None
    search.reindex(products)
    bump_version()
    db.session.flush()
