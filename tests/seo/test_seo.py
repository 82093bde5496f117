"""What search engines and link previews read: sitemap, robots.txt, canonical URLs,
Open Graph tags and schema.org JSON-LD; and text responses compressed on the way out."""

from __future__ import annotations

import gzip
import json
import re
from html import unescape
from xml.etree import ElementTree as ET

import brotli
from flask.testing import FlaskClient
from sqlalchemy import select

from shop.catalog.models import Product
from shop.extensions import db
from tests.factories import make_product, make_variant

NS = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
GUIDES = {
    "what-is-hair-mesotherapy",
    "side-effects-causes-and-prevention",
    "managing-side-effects",
    "aftercare",
    "contraindications",
    "choosing-a-needle-for-scalp-mesotherapy",
}


def _meta(html: str) -> dict[str, str]:
    return {
        name: unescape(content)
        for name, content in re.findall(r'<meta property="([^"]+)" content="([^"]*)">', html)
    }


def _json_ld(html: str) -> list[dict]:  # type: ignore[type-arg]
    return [
        json.loads(block)
        for block in re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    ]


def test_sitemap_lists_every_active_product_and_guide(client: FlaskClient, demo: None) -> None:
    with client.application.app_context():
        hidden = make_product(slug="withdrawn-needle", is_active=False)
        make_variant(product=hidden)
        db.session.commit()
        active = set(db.session.scalars(select(Product.slug).where(Product.is_active.is_(True))))
    response = client.get("/sitemap.xml")
    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    root = ET.fromstring(response.data)  # noqa: S314 - our own response
    assert root.tag == "{http://www.sitemaps.org/schemas/sitemap/0.9}urlset"
    urls = {
        u.findtext("s:loc", namespaces=NS): u.findtext("s:lastmod", namespaces=NS)
        for u in root.findall("s:url", NS)
    }
    base = "http://127.0.0.1:5000"
    assert {f"{base}/", f"{base}/products", f"{base}/guides"} <= urls.keys()
    products = {u.removeprefix(f"{base}/products/") for u in urls if "/products/" in u}
    assert products == active and len(active) == 12
    assert {u.removeprefix(f"{base}/guides/") for u in urls if "/guides/" in u} == GUIDES
    assert urls[f"{base}/guides/aftercare"] == "2026-11-22"
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", lastmod or "") for lastmod in urls.values())


def test_robots_txt_points_at_the_sitemap(client: FlaskClient) -> None:
    response = client.get("/robots.txt")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    lines = response.get_data(as_text=True).splitlines()
    assert "User-agent: *" in lines
    assert "Sitemap: http://127.0.0.1:5000/sitemap.xml" in lines
    assert "Disallow: /checkout" in lines and "Disallow: /admin/" in lines
    assert not any(line.strip() == "Disallow: /" for line in lines)


def test_open_graph_tags_default_to_the_page_title_and_description(
    client: FlaskClient, demo: None
) -> None:
    html = client.get("/products/meso-needle-32g").get_data(as_text=True)
    og = _meta(html)
    assert og["og:title"] == "Meso Needle 32G"
    assert og["og:type"] == "website"
    assert og["og:url"] == "http://127.0.0.1:5000/products/meso-needle-32g"
    assert og["og:description"].startswith("Fine 32G needle")
    assert og["og:site_name"] == "Meso Needle Works"

    home = _meta(client.get("/").get_data(as_text=True))
    assert home["og:title"] == "Meso needles and multi-injectors for clinics"
    assert home["og:url"] == "http://127.0.0.1:5000/"


def test_guide_has_canonical_article_og_and_article_json_ld(
    client: FlaskClient, demo: None
) -> None:
    html = client.get("/guides/choosing-a-needle-for-scalp-mesotherapy").get_data(as_text=True)
    url = "http://127.0.0.1:5000/guides/choosing-a-needle-for-scalp-mesotherapy"
    assert f'<link rel="canonical" href="{url}">' in html
    og = _meta(html)
    assert og["og:type"] == "article"
    assert og["og:title"] == "Choosing a needle for scalp mesotherapy"
    assert og["og:url"] == url
    assert og["article:published_time"] == "2026-11-20"

    (article,) = [d for d in _json_ld(html) if d.get("@type") == "Article"]
    assert article["@context"] == "https://schema.org"
    assert article["headline"] == "Choosing a needle for scalp mesotherapy"
    assert article["datePublished"] == "2026-11-20"
    assert article["dateModified"] == "2026-11-22"
    assert article["mainEntityOfPage"]["@id"] == url
    assert article["publisher"]["name"] == "Meso Needle Works"
    assert len(article["citation"]) == 2
    assert len(article["mentions"]) == 12
    assert article["mentions"][0]["url"] == "http://127.0.0.1:5000/products/meso-needle-27g"


def test_home_and_guide_list_have_canonical_links(client: FlaskClient) -> None:
    assert '<link rel="canonical" href="http://127.0.0.1:5000/">' in client.get("/").get_data(
        as_text=True
    )
    html = client.get("/guides").get_data(as_text=True)
    assert '<link rel="canonical" href="http://127.0.0.1:5000/guides">' in html


def test_html_is_gzipped_when_the_client_accepts_gzip(client: FlaskClient, demo: None) -> None:
    response = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response.headers["Vary"]
    assert response.mimetype == "text/html"
    html = gzip.decompress(response.data).decode()
    assert html.startswith("<!doctype html>")


def test_brotli_preferred_and_css_compressed(client: FlaskClient) -> None:
    response = client.get("/guides", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert response.headers["Content-Encoding"] == "br"
    assert b"Hair mesotherapy guides" in brotli.decompress(response.data)

    # The file is read whole, compressed, and closed with the response.
    with client.get("/static/css/shop.css?v=1", headers={"Accept-Encoding": "gzip"}) as css:
        assert css.headers["Content-Encoding"] == "gzip"
        assert b"Guides and storefront" in gzip.decompress(css.data)
        assert "immutable" in css.headers["Cache-Control"]


def test_no_compression_without_accept_encoding(client: FlaskClient) -> None:
    response = client.get("/guides")
    assert "Content-Encoding" not in response.headers
    assert b"Hair mesotherapy guides" in response.data
