"""Changes to the catalogue that keep its derived data (search words, from-prices) true."""

from __future__ import annotations

from collections.abc import Iterable

from shop.catalog import search
from shop.catalog.models import Product
from shop.catalog.versions import catalogue_changed
from shop.extensions import db


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
    catalogue_changed()
    db.session.flush()
