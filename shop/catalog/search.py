"""Words of products for the search index, and the query that matches them.

Every word of a product's name, summary, description, kind and SKUs is stored once per
product in `search_terms`. A query matches products that have, for each query word, a
stored word starting with it, so "32g mes" finds "Meso Needle 32G". The (term, product)
primary key makes each word a range scan of the index on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import Select, and_, delete, insert, select

from shop.catalog.models import Product, SearchTerm
from shop.extensions import db

MAX_TERM = 64
MAX_QUERY_WORDS = 8
_WORD = re.compile(r"[0-9a-z]+")
_SKU = re.compile(r"[0-9a-z]+(?:[-./][0-9a-z]+)+")


def words(text: str) -> set[str]:
    """The index words of a text: lower-case runs of letters and digits, and whole SKUs."""
    lowered = text.lower()
    found = {w[:MAX_TERM] for w in _WORD.findall(lowered)}
    found.update(s[:MAX_TERM] for s in _SKU.findall(lowered))
    return found


def query_words(q: str) -> list[str]:
    """The words of a search box entry, at most MAX_QUERY_WORDS, longest SKU form first."""
    result: list[str] = []
    for chunk in q.lower().split():
        sku = _SKU.fullmatch(chunk.strip(".,;:!?\"'()"))
        parts = [sku.group(0)] if sku else _WORD.findall(chunk)
        for part in parts:
            if part not in result:
                result.append(part[:MAX_TERM])
    return result[:MAX_QUERY_WORDS]


def words_of(texts: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for text in texts:
        found |= words(text)
    return found


def product_words(product: Product) -> set[str]:
    return words_of(
        (
            product.name,
            product.summary,
            product.description,
            product.kind.replace("-", " "),
            product.material,
            *(v.sku for v in product.variants),
            *(f"{v.gauge}g" for v in product.variants),
        )
    )


def reindex(products: Iterable[Product]) -> None:
    """Replace the index words of these products (flushes, does not commit)."""
    products = list(products)
    if not products:
        return
    ids = [p.id for p in products]
    db.session.execute(delete(SearchTerm).where(SearchTerm.product_id.in_(ids)))
    rows = [{"term": term, "product_id": p.id} for p in products for term in product_words(p)]
    if rows:
        db.session.execute(insert(SearchTerm), rows)


def _next_prefix(prefix: str) -> str:
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def matching_product_ids(q: str) -> Select[tuple[int]] | None:
    """A subquery of the ids of products matching every word of `q`; None when q is empty."""
    terms = query_words(q)
    if not terms:
        return None
    stmt: Select[tuple[int]] | None = None
    for term in terms:
        one = select(SearchTerm.product_id).where(
            and_(SearchTerm.term >= term, SearchTerm.term < _next_prefix(term))
        )
        stmt = one if stmt is None else stmt.intersect(one)  # type: ignore[assignment]
    assert stmt is not None
    return stmt
