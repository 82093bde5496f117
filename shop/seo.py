"""For search engines: `/sitemap.xml` (every page worth finding, with its last change)
and `/robots.txt` (what not to crawl, and where the sitemap is)."""

from __future__ import annotations

import datetime as dt
from xml.etree import ElementTree as ET

from flask import Blueprint, Response
from sqlalchemy import select

from shop.catalog.models import Product
from shop.extensions import db
from shop.guides.library import library
from shop.urls import external_url

bp = Blueprint("seo", __name__)

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
CACHE = "public, max-age=3600"
PRIVATE_PATHS = ("/cart", "/checkout", "/orders/", "/quotes/", "/account/", "/admin/", "/api/")


def _day(value: dt.datetime | dt.date | None) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    return value


@bp.get("/sitemap.xml")
def sitemap() -> Response:
    """Home, catalogue and guide list, every active product and every guide."""
    products = [
        (slug, _day(updated))
        for slug, updated in db.session.execute(
            select(Product.slug, Product.updated_at)
            .where(Product.is_active.is_(True))
            .order_by(Product.slug)
        )
    ]
    guides = library().guides
    catalogue_day = max((d for _, d in products if d), default=None)
    guides_day = library().updated
    home_day = max((d for d in (catalogue_day, guides_day) if d), default=None)

    entries: list[tuple[str, dt.date | None]] = [
        (external_url("catalog.home"), home_day),
        (external_url("catalog.product_list"), catalogue_day),
        (external_url("guides.guide_list"), guides_day),
    ]
    entries += [(external_url("catalog.product_page", slug=slug), day) for slug, day in products]
    entries += [(external_url("guides.guide_page", slug=g.slug), g.updated) for g in guides]

    urlset = ET.Element("urlset", xmlns=SITEMAP_NS)
    for loc, day in entries:
        url = ET.SubElement(urlset, "url")
        ET.SubElement(url, "loc").text = loc
        if day:
            ET.SubElement(url, "lastmod").text = day.isoformat()
    body = ET.tostring(urlset, encoding="unicode", xml_declaration=True)
    response = Response(body, mimetype="application/xml")
    response.headers["Cache-Control"] = CACHE
    return response


@bp.get("/robots.txt")
def robots() -> Response:
    lines = ["User-agent: *"]
    lines += [f"Disallow: {path}" for path in PRIVATE_PATHS]
    lines += ["", f"Sitemap: {external_url('seo.sitemap')}", ""]
    response = Response("\n".join(lines), mimetype="text/plain")
    response.headers["Cache-Control"] = CACHE
    return response
