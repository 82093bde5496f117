"""`/guides` and `/guides/<slug>`: the treatment guides and the products they name."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, url_for

from shop.guides.library import Guide, library
from shop.guides.services import RelatedProduct, fitting, related_products
from shop.urls import external_url

bp = Blueprint("guides", __name__)

SHOP_NAME = "Meso Needle Works"


@bp.get("/guides")
def guide_list() -> str:
    return render_template("guides/list.html", guides=library().guides)


@bp.get("/guides/<slug>")
def guide_page(slug: str) -> str:
    guide = library().get(slug)
    if guide is None:
        abort(404)
    products = related_products(guide.products)
    canonical = external_url("guides.guide_page", slug=guide.slug)
    advice = guide.advice
    return render_template(
        "guides/guide.html",
        guide=guide,
        products=fitting(products, advice.listing) if advice else products,
        advice_url=f"{url_for('catalog.product_list')}?{advice.listing}" if advice else None,
        canonical=canonical,
        article=article_json_ld(guide, products, canonical),
        others=[g for g in library().guides if g.slug != guide.slug],
    )


def article_json_ld(guide: Guide, products: list[RelatedProduct], url: str) -> dict[str, Any]:
    """schema.org Article for a guide, for search engines."""
    shop = {
        "@type": "Organization",
        "name": SHOP_NAME,
        "url": external_url("catalog.home"),
        "logo": {
            "@type": "ImageObject",
            "url": external_url("static", filename="img/logo.svg"),
        },
    }
    return {
        "@context": "https://schema.org",
        "@type": "Article",
        "headline": guide.title,
        "description": guide.description,
        "datePublished": guide.published.isoformat(),
        "dateModified": guide.updated.isoformat(),
        "inLanguage": "en",
        "url": url,
        "mainEntityOfPage": {"@type": "WebPage", "@id": url},
        "author": shop,
        "publisher": shop,
        "audience": {"@type": "Audience", "audienceType": "Healthcare professionals"},
        "timeRequired": f"PT{guide.reading_minutes}M",
        "citation": [f"{s.citation} {s.url}" if s.url else s.citation for s in guide.sources],
        "mentions": [
            {
                "@type": "Product",
                "name": r.product.name,
                "url": external_url("catalog.product_page", slug=r.product.slug),
            }
            for r in products
        ],
    }
