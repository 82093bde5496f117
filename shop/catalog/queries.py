"""Reading the catalogue: filters from the URL, the filtered list, facet counts.

A listing is answered from a `CatalogIndex` that each process builds once per catalogue
version (two queries): for each family, and for each (gauge, length, pins) of an active
variant, the set of active products having it, and the active products in each sort order.
A set of products is a Python int used as a bitmap (bit n stands for product id n), so the
count, the page and every facet are a few bitwise operations over a few kilobytes, however
large the catalogue. The database answers only the text search (one query, whatever the
number of words) and loads the products of the page.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session, scoped_session, selectinload
from sqlalchemy.orm.strategy_options import _AbstractLoad
from werkzeug.datastructures import MultiDict

from shop.catalog import search
from shop.catalog.models import Kind, Product, Variant
from shop.catalog.versions import index_version

PER_PAGE = 24


@functools.cache
def active_variants(*, price_tiers: bool = True) -> _AbstractLoad:
    """The loader option for a product's active variants (and their price tiers): made on
    first use, once every model is mapped, then reused."""
    variants = selectinload(Product.variants.and_(Variant.is_active.is_(True)))
    return variants.selectinload(Variant.price_tiers) if price_tiers else variants


MAX_QUERY = 200
MAX_VALUES = 20
GAUGES = (18, 34)
PINS = (1, 12)
MAX_LENGTH_MM = 50
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
        if 0 < number <= MAX_LENGTH_MM and math.isfinite(number) and number not in result:
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
        gauges = _ints(args.getlist("gauge"), *GAUGES)
        lengths = _lengths(args.getlist("length"))
        pins = _ints(args.getlist("pins"), *PINS)
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


Combo = tuple[int, float, int]  # (gauge, length_mm, pins) of a variant


class VariantRef(NamedTuple):
    """An active variant as its stock is counted: its id and its own minimum shelf life."""

    id: int
    min_shelf_life_days: int | None


_MAX_UNIONS = 256
_FACET_POSITION = {"gauge": 0, "length": 1, "pins": 2}


def bitmap(ids: Iterable[int]) -> int:
    """The set of these product ids as an int: bit n is set when n is in it."""
    ids = list(ids)
    if not ids:
        return 0
    bits = bytearray(max(ids) // 8 + 1)
    for n in ids:
        bits[n >> 3] |= 1 << (n & 7)
    return int.from_bytes(bits, "little")


def _union(bitmaps: Iterable[int]) -> int:
    result = 0
    for one in bitmaps:
        result |= one
    return result


@dataclass(frozen=True)
class CatalogIndex:
    """The active catalogue as sets of product ids, for one catalogue version."""

    version: int
    kinds: dict[str, int]  # family -> its active products
    combos: dict[Combo, int]  # (gauge, length, pins) -> active products with such a variant
    orders: dict[str, list[int]]  # sort -> ids of the active products in that order
    ranks: dict[str, dict[int, int]]  # sort -> product id -> its place in that order
    everything: int  # active products with an active variant: all that can be listed
    # What a cached page needs to ask the stock about without loading products: each
    # active product's active variants, the variants' own minimum shelf lives (only those
    # that have one), active products by slug, and the home page's featured products.
    variant_ids: dict[int, tuple[int, ...]] = field(default_factory=dict)
    shelf_life_days: dict[int, int] = field(default_factory=dict)
    slugs: dict[str, int] = field(default_factory=dict)
    featured: tuple[int, ...] = ()
    # Unions of combos already made, by the variant filters that chose them (at most
    # _MAX_UNIONS: filters come from URLs, anyone can make up new ones).
    # Unions already computed, by filters: products (bits) with a variant, or per value.
    _with: dict[Any, int] = field(default_factory=dict, compare=False, repr=False)
    _per_value: dict[Any, dict[Any, int]] = field(default_factory=dict, compare=False, repr=False)

    def variants_of(self, product_ids: Iterable[int]) -> list[VariantRef]:
        """The active variants of these products, as the stock needs them."""
        days = self.shelf_life_days
        return [
            VariantRef(variant_id, days.get(variant_id))
            for product_id in product_ids
            for variant_id in self.variant_ids.get(product_id, ())
        ]

    def _forget_if_full(self) -> None:
        if len(self._with) + len(self._per_value) >= _MAX_UNIONS:
            self._with.clear()
            self._per_value.clear()

    def with_variant(self, filters: Filters, *, skip: str | None = None) -> int:
        """Products with one active variant passing every variant filter (but `skip`)."""
        key = ("with", _variant_filters(filters, skip))
        known = self._with.get(key)  # one lookup: another thread may clear the dict
        if known is not None:
            return known
        union = _union(
            products
            for combo, products in self.combos.items()
            if _variant_passes(combo, filters, skip=skip)
        )
        self._forget_if_full()
        self._with[key] = union
        return union

    def by_value(self, filters: Filters, name: str) -> dict[Any, int]:
        """For each value of one variant facet, the products with an active variant of that
        value passing the other variant filters."""
        key = (name, _variant_filters(filters, name))
        known = self._per_value.get(key)
        if known is not None:
            return known
        position = _FACET_POSITION[name]
        per_value: dict[Any, int] = {}
        for combo, products in self.combos.items():
            if _variant_passes(combo, filters, skip=name):
                per_value[combo[position]] = per_value.get(combo[position], 0) | products
        self._forget_if_full()
        self._per_value[key] = per_value
        return per_value


def _variant_filters(filters: Filters, skip: str | None) -> tuple[Any, ...]:
    return tuple(
        () if skip == name else values
        for name, values in (
            ("gauge", filters.gauges),
            ("length", filters.lengths),
            ("pins", filters.pins),
        )
    )


def _variant_passes(combo: Combo, filters: Filters, *, skip: str | None = None) -> bool:
    gauge, length, pins = combo
    return (
        (not filters.gauges or skip == "gauge" or gauge in filters.gauges)
        and (not filters.lengths or skip == "length" or length in filters.lengths)
        and (not filters.pins or skip == "pins" or pins in filters.pins)
    )


_INDEX_PRODUCTS = select(
    Product.id, Product.kind, Product.name, Product.price_from, Product.slug, Product.featured
).where(Product.is_active.is_(True))
_INDEX_VARIANTS = select(
    Variant.gauge,
    Variant.length_mm,
    Variant.pins,
    Variant.product_id,
    Variant.id,
    Variant.min_shelf_life_days,
).where(Variant.is_active.is_(True))
# The home page shows this many featured products, by name.
FEATURED = 6


def _rows(session: Any, statement: Any) -> list[tuple[Any, ...]]:
    """All rows of a statement as plain tuples straight from the DBAPI cursor (run on the
    session's connection, in its transaction): SQLAlchemy's Row objects for 100,000 rows
    cost more than the query. The columns need no type conversion (ints, floats, text)."""
    result = session.connection().execute(statement)
    try:
        return list(result.cursor.fetchall())
    finally:
        result.close()


def build_index(session: Any, version: int) -> CatalogIndex:
    """Read the active catalogue's families, variants and sort keys (two queries)."""
    products = _rows(session, _INDEX_PRODUCTS)
    active = {product[0] for product in products}
    by_combo: dict[Combo, list[int]] = {}
    variant_ids: dict[int, list[int]] = {}
    shelf_life_days: dict[int, int] = {}
    for gauge, length, pins, product_id, variant_id, days in _rows(session, _INDEX_VARIANTS):
        if product_id in active:
            by_combo.setdefault((gauge, length, pins), []).append(product_id)
            variant_ids.setdefault(product_id, []).append(variant_id)
            if days is not None:
                shelf_life_days[variant_id] = days
    by_kind: dict[str, list[int]] = {}
    for product_id, kind, *_ in products:
        by_kind.setdefault(kind, []).append(product_id)
    by_name = sorted(products, key=lambda p: (p[2], p[0]))
    # Products without a price (no active priced variant) come last in both price orders.
    by_price = sorted(products, key=lambda p: (p[3] is None, p[3] or 0, p[2], p[0]))
    by_price_desc = sorted(products, key=lambda p: (p[3] is None, -(p[3] or 0), p[2], p[0]))
    name_order = [p[0] for p in by_name]
    orders = {
        "name": name_order,
        "-name": name_order[::-1],
        "price": [p[0] for p in by_price],
        "-price": [p[0] for p in by_price_desc],
    }
    combos = {combo: bitmap(ids) for combo, ids in by_combo.items()}
    return CatalogIndex(
        version=version,
        kinds={kind: bitmap(ids) for kind, ids in by_kind.items()},
        combos=combos,
        orders=orders,
        ranks={sort: {pid: n for n, pid in enumerate(order)} for sort, order in orders.items()},
        everything=_union(combos.values()),
        variant_ids={pid: tuple(sorted(ids)) for pid, ids in variant_ids.items()},
        shelf_life_days=shelf_life_days,
        slugs={p[4]: p[0] for p in products},
        featured=tuple(p[0] for p in by_name if p[5])[:FEATURED],
    )


def catalog_index(session: Any) -> CatalogIndex:
    """This process's index of the current catalogue version, built when the version moved.

    Kept per app (so per database); a request that finds it stale builds the new one.
    """
    version = index_version()
    index: CatalogIndex | None = current_app.extensions.get("catalog_index")
    if index is None or index.version != version:
        index = build_index(session, version)
        current_app.extensions["catalog_index"] = index
    return index


def members(found: int) -> list[int]:
    """The product ids in a set, in increasing order."""
    ids = []
    for index, byte in enumerate(found.to_bytes((found.bit_length() + 7) // 8, "little")):
        while byte:
            lowest = byte & -byte
            ids.append(index * 8 + lowest.bit_length() - 1)
            byte ^= lowest
    return ids


# Up to this many products, a page is cut from the set sorted by rank; past it, from the
# sort order walked until the page is full (early pages of a large set stop early).
_SORT_BELOW = 2000


def _page_ids(index: CatalogIndex, sort: str, found: int, offset: int, limit: int) -> list[int]:
    """The ids of `found` at positions offset..offset+limit in that sort order."""
    if not found or limit <= 0:
        return []
    if found.bit_count() <= _SORT_BELOW:
        rank = index.ranks[sort]
        return sorted(members(found), key=rank.__getitem__)[offset : offset + limit]
    bits = found.to_bytes((found.bit_length() + 7) // 8, "little")
    size = len(bits) * 8
    page: list[int] = []
    for product_id in index.orders[sort]:
        if product_id < size and bits[product_id >> 3] >> (product_id & 7) & 1:
            if offset:
                offset -= 1
                continue
            page.append(product_id)
            if len(page) == limit:
                break
    return page


def _search_tiers(session: Any, index: CatalogIndex, q: str) -> list[int]:
    """The products a search finds, best first and each only once: those with a variant
    of exactly the SKU typed, then those with a variant of the gauge, length and pins
    written and every other word in their texts (the text search alone when no needle is
    written). One query for the words, one more only when a whole SKU is typed."""
    wanted = search.needle_search(q)
    found = index.everything
    if wanted.needle:
        found &= index.with_variant(
            Filters(gauges=wanted.gauges, lengths=wanted.lengths, pins=wanted.pins)
        )
    ids = search.matching_ids(session, wanted.text) if wanted.text else None
    if ids is not None:
        found &= bitmap(ids)
    exact = (
        bitmap(search.exact_sku_ids(session, wanted.skus)) & index.everything if wanted.skus else 0
    )
    return [exact, found & ~exact]


def _ranked_page_ids(
    index: CatalogIndex, sort: str, tiers: list[int], found: int, offset: int, limit: int
) -> list[int]:
    """The ids at offset..offset+limit of `found` listed tier by tier (the search's best
    matches first), each tier in that sort order."""
    page: list[int] = []
    for tier in tiers:
        members_here = found & tier
        size = members_here.bit_count()
        if offset >= size:
            offset -= size
            continue
        page += _page_ids(index, sort, members_here, offset, limit - len(page))
        offset = 0
        if len(page) == limit:
            break
    return page


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


def _facet_counts(index: CatalogIndex, filters: Filters, matching: int, name: str) -> list[Any]:
    """(value, products) for one variant facet: the products passing every other filter
    that have an active variant with that value (and passing the other variant filters)."""
    per_value = index.by_value(filters, name)
    counts = [(value, (products & matching).bit_count()) for value, products in per_value.items()]
    return sorted((value, count) for value, count in counts if count)


def _facets(index: CatalogIndex, filters: Filters, matching: int) -> list[Facet]:
    """Each facet counts products under every filter but its own (`matching`: the text
    search's products, or all of them)."""
    with_variant = index.with_variant(filters)
    kinds = {
        kind: (products & matching & with_variant).bit_count()
        for kind, products in index.kinds.items()
    }
    in_kinds = _kinds(index, filters)
    gauges = _facet_counts(index, filters, matching & in_kinds, "gauge")
    lengths = _facet_counts(index, filters, matching & in_kinds, "length")
    pins = _facet_counts(index, filters, matching & in_kinds, "pins")
    return [
        Facet("kind", "Family", [(k.value, k.label, kinds.get(k.value, 0)) for k in Kind]),
        Facet("gauge", "Gauge", [(g, f"{g}G", n) for g, n in gauges]),
        Facet("length", "Length", [(x, f"{x:g} mm", n) for x, n in lengths]),
        Facet(
            "pins",
            "Pins",
            [(p, "Single needle" if p == 1 else f"{p} pins", n) for p, n in pins],
        ),
    ]


def _kinds(index: CatalogIndex, filters: Filters) -> int:
    if not filters.kinds:
        return index.everything
    return _union(index.kinds.get(kind, 0) for kind in filters.kinds)


def _products(session: Any, ids: list[int], *, price_tiers: bool) -> list[Product]:
    """These products, in this order, with their active variants (and their price tiers)."""
    if not ids:
        return []
    loaded = {
        p.id: p
        for p in session.scalars(
            select(Product)
            .where(Product.id.in_(ids))
            .options(active_variants(price_tiers=price_tiers))
        )
    }
    return [loaded[i] for i in ids if i in loaded]


@dataclass(frozen=True)
class Selection:
    """Which products a listing shows, decided without loading any of them."""

    filters: Filters
    index: CatalogIndex
    matching: int  # the text search's products (or all of them)
    total: int
    page: int
    pages: int
    ids: list[int]  # the page's products, in order


def select_page(session: Any, filters: Filters, *, per_page: int = PER_PAGE) -> Selection:
    """The page of the filtered catalogue, as product ids: from the index, plus the text
    search (one query) when there is one."""
    index = catalog_index(session)
    tiers = _search_tiers(session, index, filters.q) if filters.q else [index.everything]
    matching = _union(tiers)
    found = matching & _kinds(index, filters) & index.with_variant(filters)
    total = found.bit_count()
    pages = max(1, math.ceil(total / per_page))
    page = min(filters.page, pages)
    ids = _ranked_page_ids(index, filters.sort, tiers, found, (page - 1) * per_page, per_page)
    return Selection(filters, index, matching, total, page, pages, ids)


def listing(
    session: Any,
    filters: Filters,
    *,
    per_page: int = PER_PAGE,
    facets: bool = True,
    price_tiers: bool = True,
    selection: Selection | None = None,
) -> Listing:
    """One page of the filtered catalogue with its facet counts, in a fixed number of queries:
    the text search (when there is one, and no `selection` made already) and the page's
    products with their active variants (and their price tiers, unless `price_tiers` is
    false: the cards show the from-price); plus the index's two when the catalogue version
    moved."""
    chosen = selection or select_page(session, filters, per_page=per_page)
    return Listing(
        filters,
        _products(session, chosen.ids, price_tiers=price_tiers),
        chosen.total,
        chosen.page,
        chosen.pages,
        _facets(chosen.index, filters, chosen.matching) if facets else [],
    )


def product_by_slug(session: Session | scoped_session[Any], slug: str) -> Product | None:
    """An active product with its variants and price tiers loaded (three queries)."""
    if len(slug) > 120:
        return None
    return session.scalar(
        select(Product)
        .where(Product.slug == slug, Product.is_active.is_(True))
        .options(active_variants())
    )
