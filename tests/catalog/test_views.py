"""What a clinic buyer sees in the catalogue and on a product page."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from shop.extensions import db
from tests.factories import make_lot, make_product, make_variant


def _names(html: str) -> list[str]:
    return re.findall(r'<span class="card-name">([^<]+)</span>', html)


def test_catalogue_lists_demo_products(client: FlaskClient, demo: None) -> None:
    response = client.get("/products")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "12 products" in html
    assert "Meso Needle 32G" in html and "Multi-Injector 5 Pins" in html
    assert "<title>All needles · Meso Needle Works</title>" in html
    assert '<meta name="description"' in html


def test_filter_by_gauge_and_kind_combine_and_show_counts(client: FlaskClient, demo: None) -> None:
    html = client.get("/products?kind=multi-injector&gauge=33").get_data(as_text=True)
    assert _names(html) == [
        "Multi-Injector 3 Pins",
        "Multi-Injector 5 Pins",
        "Multi-Injector 7 Pins",
    ]
    # The gauge facet counts products of the chosen family at each gauge.
    assert re.search(r'34G <span class="count">\(1\)</span>', html)
    # The family facet counts products at the chosen gauge in each family.
    assert re.search(r'Meso needle <span class="count">\(1\)</span>', html)
    assert 'value="33" checked' in html


def test_several_values_of_one_filter(client: FlaskClient, demo: None) -> None:
    html = client.get("/products?gauge=27&gauge=34").get_data(as_text=True)
    assert _names(html) == ["Meso Needle 27G", "Meso Needle 34G", "Multi-Injector 5 Pins 34G"]


def test_length_and_pins_filters(client: FlaskClient, demo: None) -> None:
    html = client.get("/products?length=13&pins=1").get_data(as_text=True)
    assert _names(html) == [
        "Meso Needle 27G",
        "Meso Needle 30G",
        "Meso Needle 31G",
        "Meso Needle 32G",
    ]
    html = client.get("/products?length=1.5&pins=9").get_data(as_text=True)
    assert _names(html) == ["Multi-Injector 9 Pins"]


def test_text_search_over_names_descriptions_and_skus(client: FlaskClient, demo: None) -> None:
    assert _names(client.get("/products?q=thin+wall").get_data(as_text=True)) == [
        "Meso Needle 32G Thin Wall"
    ]
    assert _names(client.get("/products?q=MI7-33G-2.5MM-20").get_data(as_text=True)) == [
        "Multi-Injector 7 Pins"
    ]
    # A prefix finds words as they are typed; words combine.
    assert _names(client.get("/products?q=nappa+9").get_data(as_text=True)) == [
        "Multi-Injector 9 Pins"
    ]
    html = client.get("/products?q=zzzzunknown").get_data(as_text=True)
    assert "No needles match these filters" in html


def test_sort_by_price_both_ways(client: FlaskClient, demo: None) -> None:
    cheap_first = _names(client.get("/products?sort=price").get_data(as_text=True))
    assert cheap_first[0] == "Meso Needle 32G"  # its 20-pack trial box is the cheapest pack
    assert _names(client.get("/products?sort=-price").get_data(as_text=True))[0] == (
        "Multi-Injector 9 Pins"
    )
    assert _names(client.get("/products?sort=-name").get_data(as_text=True))[0] == (
        "Multi-Injector 9 Pins"
    )


def test_pages(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        for i in range(30):
            make_product(name=f"Needle {i:02d}", variants=1)
        db.session.commit()
    first = client.get("/products").get_data(as_text=True)
    assert "30 products, showing 1–24" in first
    assert 'href="/products?page=2"' in first
    second = client.get("/products?page=2").get_data(as_text=True)
    assert _names(second) == [f"Needle {i:02d}" for i in range(24, 30)]
    assert "Page 2 of 2" in second


@pytest.mark.parametrize(
    "query",
    [
        "gauge=abc",
        "page=-1",
        "page=99999",
        "page=abc",
        "length=nan",
        "length=inf",
        "pins=99",
        "sort=drop+table",
        "kind=<script>",
        "q=" + "x" * 5000,
        "q=%27%22",  # a NUL byte is a 400 (tests/test_input_guard.py)
        "gauge=" + "9" * 400,
    ],
)
def test_bad_input_never_fails(client: FlaskClient, demo: None, query: str) -> None:
    response = client.get(f"/products?{query}")
    assert response.status_code == 200
    assert "<script>" not in response.get_data(as_text=True).split("<main")[1]


def test_unknown_filter_values_are_said_to_be_ignored(client: FlaskClient, demo: None) -> None:
    html = client.get("/products?gauge=abc").get_data(as_text=True)
    assert "were not understood and were left out: gauge" in html


def test_product_page_shows_specs_sterility_and_lot_expiry(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        product = make_product(name="Meso Needle 32G", slug="meso-32")
        variant = make_variant(
            product=product,
            sku="MN-32G-4MM-100",
            gauge=32,
            length_mm=4.0,
            prices=((1, 3000), (10, 2760), (50, 2550)),
            min_order_quantity=2,
        )
        make_lot(variant, quantity=7, expires_in_days=-30, lot_number="EXPIRED1")
        make_lot(variant, quantity=9, expires_in_days=60, lot_number="SHORT1")
        make_lot(variant, quantity=40, expires_in_days=800, lot_number="GOOD1")
        make_lot(variant, quantity=25, expires_in_days=1500, lot_number="LATER1")
        db.session.commit()
    response = client.get("/products/meso-32")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for text in (
        "MN-32G-4MM-100",
        "32G",
        "4 mm",
        "100 needles",
        "$30.00",
        "$27.60 from 10 packs",
        "$25.50 from 50 packs",
        "2 packs",
        "Outer diameter",
        "32G: 0.23 mm",
        "Tri-bevel",
        "Ethylene oxide (EO)",
        "Sterile barrier",
        "Latex-free",
        "ISO 13485",
        "60 months from manufacture",
        "Silicone",
    ):
        assert text in html, text
    # Only lots with 12+ months left count: 40 + 25, never the expired or short-dated ones.
    assert "65 packs" in html
    expiry = date.today() + timedelta(days=800)
    assert f"Ships expiry {expiry:%Y-%m}" in html
    assert f"Earliest lot shipped now expires {expiry:%d %B %Y}" in html
    form = re.search(
        r'<form class="add-to-cart" method="post" action="/cart/add">(.*?)</form>', html, re.S
    )
    assert form is not None
    assert 'name="sku" value="MN-32G-4MM-100"' in form.group(1)
    assert 'name="quantity"' in form.group(1)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.group(1))
    assert token and token.group(1) != "__csrf_token_placeholder__"
    ld = json.loads(
        re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S).group(1)
    )
    assert ld["@type"] == "Product" and ld["offers"]["lowPrice"] == "25.50"
    assert ld["offers"]["availability"] == "https://schema.org/InStock"


def test_product_page_reflects_stock_change_at_once(app: Flask, client: FlaskClient) -> None:
    """The cached page is invalidated by a stock change."""
    with app.app_context():
        variant = make_variant(product=make_product(slug="cached"), sku="C-1")
        db.session.commit()
    assert "Out of stock" in client.get("/products/cached").get_data(as_text=True)
    with app.app_context():
        make_lot(db.session.merge(variant), quantity=12)
        db.session.commit()
    assert "12 packs" in client.get("/products/cached").get_data(as_text=True)


def test_csrf_token_is_per_visitor_on_cached_pages(app: Flask, demo: None) -> None:
    tokens = set()
    for _ in range(2):
        html = app.test_client().get("/products/meso-needle-32g").get_data(as_text=True)
        tokens.add(re.search(r'name="csrf_token" value="([^"]+)"', html).group(1))
    assert len(tokens) == 2


def test_unknown_product_is_a_friendly_404(client: FlaskClient, demo: None) -> None:
    response = client.get("/products/no-such-needle")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)
    assert client.get("/products/" + "x" * 3000).status_code == 404


def test_inactive_product_is_hidden(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        make_product(slug="retired", name="Retired Needle", variants=2, is_active=False)
        db.session.commit()
    assert client.get("/products/retired").status_code == 404
    assert "Retired Needle" not in client.get("/products").get_data(as_text=True)


def test_every_demo_product_has_its_own_picture(client: FlaskClient, demo: None) -> None:
    single = client.get("/products/meso-needle-32g/picture.svg")
    multi = client.get("/products/multi-injector-9-pin/picture.svg")
    assert single.status_code == multi.status_code == 200
    assert single.mimetype == "image/svg+xml"
    assert single.data != multi.data
    assert multi.data.count(b'class="pin"') == 9
    assert client.get("/products/nothing/picture.svg").status_code == 404


def test_home_page_presents_families_and_featured(client: FlaskClient, demo: None) -> None:
    html = client.get("/").get_data(as_text=True)
    assert "Meso needles" in html and "Multi-injectors" in html
    assert "Featured needles" in html and "Meso Needle 34G" in html


def test_security_headers(client: FlaskClient, demo: None) -> None:
    response = client.get("/products")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_static_assets_are_fingerprinted_and_cached_long(client: FlaskClient) -> None:
    html = client.get("/").get_data(as_text=True)
    href = re.search(r'href="(/static/css/shop\.css\?v=[0-9a-f]{12})"', html).group(1)
    response = client.get(href)
    response.close()
    assert response.status_code == 200
    assert "immutable" in response.headers["Cache-Control"]


def test_a_description_typed_with_windows_line_endings_keeps_its_paragraphs(
    app: Flask, client: FlaskClient
) -> None:
    """A browser's textarea sends \\r\\n: blank lines still part paragraphs, and a single line
    break stays a line break."""
    with app.app_context():
        make_variant(
            product=make_product(
                slug="typed",
                name="Typed Needle",
                description="Sterile, single use.\r\nLatex free.\r\n\r\n  \r\nUse once.\r\n",
            )
        )
        db.session.commit()
    html = client.get("/products/typed").get_data(as_text=True)
    assert "<p>Sterile, single use.<br>Latex free.</p><p>Use once.</p>" in html


def test_paragraphs_of_typed_text() -> None:
    from shop.wording import paragraphs

    assert paragraphs("a\rb\n\n\nc\r\n \r\nd ") == [["a", "b"], ["c"], ["d"]]
    assert paragraphs("") == [] and paragraphs(None) == [] and paragraphs(" \r\n ") == []
