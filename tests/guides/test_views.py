"""What a practitioner sees on the guides and how guides and products link to each other."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select

from shop.catalog.models import Product
from shop.extensions import db
from tests.factories import make_lot, make_product, make_variant
from tests.guides.conftest import guide_text

SLUGS = {
    "what-is-hair-mesotherapy",
    "side-effects-causes-and-prevention",
    "managing-side-effects",
    "aftercare",
    "contraindications",
    "choosing-a-needle-for-scalp-mesotherapy",
}


def _section(html: str, heading_id: str) -> str:
    match = re.search(rf'<(section|nav)[^>]*aria-labelledby="{heading_id}".*?</\1>', html, re.S)
    assert match, f"no section labelled by #{heading_id}"
    return match.group(0)


def test_guide_list_links_every_guide(client: FlaskClient) -> None:
    response = client.get("/guides")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<h1>Hair mesotherapy guides</h1>" in html
    assert set(re.findall(r'<h2><a href="/guides/([^"]+)">', html)) == SLUGS
    assert "Information for healthcare professionals, not medical advice." in html


def test_guide_page_shows_title_dates_disclaimer_toc_body_and_sources(
    client: FlaskClient, demo: None
) -> None:
    response = client.get("/guides/aftercare")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.count("<h1>") == 1
    assert "<h1>Aftercare after hair mesotherapy</h1>" in html
    assert '<time datetime="2026-11-20">20 November 2026</time>' in html
    assert '<time datetime="2026-11-22">22 November 2026</time>' in html
    assert "Information for healthcare professionals, not medical advice." in html

    toc = _section(html, "guide-toc")
    entries = re.findall(r'<a href="#([^"]+)">([^<]+)</a>', toc)
    assert entries[:2] == [
        ("straight-after-the-session", "Straight after the session"),
        ("washing-the-hair", "Washing the hair"),
    ]
    for anchor, _title in entries:
        assert f'<h2 id="{anchor}">' in html

    sources = _section(html, "guide-sources")
    assert "Marzban, S., Amani, B., &amp; Asgharzadeh, A. (2017)" in sources
    assert '<a href="https://doi.org/10.5812/htaa.14078">' in sources
    # Aftercare names no product: no empty products section.
    assert 'id="guide-products"' not in html


def test_guide_shows_its_products_with_price_and_availability(
    client: FlaskClient, demo: None
) -> None:
    with client.application.app_context():
        product = db.session.scalar(select(Product).where(Product.slug == "meso-needle-30g"))
        assert product is not None
        product.is_active = False
        db.session.commit()

    html = client.get("/guides/what-is-hair-mesotherapy").get_data(as_text=True)
    products = _section(html, "guide-products")
    names = re.findall(r'class="related-name" href="/products/([^"]+)">', products)
    # In front-matter order, leaving out the product that is no longer sold.
    assert names == ["meso-needle-32g", "multi-injector-5-pin"]
    assert "from $7.50 per pack" in products
    assert "In stock" in products


def test_out_of_stock_product_says_so(
    guides_app: Callable[[Path], Flask], guides_dir: Path
) -> None:
    (guides_dir / "test-guide.md").write_text(guide_text(), encoding="utf-8")
    shop = guides_app(guides_dir)
    with shop.app_context():
        product = make_product(slug="test-needle", name="Test Needle")
        make_variant(product=product, prices=((1, 1234),))
        db.session.commit()
    html = shop.test_client().get("/guides/test-guide").get_data(as_text=True)
    products = _section(html, "guide-products")
    assert "Test Needle" in products
    assert "from $12.34 per pack" in products
    assert "Out of stock" in products


def test_unknown_guide_is_404(client: FlaskClient) -> None:
    response = client.get("/guides/no-such-guide")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


def test_product_page_lists_the_guides_that_name_it(client: FlaskClient, demo: None) -> None:
    html = client.get("/products/multi-injector-5-pin").get_data(as_text=True)
    section = _section(html, "guides-heading")
    linked = set(re.findall(r'<a href="/guides/([^"]+)">', section))
    assert linked == {
        "what-is-hair-mesotherapy",
        "side-effects-causes-and-prevention",
        "choosing-a-needle-for-scalp-mesotherapy",
    }
    # And back: each of those guides links to the product.
    for slug in linked:
        guide = client.get(f"/guides/{slug}").get_data(as_text=True)
        assert 'href="/products/multi-injector-5-pin">' in guide


def test_product_no_guide_names_has_no_guides_section(client: FlaskClient) -> None:
    with client.application.app_context():
        make_variant(product=make_product(slug="unlisted-needle"))
        db.session.commit()
    html = client.get("/products/unlisted-needle").get_data(as_text=True)
    assert 'id="guides-heading"' not in html


def test_guide_page_query_count_does_not_grow_with_its_products(
    client: FlaskClient, demo: None
) -> None:
    engine = _engine(client.application)
    counts = {}
    for slug in ("what-is-hair-mesotherapy", "choosing-a-needle-for-scalp-mesotherapy"):
        statements: list[str] = []

        def record(*args: object, statements: list[str] = statements) -> None:
            statements.append(str(args[2]))

        event.listen(engine, "before_cursor_execute", record)
        try:
            assert client.get(f"/guides/{slug}").status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", record)
        counts[slug] = len(statements)
    # 3 products and 12 products: the same few queries.
    assert counts["what-is-hair-mesotherapy"] == counts["choosing-a-needle-for-scalp-mesotherapy"]
    assert counts["what-is-hair-mesotherapy"] <= 5


def _engine(app: Flask):  # type: ignore[no-untyped-def]
    with app.app_context():
        return db.engine


def test_home_page_shows_families_featured_guides_quote_and_trust(
    client: FlaskClient, demo: None
) -> None:
    html = client.get("/").get_data(as_text=True)
    assert "Meso needles</a></h3>" in html and "Multi-injectors</a></h3>" in html
    assert "Featured needles" in html and 'class="card-name"' in html
    guides = _section(html, "home-guides")
    assert len(re.findall(r'<h3><a href="/guides/[^"]+">', guides)) == 3
    quote = _section(html, "distributors")
    assert 'href="/quote"' in quote
    trust = _section(html, "trust-heading")
    for fact in ("EO sterile", "Lot-tracked", "ISO 13485"):
        assert fact in trust


def test_guides_link_in_main_navigation(client: FlaskClient) -> None:
    html = client.get("/guides").get_data(as_text=True)
    nav = re.search(r'<nav aria-label="Main">.*?</nav>', html, re.S)
    assert nav and '<a href="/guides">Guides</a>' in nav.group(0)


def test_guide_stock_is_counted_from_lots(client: FlaskClient) -> None:
    with client.application.app_context():
        product = make_product(slug="meso-needle-32g", name="Meso Needle 32G")
        make_lot(make_variant(product=product), quantity=7)
        db.session.commit()
    html = client.get("/guides/what-is-hair-mesotherapy").get_data(as_text=True)
    products = _section(html, "guide-products")
    assert re.findall(r'href="/products/([^"]+)"', products) == ["meso-needle-32g"]
    assert "In stock: 7 packs" in products


def test_choosing_a_needle_ends_with_only_the_needles_its_advice_names(
    client: FlaskClient, demo: None
) -> None:
    html = client.get("/guides/choosing-a-needle-for-scalp-mesotherapy").get_data(as_text=True)
    products = _section(html, "guide-products")
    assert "Needles for point-by-point scalp work: 30G to 32G, 4 mm" in products
    shown = re.findall(r'class="related-name" href="/products/([^"]+)">', products)
    assert shown == [
        "meso-needle-30g",
        "meso-needle-31g",
        "meso-needle-32g",
        "meso-needle-32g-thin-wall",
    ]
    listing = "/products?kind=meso-needle&amp;gauge=30&amp;gauge=31&amp;gauge=32&amp;length=4"
    assert f'<a href="{listing}">' in products
    # The quick starting point links each piece of advice to the catalogue, filtered.
    assert f'<a href="{listing}">a 30G to 32G meso needle, 4 mm</a>' in html
    assert '<a href="/products?kind=multi-injector&amp;pins=5">' in html
    # The listing it links to shows those same needles.
    catalogue = client.get(listing.replace("&amp;", "&")).get_data(as_text=True)
    assert set(re.findall(r'<a class="card-link" href="/products/([^"]+)"', catalogue)) == set(
        shown
    )
