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


@pytest.fixture
def more_needles(app: Flask, needles: None) -> None:
    """A pack mixing a 32G 6 mm and a 30G 4 mm needle (it has "32G" and "4mm" but no 32G
    4 mm variant), and a clamp whose SKU starts with the holder's."""
    with app.app_context():
        mixed = make_product(name="Mixed Needles", slug="mixed", summary="Two needles.")
        make_variant(product=mixed, sku="MX-32G-6MM-10", gauge=32, length_mm=6.0)
        make_variant(product=mixed, sku="MX-30G-4MM-10", gauge=30, length_mm=4.0)
        clamp = make_product(name="Cannula Clamp", slug="clamp", summary="Clamps.")
        make_variant(product=clamp, sku="CH-10", gauge=25, length_mm=40.0)
        db.session.commit()


THIRTY_TWO = ["Meso Needle 32G", "Mixed Needles", "Multi-Injector 5 Pins"]
FOUR_MM = ["Meso Needle 32G", "Mixed Needles"]


@pytest.mark.parametrize(
    ("q", "found"),
    [
        # Gauge and length of one and the same variant, however they are written.
        *(
            (q, ["Meso Needle 32G"])
            for q in (
                "32G x 4mm",
                "32G 4mm",
                "32g 4 mm",
                "32 g 4 mm",
                "g32 4mm",
                "G32 x 4 mm",
                "32G x 4.0mm",
                "32gx4mm",
                "32G×4mm",
                "4mm 32G",
                "meso 32G x 4mm",
                "Needle, 32G x 4mm.",
            )
        ),
        ("32G x 13mm", []),
        ("27G x 13mm", ["Meso Needle 27G"]),
        ("30G x 2,5 mm", []),
        # A gauge alone, a length alone.
        *((q, THIRTY_TWO) for q in ("32G", "32 g", "g32", "32g")),
        *((q, FOUR_MM) for q in ("4mm", "4 mm", "4.0mm", "4.0 mm")),
        ("2.5 mm", ["Multi-Injector 5 Pins"]),
        # Pins.
        *((q, ["Multi-Injector 5 Pins"]) for q in ("5 pins", "5-pin", "5 pin", "5pins", "5-Pins")),
        ("32G 5 pins", ["Multi-Injector 5 Pins"]),
        ("7 pins", []),
        # SKUs in any case, whole or in part.
        *(
            (q, ["Mixed Needles"])
            for q in ("MX-30G-4MM-10", "mx-30g-4mm-10", "Mx-30G-4mm-10", "mx-30g", "30G-4MM")
        ),
        ("mn-32g-4mm-100", ["Meso Needle 32G"]),
        ("MI5-32G", ["Multi-Injector 5 Pins"]),
        # A number that is no needle of ours stays a word to look for.
        ("99G", []),
        ("x", []),
    ],
)
def test_search_understands_how_buyers_write_needles(
    client: FlaskClient, more_needles: None, q: str, found: list[str]
) -> None:
    assert names(client, q) == found


def test_an_exact_sku_comes_first_whatever_the_sort(
    client: FlaskClient, more_needles: None
) -> None:
    # "ch-1" starts both SKUs; the holder's SKU is exactly CH-1.
    assert names(client, "ch-1") == ["Cannula Holder", "Cannula Clamp"]
    assert names(client, "CH-10") == ["Cannula Clamp"]
    html = client.get("/products", query_string={"q": "Ch-1", "sort": "-name"})
    shown = re.findall(r'<span class="card-name">([^<]+)</span>', html.get_data(as_text=True))
    assert shown == ["Cannula Holder", "Cannula Clamp"]


def test_needles_typed_in_the_search_box_are_read_as_gauge_length_and_pins() -> None:
    wanted = search.needle_search("Meso 32G x 4.0mm 5-pin MN-32G")
    assert (wanted.gauges, wanted.lengths, wanted.pins) == ((32,), (4.0,), (5,))
    assert wanted.skus == ("mn-32g",)
    assert wanted.text.split() == ["mn-32g", "meso"]
