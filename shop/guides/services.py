"""Guides and the catalogue: the products a guide names, and checking the guide files."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl

from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from shop.catalog import queries
from shop.catalog.models import Product
from shop.extensions import db
from shop.guides.library import read_folder
from shop.inventory.services import availability


@dataclass(frozen=True)
class RelatedProduct:
    """A product as a guide shows it: what it is, its price from, what can be sold now."""

    product: Product
    available: int

    @property
    def gauges(self) -> list[int]:
        return sorted({v.gauge for v in self.product.variants})

    @property
    def lengths(self) -> list[float]:
        return sorted({v.length_mm for v in self.product.variants})

    @property
    def pins(self) -> int:
        return self.product.variants[0].pins if self.product.variants else 1


def fitting(products: Sequence[RelatedProduct], listing: str) -> list[RelatedProduct]:
    """The products the catalogue listing `listing` (URL query arguments) would show: of
    its families, with an active variant of its gauges, lengths and pins."""
    filters = queries.Filters.from_args(MultiDict(parse_qsl(listing)))

    def fits(item: RelatedProduct) -> bool:
        if filters.kinds and item.product.kind not in filters.kinds:
            return False
        return any(
            (not filters.gauges or v.gauge in filters.gauges)
            and (not filters.lengths or round(v.length_mm, 1) in filters.lengths)
            and (not filters.pins or v.pins in filters.pins)
            for v in item.product.variants
        )

    return [item for item in products if fits(item)]


def related_products(slugs: Sequence[str]) -> list[RelatedProduct]:
    """The active products among `slugs`, in that order, with their stock: four queries
    whatever the number of products (products, variants, price tiers, lots)."""
    if not slugs:
        return []
    products = {
        p.slug: p
        for p in db.session.scalars(
            select(Product)
            .where(Product.slug.in_(slugs), Product.is_active.is_(True))
            .options(queries.active_variants())
        )
    }
    stock = availability(v for p in products.values() for v in p.variants)
    return [
        RelatedProduct(p, sum(stock[v.id].available for v in p.variants))
        for p in (products.get(slug) for slug in slugs)
        if p is not None
    ]


@dataclass
class CheckResult:
    errors: dict[str, list[str]]
    warnings: dict[str, list[str]]
    checked: int


def check_guides(folder: Path) -> CheckResult:
    """Read every guide file as the shop would and compare its products with the
    catalogue: problems in the files and unknown products are errors; products that
    exist but are not for sale are warnings (the guide simply does not show them)."""
    readings = read_folder(folder)
    named = {slug for r in readings if r.guide for slug in r.guide.products}
    active = dict(
        db.session.execute(
            select(Product.slug, Product.is_active).where(Product.slug.in_(named))
        ).all()
    )
    errors: dict[str, list[str]] = {}
    warnings: dict[str, list[str]] = {}
    for reading in readings:
        name = reading.path.name
        problems = list(reading.problems)
        if reading.guide is None:
            problems.append("not shown on the site until this is fixed")
        else:
            for slug in reading.guide.products:
                if slug not in active:
                    problems.append(f"unknown product slug {slug!r}")
                elif not active[slug]:
                    warnings.setdefault(name, []).append(f"product {slug!r} is not active")
        if problems:
            errors[name] = problems
    return CheckResult(errors, warnings, len(readings))
