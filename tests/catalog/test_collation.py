"""The search is right on a PostgreSQL database created with a linguistic collation
(en_US.UTF-8, or ICU's en-US where the system has no such locale), not only under "C".

A word is found by a prefix range: "29" by term >= '29' AND term < '2:'. In code-point order
':' follows '9'; in a linguistic order punctuation comes before every digit and letter, so
the range is empty and "29" finds nothing, unless the column compares in COLLATE "C".
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy.engine import make_url

from shop import create_app
from shop.catalog import search
from shop.extensions import db
from tests.factories import make_product, make_variant

pytestmark = pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL"),
    reason="collations are PostgreSQL's: set TEST_DATABASE_URL",
)

# Ways to create a database whose default collation is English, the first the server has.
LINGUISTIC = (
    "LC_COLLATE 'en_US.UTF-8' LC_CTYPE 'en_US.UTF-8'",
    "LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'",  # PostgreSQL 15 and later
)


@pytest.fixture
def english_database() -> Iterator[str]:
    base = make_url(os.environ["TEST_DATABASE_URL"])
    name = f"shop_test_en_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    refusals = []
    try:
        with admin.connect() as conn:
            for options in LINGUISTIC:
                try:
                    conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE template0 {options}'))
                    break
                except sa.exc.DBAPIError as exc:
                    refusals.append(str(exc.orig).strip())
            else:
                pytest.skip(f"the cluster has no English collation: {refusals}")
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def english_app(english_database: str) -> Iterator[Flask]:
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": english_database, "TESTING": True, "CACHE_TYPE": "SimpleCache"}
    )
    with app.app_context():
        upgrade()
        for gauge, slug in ((29, "meso-29"), (30, "meso-30")):
            product = make_product(name=f"Meso Needle {gauge}G", slug=slug)
            make_variant(product=product, sku=f"MN-{gauge}G-4MM-100", gauge=gauge)
        quiz = make_product(name="Fizz Quiz Needle", slug="fizz")
        make_variant(product=quiz, sku="FZ-9", gauge=32)
        db.session.commit()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _found(app: Flask, q: str) -> set[str]:
    with app.app_context():
        ids = search.matching_ids(db.session, q) or []
        return set(
            db.session.scalars(
                sa.text("SELECT slug FROM products WHERE id = ANY(:ids)"), {"ids": ids}
            )
        )


def test_the_database_really_orders_words_linguistically(english_app: Flask) -> None:
    with english_app.app_context():
        assert db.session.scalar(sa.text("SELECT '2:' < '29'")) is True  # not code-point order
        collation = db.session.scalar(
            sa.text(
                "SELECT collation_name FROM information_schema.columns "
                "WHERE table_name = 'search_terms' AND column_name = 'term'"
            )
        )
        assert collation == "C"


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("29", {"meso-29"}),
        ("29g", {"meso-29"}),
        ("mn-29g", {"meso-29"}),
        ("30", {"meso-30"}),
        ("fizz", {"fizz"}),
        ("qui", {"fizz"}),
        ("fz-9", {"fizz"}),
        ("needle", {"meso-29", "meso-30", "fizz"}),
        ("29 fizz", set()),
    ],
)
def test_prefix_search_finds_the_right_products_under_an_english_collation(
    english_app: Flask, q: str, expected: set[str]
) -> None:
    assert _found(english_app, q) == expected


def test_a_prefix_search_is_a_range_scan_of_the_index(english_app: Flask) -> None:
    """The one-word search's query (search._range), as the planner takes it once the table
    is too large to read whole (here: told not to read it whole)."""
    with english_app.app_context():
        db.session.execute(sa.text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(
            db.session.scalars(
                sa.text(
                    "EXPLAIN SELECT DISTINCT product_id FROM search_terms "
                    "WHERE term >= :w0_from AND term < :w0_to"
                ),
                {"w0_from": "29", "w0_to": "2:"},
            )
        )
        assert "pk_search_terms" in plan and "Index Cond" in plan, plan
