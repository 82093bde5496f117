"""What the search box finds: words by their start, every word, SKUs whole and in parts,
whatever the case and punctuation. The same answers on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from shop.catalog import search
from shop.catalog.models import Kind
from shop.extensions import db
from tests.factories import make_product, make_variant


@pytest.fixture
def needles(app: Flask) -> None:
    """Four products whose words and SKUs the tests below know by heart."""
    with app.app_context():
        fine = make_product(
            name="Meso Needle 32G", slug="meso-32", summary="Fine needle for papules."
        )
        make_variant(product=fine, sku="MN-32G-4MM-100", gauge=32, length_mm=4.0)
        make_variant(product=fine, sku="MN-32G-6MM-100", gauge=32, length_mm=6.0)
        wide = make_product(
            name="Meso Needle 27G", slug="meso-27", summary="Wide bore for thick products."
        )
        make_variant(product=wide, sku="MN-27G-13MM-100", gauge=27, length_mm=13.0)
        multi = make_product(
            name="Multi-Injector 5 Pins",
            slug="multi-5",
            kind=Kind.MULTI_INJECTOR,
            summary="Nappage over the scalp.",
        )
        make_variant(product=multi, sku="MI5-32G-2.5MM-20", gauge=32, length_mm=2.5, pins=5)
        holder = make_product(
            name="Cannula Holder",
            slug="holder",
            kind=Kind.MULTI_INJECTOR,
            summary="Holds what you inject with.",
        )
        make_variant(product=holder, sku="CH-1", gauge=25, length_mm=40.0)
        db.session.commit()


def names(client: FlaskClient, q: str) -> list[str]:
    response = client.get("/products", query_string={"q": q})
    assert response.status_code == 200
    return re.findall(r'<span class="card-name">([^<]+)</span>', response.get_data(as_text=True))


MESO = ["Meso Needle 27G", "Meso Needle 32G"]


@pytest.mark.parametrize(
    ("q", "found"),
    [
        # A word finds the words starting with it, never the ones merely containing it.
        ("mes", MESO),
        ("m", ["Cannula Holder", *MESO, "Multi-Injector 5 Pins"]),
        ("eso", []),
        ("needle", MESO),
        ("pap", ["Meso Needle 32G"]),
        # Every word must be found (in any of the product's texts and SKUs).
        ("meso 27g", ["Meso Needle 27G"]),
        ("needle fine 6mm", ["Meso Needle 32G"]),
        ("meso nappage", []),
        ("nappage 5", ["Multi-Injector 5 Pins"]),
        # SKUs whole, or their beginning.
        ("MN-32G-4MM-100", ["Meso Needle 32G"]),
        ("mn-27g-13mm-100", ["Meso Needle 27G"]),
        ("MN-32G", ["Meso Needle 32G"]),
        ("mi5-32g-2.5", ["Multi-Injector 5 Pins"]),
        ("CH-1", ["Cannula Holder"]),
        # SKUs in parts: typed with spaces, or a run from the middle.
        ("MN 32G 4MM 100", ["Meso Needle 32G"]),
        ("32G-4MM", ["Meso Needle 32G"]),
        ("32g-2.5mm", ["Multi-Injector 5 Pins"]),
        ("2.5mm", ["Multi-Injector 5 Pins"]),
        ("27G/13mm", ["Meso Needle 27G"]),
        ("32g", ["Meso Needle 32G", "Multi-Injector 5 Pins"]),
        # Case does not matter.
        ("MESO needle", MESO),
        ("mEsO NeEdLe", MESO),
        # Punctuation around words is not part of them.
        ("meso, needle!", MESO),
        ("(32G)", ["Meso Needle 32G", "Multi-Injector 5 Pins"]),
        ('"mn-32g-6mm-100"', ["Meso Needle 32G"]),
        ("meso;27g.", ["Meso Needle 27G"]),
        # Nothing to find.
        ("zzzz", []),
        ("meso zzzz", []),
        ("MN-99G-1MM-1", []),
    ],
)
def test_search_finds(client: FlaskClient, needles: None, q: str, found: list[str]) -> None:
    assert names(client, q) == found


def test_search_without_words_lists_everything(client: FlaskClient, needles: None) -> None:
    everything = names(client, "")
    assert len(everything) == 4
    assert names(client, "!!! -- ...") == everything
    assert names(client, "'\"") == everything
    # A NUL byte is refused before the search (PostgreSQL cannot compare it): the 400 page.
    assert client.get("/products", query_string={"q": "\x00'"}).status_code == 400


def test_very_long_searches(app: Flask, client: FlaskClient, needles: None) -> None:
    html = client.get("/products", query_string={"q": "x" * 5000}).get_data(as_text=True)
    assert "No needles match these filters" in html
    assert names(client, "meso " * 1000) == MESO
    # Straight to the search, past the list's 200-character cut: bounded words and parts.
    with app.app_context():
        assert search.matching_ids(db.session, "x" * 5000) == []
        # No SKU starts with mn-mn-mn-...: its one distinct part, mn, finds the two SKUs.
        assert len(search.matching_ids(db.session, "-".join(["mn"] * 2500)) or []) == 2
        assert len(search.matching_ids(db.session, " ".join(["meso"] * 2500)) or []) == 2
        many = " ".join(f"w{i}" for i in range(1000))
        assert search.matching_ids(db.session, many) == []
    words = search.query_words("a-" * 2500 + "b " + " ".join(f"w{i}" for i in range(100)))
    assert len(words) == search.MAX_QUERY_WORDS
    assert all(len(w.text) <= search.MAX_TERM for w in words)
    assert all(len(w.parts) <= search.MAX_SKU_PARTS for w in words)


def test_search_combines_with_filters_and_sorts(client: FlaskClient, needles: None) -> None:
    html = client.get("/products?q=32g&pins=5").get_data(as_text=True)
    assert re.findall(r'<span class="card-name">([^<]+)</span>', html) == ["Multi-Injector 5 Pins"]
    # The facets count the search's products: 32G has two, 27G none of them.
    html = client.get("/products?q=32g").get_data(as_text=True)
    assert re.search(r'32G <span class="count">\(2\)</span>', html)
    assert not re.search(r">27G <span", html)
    assert names(client, "32g") == ["Meso Needle 32G", "Multi-Injector 5 Pins"]
    html = client.get("/products?q=32g&sort=-name").get_data(as_text=True)
    assert re.findall(r'<span class="card-name">([^<]+)</span>', html) == [
        "Multi-Injector 5 Pins",
        "Meso Needle 32G",
    ]


def test_search_in_the_api(client: FlaskClient, needles: None) -> None:
    body = client.get("/api/v1/products?q=32G-4MM").get_json()
    assert [p["slug"] for p in body["products"]] == ["meso-32"]
    assert client.get("/api/v1/products?q=" + "x" * 200).get_json()["products"] == []
    too_long = client.get("/api/v1/products?q=" + "x" * 5000)  # as the OpenAPI document says
    assert too_long.status_code == 400
    assert too_long.get_json()["message"] == "q must be at most 200 characters"


def test_search_follows_edits(app: Flask, client: FlaskClient, needles: None) -> None:
    assert names(client, "holder") == ["Cannula Holder"]
    with app.app_context():
        from shop.catalog.models import Product
        from shop.catalog.services import refresh_derived

        holder = db.session.query(Product).filter_by(slug="holder").one()
        holder.name = "Cannula Clamp"
        refresh_derived([holder])
        db.session.commit()
    assert names(client, "holder") == []
    assert names(client, "clamp") == ["Cannula Clamp"]
