"""Words of products for the search index, and the query that matches them.

Every word of a product's name, summary, description, kind and SKUs is stored once per
product in `search_terms`. A query matches products that have, for each query word, a
stored word starting with it, so "32g mes" finds "Meso Needle 32G". The (term, product)
primary key makes each word a range scan of the index on SQLite and PostgreSQL alike.

The ranges compare strings by code point, as SQLite does and as PostgreSQL does under the
"C" collation. Under a linguistic collation such as en_US.UTF-8 PostgreSQL orders "mi3-32g"
as if it read "mi332g" and puts ':' before '9', and a prefix range may then miss or add
words: so the `term` column is in COLLATE "C" on PostgreSQL whatever the database's own
collation (tests/catalog/test_collation.py).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import Label

from shop.catalog.models import Product, SearchTerm, Variant
from shop.extensions import db

MAX_TERM = 64
MAX_QUERY_WORDS = 8
MAX_SKU_PARTS = 6
_WORD = re.compile(r"[0-9a-z]+")
_SKU = re.compile(r"[0-9a-z]+(?:[-./][0-9a-z]+)+")


def words(text: str) -> set[str]:
    """The index words of a text: lower-case runs of letters and digits, and whole SKUs."""
    lowered = text.lower()
    found = {w[:MAX_TERM] for w in _WORD.findall(lowered)}
    found.update(s[:MAX_TERM] for s in _SKU.findall(lowered))
    return found


@dataclass(frozen=True)
class QueryWord:
    """One word of a search: a product matches when one of its index words starts with
    `text`. An SKU-like word ("mi7-33g", "27g/4mm") also has its letter-and-digit `parts`:
    when no index word at all starts with the whole of it, a product matches by having
    words starting with each part instead ("32g-4mm" finds MN-32G-4MM-100, "2.5mm" finds
    the 2.5 mm variants)."""

    text: str
    parts: tuple[str, ...] = ()


def query_words(q: str) -> list[QueryWord]:
    """The words of a search box entry, at most MAX_QUERY_WORDS of them: case and
    punctuation are dropped, except the separators inside an SKU-like word."""
    result: list[QueryWord] = []
    for chunk in q.lower().split():
        sku = _SKU.fullmatch(chunk.strip(".,;:!?\"'()"))
        if sku:
            parts = tuple(dict.fromkeys(p[:MAX_TERM] for p in _WORD.findall(sku.group(0))))
            found = [QueryWord(sku.group(0)[:MAX_TERM], parts[:MAX_SKU_PARTS])]
        else:
            found = [QueryWord(w[:MAX_TERM]) for w in _WORD.findall(chunk)]
        for word in found:
            if word not in result:
                result.append(word)
    return result[:MAX_QUERY_WORDS]


# How buyers write a needle: gauge "32G", "32 g", "g32"; length "4mm", "4 mm", "4.0mm",
# "2,5 mm"; pins "5 pins", "5-pin"; "x" or "×" between them ("32G x 4mm", "32gx4mm").
_NEEDLE = re.compile(
    r"(?<![0-9a-wyz.,])(?:"
    r"(?P<pins>\d{1,2})\s*-?\s*pins?"
    r"|g\s*(?P<gauge_first>\d{2})"
    r"|(?P<gauge>\d{2})\s*g(?:auge)?"
    r"|(?P<length>\d{1,2}(?:[.,]\d{1,2})?)\s*mm"
    r")(?![0-9a-wyz])"
)
_PINS_WORD = re.compile(r"\d{1,2}-pins?")
_BY = re.compile(r"(?<![0-9a-z])[x×](?![0-9a-z])")
_PUNCTUATION = ".,;:!?\"'()"
GAUGES = range(18, 35)
PINS = range(1, 13)


@dataclass(frozen=True)
class NeedleSearch:
    """A search box entry read as a buyer means it.

    `gauges`, `lengths` and `pins` are the needle a buyer wrote ("32G x 4mm", "5 pins"): a
    product matches when one and the same active variant has them. `skus` are the words
    shaped like a whole SKU (an exact one ranks first). `text` is what is left for the word
    index: names, descriptions, SKUs in part.
    """

    gauges: tuple[int, ...] = ()
    lengths: tuple[float, ...] = ()
    pins: tuple[int, ...] = ()
    skus: tuple[str, ...] = ()
    text: str = ""

    @property
    def needle(self) -> bool:
        return bool(self.gauges or self.lengths or self.pins)


def _is_sku(chunk: str) -> bool:
    """An SKU, whole or in part, as typed: letters and digits joined by hyphens or slashes
    ("MN-32G-4MM-100", "mi5-32g", "27G/13mm"), but not "5-pin"."""
    return bool(_SKU.fullmatch(chunk) and re.search(r"[-/]", chunk)) and not _PINS_WORD.fullmatch(
        chunk
    )


def _add(values: list[Any], value: Any) -> None:
    if value not in values:
        values.append(value)


def needle_search(q: str) -> NeedleSearch:
    """Read gauge, length, pins and SKUs out of a search box entry; the rest is text."""
    chunks = [c.strip(_PUNCTUATION) for c in q.lower().split()]
    skus = [c[:MAX_TERM] for c in chunks if _is_sku(c)]
    rest = " ".join(c for c in q.lower().split() if not _is_sku(c.strip(_PUNCTUATION)))
    gauges: list[int] = []
    lengths: list[float] = []
    pins: list[int] = []

    def read(match: re.Match[str]) -> str:
        gauge = match.group("gauge") or match.group("gauge_first")
        if gauge and int(gauge) in GAUGES:
            _add(gauges, int(gauge))
        elif match.group("length") and 0 < float(match.group("length").replace(",", ".")) <= 50:
            _add(lengths, round(float(match.group("length").replace(",", ".")), 1))
        elif match.group("pins") and int(match.group("pins")) in PINS:
            _add(pins, int(match.group("pins")))
        else:
            return match.group(0)  # not a needle we make: left as text
        return " "

    rest = _NEEDLE.sub(read, rest)
    if gauges or lengths or pins:
        rest = _BY.sub(" ", rest)
    words = [*skus, *rest.split()]
    return NeedleSearch(
        gauges=tuple(gauges[:MAX_QUERY_WORDS]),
        lengths=tuple(lengths[:MAX_QUERY_WORDS]),
        pins=tuple(pins[:MAX_QUERY_WORDS]),
        skus=tuple(dict.fromkeys(skus))[:MAX_QUERY_WORDS],
        text=" ".join(words),
    )


def exact_sku_ids(session: Session, skus: Iterable[str]) -> list[int]:
    """Products with an active variant whose SKU is one of these, whatever their case (the
    catalogue keeps SKUs in capitals: one look-up of the unique index)."""
    wanted = sorted({sku.upper() for sku in skus})
    if not wanted:
        return []
    return list(
        session.scalars(
            select(Variant.product_id)
            .where(Variant.sku.in_(wanted), Variant.is_active.is_(True))
            .distinct()
        )
    )


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


def matching_ids(session: Session, q: str) -> list[int] | None:
    """Ids of the products matching every word of `q` (in no particular order), in one query;
    None when `q` has no words to search for.

    The ids come back as one comma-separated string on SQLite (ten thousand rows cost more
    to fetch than to join and split) and as rows on PostgreSQL.
    """
    words = query_words(q)
    if not words:
        return None
    sqlite = session.get_bind().dialect.name == "sqlite"
    statement = _statement(tuple(len(word.parts) for word in words), sqlite)
    params: dict[str, str] = {}
    for n, word in enumerate(words):
        for key, term in (
            (f"w{n}", word.text),
            *((f"w{n}p{i}", p) for i, p in enumerate(word.parts)),
        ):
            params[f"{key}_from"], params[f"{key}_to"] = term, _next_prefix(term)
    if sqlite:
        joined = session.scalar(statement, params)
        return list(map(int, joined.split(","))) if joined else []
    return list(session.scalars(statement, params))


def _range(key: str) -> ColumnElement[bool]:
    """Index words starting with the term bound as `key`: one range scan of the key."""
    return and_(
        SearchTerm.term >= bindparam(f"{key}_from"), SearchTerm.term < bindparam(f"{key}_to")
    )


@functools.lru_cache(maxsize=256)
def _statement(shape: tuple[int, ...], sqlite: bool) -> Select[Any]:
    """The statement for the ids of the products matching words of this shape (the number of
    parts of each word; 0 for a plain word), its terms bound as w0_from, w0_to, w0p1_from...
    Made once per shape: building it is costlier than running it.

    One plain word is one range scan. Otherwise each word (and part) is a range scan tagged
    with its number, grouped by product and kept when every word (or, for an SKU-like word
    matching no index word whole, every one of its parts) has a row. A part's scan runs
    only when the whole word matches nothing: that condition is constant, checked once
    before the scan.
    """
    if shape == (0,):
        ids: Select[Any] = select(SearchTerm.product_id).where(_range("w0")).distinct()
    else:
        scans: list[Select[Any]] = []

        def scan(*conditions: ColumnElement[bool]) -> int:
            tag = len(scans)
            word: Label[Any] = literal_column(str(tag)).label("word")
            scans.append(select(SearchTerm.product_id, word).where(*conditions))
            return tag

        wanted = []
        for n, parts in enumerate(shape):
            whole = scan(_range(f"w{n}"))
            whole_scan = select(SearchTerm.product_id).where(_range(f"w{n}")).correlate(None)
            unmatched = ~whole_scan.exists()
            wanted.append((whole, [scan(_range(f"w{n}p{i}"), unmatched) for i in range(parts)]))
        rows = union_all(*scans).subquery()

        def has(tag: int) -> ColumnElement[bool]:
            return func.max(case((rows.c.word == tag, 1), else_=0)) == 1

        ids = (
            select(rows.c.product_id)
            .group_by(rows.c.product_id)
            .having(
                and_(
                    *(
                        or_(has(whole), and_(*(has(tag) for tag in tags))) if tags else has(whole)
                        for whole, tags in wanted
                    )
                )
            )
        )
    if sqlite:
        return select(func.group_concat(ids.subquery().c.product_id))
    return ids
