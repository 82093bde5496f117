"""Reading the catalogue: filters from the URL, the filtered list, facet counts."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import selectinload
from werkzeug.datastructures import MultiDict

from shop.catalog import search
from shop.catalog.models import Kind, Product, Variant

PER_PAGE = 24
_ACTIVE_VARIANTS = selectinload(Product.variants.and_(Variant.is_active.is_(True))).selectinload(
    Variant.price_tiers
)
MAX_QUERY = 200
MAX_VALUES = 20
SORTS = {
    "name": "Name A-Z",
    "-name": "Name Z-A",
    "price": "Price: low to high",
    "-price": "Price: high to low",
}


def _ints(values: list[str], low: int, high: int) -> list[int]:
    result = []
    for raw in values[:MAX_VALUES]:
        try:
            number = int(raw)
        except ValueError:
            continue
        if low <= number <= high and number not in result:
            result.append(number)
    return sorted(result)


def _lengths(values: list[str]) -> list[float]:
    result = []
    for raw in values[:MAX_VALUES]:
        try:
            number = round(float(raw), 1)
        except ValueError:
            continue
        if 0 < number <= 50 and math.isfinite(number) and number not in result:
            result.append(number)
    return sorted(result)


@dataclass(frozen=True)
class Filters:
    """What a buyer asked the catalogue for, cleaned: unknown values are dropped."""

    kinds: tuple[str, ...] = ()
    gauges: tuple[int, ...] = ()
    lengths: tuple[float, ...] = ()
    pins: tuple[int, ...] = ()
    q: str = ""
    sort: str = "name"
    page: int = 1
    ignored: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def from_args(cls, args: MultiDict[str, str]) -> Filters:
        ignored = []
        kinds = [k for k in args.getlist("kind")[:MAX_VALUES] if k in {x.value for x in Kind}]
        gauges = _ints(args.getlist("gauge"), 18, 34)
        lengths = _lengths(args.getlist("length"))
        pins = _ints(args.getlist("pins"), 1, 12)
        for name, kept in (("kind", kinds), ("gauge", gauges), ("length", lengths), ("pins", pins)):
            if len(kept) < len([v for v in args.getlist(name) if v != ""]):
                ignored.append(name)
        q = " ".join(args.get("q", "").split())[:MAX_QUERY]
        sort = args.get("sort", "name")
        if sort not in SORTS:
            sort = "name"
        try:
            page = int(args.get("page", "1"))
        except ValueError:
            page = 1
        return cls(
            kinds=tuple(sorted(set(kinds))),
            gauges=tuple(gauges),
            lengths=tuple(lengths),
            pins=tuple(pins),
            q=q,
            sort=sort,
            page=max(page, 1),
            ignored=tuple(ignored),
        )

    @property
    def active(self) -> bool:
        return bool(self.kinds or self.gauges or self.lengths or self.pins or self.q)

    def cache_key(self) -> str:
        return repr(
            (self.kinds, self.gauges, self.lengths, self.pins, self.q, self.sort, self.page)
        )

    def args(self, **changes: Any) -> dict[str, Any]:
        """URL query arguments for these filters, with some changed (for links)."""
        values: dict[str, Any] = {
            "kind": list(self.kinds),
            "gauge": list(self.gauges),
            "length": [f"{x:g}" for x in self.lengths],
            "pins": list(self.pins),
            "q": self.q or None,
            "sort": None if self.sort == "name" else self.sort,
            "page": None if self.page == 1 else self.page,
        }
        values.update(changes)
        return {k: v for k, v in values.items() if v not in (None, [], "")}

    def toggled(self, name: str, value: Any) -> dict[str, Any]:
        """Arguments with one facet value switched on or off, back on page one."""
        current = self.args()
        values = list(current.get(name, []))
        shown = f"{value:g}" if isinstance(value, float) else value
        if shown in values:
            values.remove(shown)
        else:
            values.append(shown)
        current[name] = values
        current.pop("page", None)
        return {k: v for k, v in current.items() if v not in (None, [], "")}

    def is_on(self, name: str, value: Any) -> bool:
        return (
            value
            in {
                "kind": self.kinds,
                "gauge": self.gauges,
                "length": self.lengths,
                "pins": self.pins,
            }[name]
        )


def _variant_conditions(filters: Filters, *, skip: str | None = None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [Variant.is_active.is_(True)]
    if filters.gauges and skip != "gauge":
        conditions.append(Variant.gauge.in_(filters.gauges))
    if filters.lengths and skip != "length":
        conditions.append(Variant.length_mm.in_(filters.lengths))
    if filters.pins and skip != "pins":
        conditions.append(Variant.pins.in_(filters.pins))
    return conditions


def _product_conditions(filters: Filters, *, skip: str | None = None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [Product.is_active.is_(True)]
    if filters.kinds and skip != "kind":
        conditions.append(Product.kind.in_(filters.kinds))
    matching = search.matching_product_ids(filters.q)
    if matching is not None:
        conditions.append(Product.id.in_(matching))
    return conditions


def _matching_products(filters: Filters) -> Select[Any]:
    has_variant = (
        select(Variant.id)
        .where(Variant.product_id == Product.id, *_variant_conditions(filters))
        .exists()
    )
    return select(Product.id).where(*_product_conditions(filters), has_variant)


@dataclass
class Facet:
    name: str
    label: str
    values: list[tuple[Any, str, int]]  # (value, label, count)


@dataclass
class Listing:
    filters: Filters
    products: list[Product]
    total: int
    page: int
    pages: int
    facets: list[Facet]

    @property
    def first(self) -> int:
        return (self.page - 1) * PER_PAGE + 1 if self.total else 0

    @property
    def last(self) -> int:
        return min(self.page * PER_PAGE, self.total)


def _facet_counts(session: Any, filters: Filters, name: str) -> list[tuple[Any, int]]:
    if name == "kind":
        has_variant = (
            select(Variant.id)
            .where(Variant.product_id == Product.id, *_variant_conditions(filters))
            .exists()
        )
        stmt = (
            select(Product.kind, func.count())
            .where(*_product_conditions(filters, skip="kind"), has_variant)
            .group_by(Product.kind)
        )
    else:
        column = {"gauge": Variant.gauge, "length": Variant.length_mm, "pins": Variant.pins}[name]
        stmt = (
            select(column, func.count(Variant.product_id.distinct()))
            .join(Product, Product.id == Variant.product_id)
            .where(*_product_conditions(filters), *_variant_conditions(filters, skip=name))
            .group_by(column)
        )
    return [(value, count) for value, count in session.execute(stmt).all()]


def _facets(session: Any, filters: Filters) -> list[Facet]:
    kinds = dict(_facet_counts(session, filters, "kind"))
    gauges = _facet_counts(session, filters, "gauge")
    lengths = _facet_counts(session, filters, "length")
    pins = _facet_counts(session, filters, "pins")
    return [
        Facet("kind", "Family", [(k.value, k.label, kinds.get(k.value, 0)) for k in Kind]),
        Facet("gauge", "Gauge", [(g, f"{g}G", n) for g, n in sorted(gauges)]),
        Facet("length", "Length", [(x, f"{x:g} mm", n) for x, n in sorted(lengths)]),
        Facet(
            "pins",
            "Pins",
            [(p, "Single needle" if p == 1 else f"{p} pins", n) for p, n in sorted(pins)],
        ),
    ]


def listing(
    session: Any, filters: Filters, *, per_page: int = PER_PAGE, facets: bool = True
) -> Listing:
    """One page of the filtered catalogue with its facet counts, in a fixed number of queries."""
    matching = _matching_products(filters).subquery()
    total = session.scalar(select(func.count()).select_from(matching)) or 0
    pages = max(1, math.ceil(total / per_page))
    page = min(filters.page, pages)
    order = {
        "name": (Product.name.asc(), Product.id.asc()),
        "-name": (Product.name.desc(), Product.id.desc()),
        "price": (Product.price_from.asc(), Product.name.asc(), Product.id.asc()),
        "-price": (Product.price_from.desc(), Product.name.asc(), Product.id.asc()),
    }[filters.sort]
    products = list(
        session.scalars(
            select(Product)
            .where(Product.id.in_(select(matching.c.id)))
            .order_by(*order)
            .limit(per_page)
            .offset((page - 1) * per_page)
            .options(_ACTIVE_VARIANTS)
        )
    )
    return Listing(
        filters, products, total, page, pages, _facets(session, filters) if facets else []
    )


def product_by_slug(session: Any, slug: str) -> Product | None:
    """An active product with its variants and price tiers loaded (three queries)."""
    if len(slug) > 120:
        return None
    return session.scalar(
        select(Product)
        .where(Product.slug == slug, Product.is_active.is_(True))
        .options(_ACTIVE_VARIANTS)
    )
