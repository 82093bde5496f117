"""The catalogue index (sets of products as bitmaps) answers exactly what plain SQL does:
the same products in the same order, the same totals, the same facet counts."""

from __future__ import annotations

import random
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import aliased
from werkzeug.datastructures import MultiDict

from shop.catalog import queries, search
from shop.catalog.models import Kind, Product, SearchTerm, Variant
from shop.extensions import db
from tests.factories import make_product, make_variant

WORDS = ["fine", "wide", "scalp", "kestrel", "heron", "32g", "m", "s", "ne", "zz"]
GAUGES = [27, 30, 32, 34]
LENGTHS = [1.5, 4.0, 6.0, 13.0]
PINS = [1, 5, 9]


def _random_catalogue(rng: random.Random) -> None:
    for n in range(40):
        product = make_product(
            # Repeated names: ties are broken by id, both ways.
            name=f"{rng.choice(['Alpha', 'Beta', 'Gamma', 'Delta'])} {rng.choice(WORDS[:5])}",
            kind=rng.choice(list(Kind)),
            summary=" ".join(rng.sample(WORDS[:6], 2)),
            is_active=rng.random() > 0.1,
        )
        for _ in range(rng.randint(0, 4)):
            make_variant(
                product=product,
                sku=f"R{n}-{rng.randrange(10**6)}",
                gauge=rng.choice(GAUGES),
                length_mm=rng.choice(LENGTHS),
                pins=rng.choice(PINS),
                is_active=rng.random() > 0.2,
                # Some variants have no price: their product may have no from-price.
                prices=((1, rng.randrange(1000, 5000, 100)),) if rng.random() > 0.15 else (),
            )


def _reference(filters: queries.Filters, per_page: int) -> tuple[int, list[int], dict[str, Any]]:
    """Total, page ids and facets the obvious way: SQL over the tables, nothing cached."""

    def variant_ok(skip: str | None = None) -> Any:
        conditions = [Variant.product_id == Product.id, Variant.is_active.is_(True)]
        for name, column, values in (
            ("gauge", Variant.gauge, filters.gauges),
            ("length", Variant.length_mm, filters.lengths),
            ("pins", Variant.pins, filters.pins),
        ):
            if values and skip != name:
                conditions.append(column.in_(values))
        return conditions

    def product_ok(skip_kind: bool = False) -> list[Any]:
        conditions: list[Any] = [Product.is_active.is_(True)]
        if filters.kinds and not skip_kind:
            conditions.append(Product.kind.in_(filters.kinds))
        wanted = search.needle_search(filters.q)
        if wanted.needle:  # "32g" asks for a product with a 32G variant
            needle = aliased(Variant)
            conditions.append(
                select(needle.id)
                .where(
                    needle.product_id == Product.id,
                    needle.is_active.is_(True),
                    *(
                        column.in_(values)
                        for column, values in (
                            (needle.gauge, wanted.gauges),
                            (needle.length_mm, wanted.lengths),
                            (needle.pins, wanted.pins),
                        )
                        if values
                    ),
                )
                .exists()
            )
        for word in wanted.text.split():
            conditions.append(
                Product.id.in_(
                    select(SearchTerm.product_id).where(
                        SearchTerm.term >= word,
                        SearchTerm.term < word[:-1] + chr(ord(word[-1]) + 1),
                    )
                )
            )
        return conditions

    listed = select(Product.id).where(
        *product_ok(), select(Variant.id).where(*variant_ok()).exists()
    )
    total = db.session.scalar(select(func.count()).select_from(listed.subquery()))
    order = {
        "name": (Product.name.asc(), Product.id.asc()),
        "-name": (Product.name.desc(), Product.id.desc()),
        "price": (Product.price_from.asc().nulls_last(), Product.name, Product.id),
        "-price": (Product.price_from.desc().nulls_last(), Product.name, Product.id),
    }[filters.sort]
    pages = max(1, -(-total // per_page))
    page = min(filters.page, pages)
    ids = list(
        db.session.scalars(
            select(Product.id)
            .where(Product.id.in_(listed))
            .order_by(*order)
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    )
    facets: dict[str, Any] = {
        "kind": dict(
            db.session.execute(
                select(Product.kind, func.count())
                .where(
                    *product_ok(skip_kind=True), select(Variant.id).where(*variant_ok()).exists()
                )
                .group_by(Product.kind)
            ).all()
        )
    }
    for name, column in (
        ("gauge", Variant.gauge),
        ("length", Variant.length_mm),
        ("pins", Variant.pins),
    ):
        facets[name] = sorted(
            db.session.execute(
                select(column, func.count(Variant.product_id.distinct()))
                .join(Product, Product.id == Variant.product_id)
                .where(*product_ok(), *variant_ok(skip=name))
                .group_by(column)
            ).all()
        )
    return total, ids, facets


def _random_filters(rng: random.Random) -> queries.Filters:
    args: MultiDict[str, str] = MultiDict()
    for name, values in (
        ("kind", [k.value for k in Kind]),
        ("gauge", GAUGES + [29]),
        ("length", LENGTHS),
        ("pins", PINS),
    ):
        for value in rng.sample(values, rng.choice([0, 0, 1, 2])):
            args.add(name, f"{value:g}" if isinstance(value, float) else str(value))
    if rng.random() < 0.6:
        args["q"] = " ".join(rng.sample(WORDS, rng.choice([1, 1, 2])))
    args["sort"] = rng.choice(list(queries.SORTS))
    args["page"] = str(rng.choice([1, 1, 2, 3, 9]))
    return queries.Filters.from_args(args)


@pytest.mark.parametrize("sort_below", [queries._SORT_BELOW, 0])
def test_index_answers_as_sql_does(
    app: Flask, monkeypatch: pytest.MonkeyPatch, sort_below: int
) -> None:
    """Pages cut from the set sorted by rank, and from the sort order walked (large sets)."""
    monkeypatch.setattr(queries, "_SORT_BELOW", sort_below)
    rng = random.Random(20261122)
    with app.test_request_context():
        _random_catalogue(rng)
        db.session.commit()
        for _ in range(150):
            filters = _random_filters(rng)
            per_page = rng.choice([3, 5, 24])
            result = queries.listing(db.session, filters, per_page=per_page)
            total, ids, facets = _reference(filters, per_page)
            assert (result.total, [p.id for p in result.products]) == (total, ids), filters
            shown = {
                f.name: [(value, count) for value, _label, count in f.values] for f in result.facets
            }
            assert shown["kind"] == [(k.value, facets["kind"].get(k.value, 0)) for k in Kind]
            for name in ("gauge", "length", "pins"):
                assert shown[name] == [tuple(row) for row in facets[name]], (filters, name)


def test_index_follows_the_catalogue_version(app: Flask) -> None:
    with app.test_request_context():
        make_variant(product=make_product(name="First"), gauge=30)
        db.session.commit()
        first = queries.catalog_index(db.session)
        assert queries.catalog_index(db.session) is first  # kept while nothing changes
        make_variant(product=make_product(name="Second"), gauge=34)
        db.session.commit()
        second = queries.catalog_index(db.session)
        assert second is not first and second.version > first.version
        result = queries.listing(db.session, queries.Filters())
        assert [p.name for p in result.products] == ["First", "Second"]
        assert [v for v, _l, _n in result.facets[1].values] == [30, 34]
