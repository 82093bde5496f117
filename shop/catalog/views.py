"""The storefront catalogue: home, product list and product pages, product pictures."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Any, TypeVar

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from wtforms.fields.choices import SelectChoice

from shop import shared_cache
from shop.catalog import queries
from shop.catalog.forms import PlannerForm
from shop.catalog.media import media_response
from shop.catalog.models import Kind, Product, Variant
from shop.catalog.pictures import needle_svg
from shop.catalog.planner import Course, Plan, plan
from shop.catalog.queries import VariantRef
from shop.catalog.versions import page_version, stock_version
from shop.extensions import db
from shop.inventory.services import (
    Availability,
    availability,
    shop_min_shelf_life_months,
    stock_digest,
)

bp = Blueprint("catalog", __name__)
media_bp = Blueprint("media", __name__)


@media_bp.get("/media/<name>")
def media_file(name: str) -> Response:
    """A product photo or IFU document uploaded by staff."""
    return media_response(name)


T = TypeVar("T")
StockMap = dict[int, Availability]
CSRF_PLACEHOLDER = "__csrf_token_placeholder__"


def cached_fragment(
    name: str, key: str, render: Callable[[], T], *, stock: Mapping[int, Availability] | None = None
) -> T:
    """HTML rendered once per catalogue version, day and stock shown, shared by every request.

    The key carries the catalogue version (moved by every catalogue change), today's date
    (lots age past the minimum shelf life) and a digest of `stock`, the availability of
    the variants the page shows, which `render` must show as it is: so a stale entry is
    never read again, and a sale refreshes only the pages of the variants it changed. A
    render that put the visitor's CSRF token in the HTML (rather than CSRF_PLACEHOLDER) is
    served but never shared.
    """
    digest = stock_digest(stock) if stock else "-"
    full_key = f"{name}:{page_version()}:{date.today().isoformat()}:{digest}:{key}"
    value: T | None = shared_cache.get(full_key)
    if value is None:
        token_field = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
        had_token = token_field in g
        value = render()
        if had_token or token_field not in g:
            shared_cache.set(full_key, value)
    return value


# Pages' stock counted by this process, kept while the stock version and the day stay the
# same: (stock version, day, stock) by page. At most this many pages are kept.
_STOCK_KEPT = 4096


def page_stock(page: tuple[Any, ...], variants: Callable[[], list[VariantRef]]) -> StockMap:
    """The stock of the variants a page shows: counted (one query) when the stock moved
    since this process last counted it for this page, else the count kept. Any change of
    stock moves the version, so a count is never older than the request's read of it."""
    kept: dict[tuple[Any, ...], tuple[int, date, StockMap]] = current_app.extensions.setdefault(
        "page_stock", {}
    )
    version, today = stock_version(), date.today()
    found = kept.get(page)
    if found is not None and found[0] == version and found[1] == today:
        return found[2]
    stock = availability(variants(), today=today)
    if len(kept) >= _STOCK_KEPT:
        kept.clear()
    kept[page] = (version, today, stock)
    return stock


def _shown(
    stock: Mapping[int, Availability], variants: Iterable[Variant]
) -> dict[int, Availability]:
    """The stock to render these variants with: the one the page is keyed by, unless the
    catalogue moved meanwhile and a variant is missing from it (then counted afresh)."""
    variants = list(variants)
    if all(v.id in stock for v in variants):
        return dict(stock)
    return availability(variants)


# Session keys that do not change a catalogue page: a visitor whose session holds no more
# than these sees the page a first-time visitor sees.
STATELESS_SESSION_KEYS = frozenset({"csrf_token"})


def stateless_visitor() -> bool:
    """Whether this visitor sees catalogue pages as a first-time visitor does: not signed in
    (no remember-me cookie either), nothing in the cart, no message flashed."""
    remember = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
    return remember not in request.cookies and session.keys() <= STATELESS_SESSION_KEYS


def url_key() -> str:
    """The request's path and raw query string as a short cache key: a page cached whole
    shows its raw arguments (its links are built on SHOP_BASE_URL, never on the host)."""
    environ = request.environ
    url = "\n".join(
        (
            environ.get("SCRIPT_NAME", ""),
            environ.get("PATH_INFO", ""),
            environ.get("QUERY_STRING", ""),
        )
    )
    return hashlib.blake2b(url.encode("utf-8", "surrogateescape"), digest_size=16).hexdigest()


def _with_csrf(html: str) -> Markup:
    return Markup(html.replace(CSRF_PLACEHOLDER, generate_csrf()))  # noqa: S704


@bp.get("/")
def home() -> str:
    index = queries.catalog_index(db.session)
    stock = page_stock(("home", index.featured), lambda: index.variants_of(index.featured))

    def render() -> str:
        featured = list(
            db.session.scalars(
                select(Product)
                .where(Product.id.in_(index.featured))
                .options(queries.active_variants())
            )
        )
        featured.sort(key=lambda p: index.featured.index(p.id))
        shown = _shown(stock, (v for p in featured for v in p.variants))
        return render_template("catalog/_home.html", featured=featured, stock=shown, kinds=Kind)

    body = cached_fragment("home", "", render, stock=stock)
    return render_template("catalog/home.html", body=Markup(body))  # noqa: S704


@bp.get("/products")
def product_list() -> str:
    """The filtered catalogue. Visitors without state of their own (most of them) get the
    whole page from the cache, keyed by URL; the others get it rendered around the cached
    listing, keyed by filters, so that their cart count and messages show. Either is keyed
    by the stock of the page's variants too, found from the catalogue index."""
    filters = queries.Filters.from_args(request.args)
    selection = queries.select_page(db.session, filters)
    ids = tuple(selection.ids)
    stock = page_stock(("list", ids), lambda: selection.index.variants_of(ids))

    def render_listing() -> str:
        result = queries.listing(db.session, filters, price_tiers=False, selection=selection)
        shown = _shown(stock, (v for p in result.products for v in p.variants))
        return render_template(
            "catalog/_listing.html", listing=result, stock=shown, sorts=queries.SORTS
        )

    def render_page(body: str) -> str:
        return render_template("catalog/list.html", filters=filters, body=Markup(body))  # noqa: S704

    if stateless_visitor():
        return cached_fragment(
            "listing-page", url_key(), lambda: render_page(render_listing()), stock=stock
        )
    body = cached_fragment("listing", filters.cache_key(), render_listing, stock=stock)
    return render_page(body)


@bp.get("/products/<slug>")
def product_page(slug: str) -> str:
    return render_product_page(slug)[0]


def render_product_page(slug: str, *, error: tuple[str, str, str] | None = None) -> tuple[str, int]:
    """The product page. Visitors without state of their own get it whole from the cache
    (the CSRF token of the add-to-cart forms put in per request); the others get it
    rendered around the cached product. With `error` (sku, message, quantity typed) it is
    rendered afresh with the message beside that variant's form and the quantity kept."""
    index = queries.catalog_index(db.session)
    product_id = index.slugs.get(slug)
    if product_id is None:
        abort(404)
    stock = page_stock(("product", product_id), lambda: index.variants_of([product_id]))

    def render() -> dict[str, str]:
        product = queries.product_by_slug(db.session, slug)
        if product is None:
            return {}
        guides_for = current_app.extensions.get("guides_for_product")
        html = render_template(
            "catalog/_product.html",
            product=product,
            stock=_shown(stock, product.variants),
            csrf_placeholder=CSRF_PLACEHOLDER,
            min_shelf_life_months=shop_min_shelf_life_months(),
            guides=guides_for(slug) if guides_for else [],
            error=error,
        )
        return {"html": html, "title": product.name, "description": product.summary}

    def render_whole(page: dict[str, str]) -> str:
        return render_template(
            "catalog/product.html",
            body=Markup(page["html"]),  # noqa: S704 - rendered by our own template
            title=page["title"],
            description=page["description"],
            slug=slug,
        )

    if error is None and stateless_visitor():

        def render_whole_page() -> dict[str, str]:
            page = render()
            return {"html": render_whole(page)} if page else {}

        whole = cached_fragment("product-page", slug, render_whole_page, stock=stock)
        if not whole:
            abort(404)
        return _with_csrf(whole["html"]), 200
    page = render() if error else cached_fragment("product", slug, render, stock=stock)
    if not page:
        abort(404)
    html = render_whole({**page, "html": _with_csrf(page["html"])})
    return html, 422 if error else 200


@bp.get("/products/<slug>/picture.svg")
def product_picture(slug: str) -> Response:
    """The product's uploaded photo when it has one (same URL), else the drawn SVG."""

    def render() -> dict[str, str]:
        product = queries.product_by_slug(db.session, slug)
        if product is None:
            return {}
        if product.image_filename:
            return {"image": product.image_filename}
        if not product.variants:
            return {}
        first = product.variants[0]
        svg = needle_svg(
            gauge=first.gauge, length_mm=first.length_mm, pins=first.pins, title=product.name
        )
        return {"svg": svg}

    picture = cached_fragment("picture-source", slug, render)
    if "image" in picture:
        return media_response(picture["image"], max_age=3600)
    if "svg" not in picture:
        abort(404)
    response = Response(picture["svg"], mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "public, max-age=86400"
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response


def product_url(product: Product) -> str:
    return url_for("catalog.product_page", slug=product.slug)


@bp.get("/planner")
def planner() -> Response:
    """The course planner: patients, sessions and injections to needles, packs and price,
    with a button that puts the packs in the cart. Without a question, the form alone
    (with the needle of ?sku= chosen)."""
    variants = db.session.scalars(
        select(Variant)
        .join(Product)
        .where(Variant.is_active.is_(True), Product.is_active.is_(True))
        .order_by(Product.name, Variant.gauge, Variant.length_mm, Variant.pins, Variant.pack_size)
        .options(selectinload(Variant.product), selectinload(Variant.price_tiers))
    ).all()
    asked = "patients" in request.args
    form = PlannerForm(request.args) if asked else PlannerForm(sku=request.args.get("sku", ""))
    form.sku.choices = [SelectChoice("", "Choose a needle")] + [
        SelectChoice(v.sku, f"{v.product.name}: {v.sku} ({v.pack_size} a pack)") for v in variants
    ]
    plans: list[Plan] = []
    if asked and form.validate():
        chosen = next(v for v in variants if v.sku == form.sku.data)
        course = Course(
            **{
                name: form[name].data
                for name in ("patients", "sessions", "injections", "per_needle")
            }
        )
        # The same needle in every pack size: the chosen one first.
        plans = [
            plan(v, course)
            for v in sorted(variants, key=lambda v: v is not chosen)
            if v.product_id == chosen.product_id
            and (v.gauge, v.length_mm, v.pins) == (chosen.gauge, chosen.length_mm, chosen.pins)
        ]
    html = render_template(
        "catalog/planner.html",
        form=form,
        plans=plans,
        stock=availability([p.variant for p in plans]) if plans else {},
    )
    return Response(html, 422 if asked and form.errors else 200)


SUGGESTIONS = 6


@bp.get("/search/suggest")
def search_suggestions() -> Response:
    """What the header's search box offers as the buyer types: up to six products the search
    would list first, by name, with their pages. JSON, for the box's script; without it the
    box is a normal search."""
    q = " ".join(request.args.get("q", "").split())[: queries.MAX_QUERY]
    found: list[dict[str, str]] = []
    if len(q) >= 2:
        selection = queries.select_page(db.session, queries.Filters(q=q), per_page=SUGGESTIONS)
        if selection.ids:
            rows = db.session.execute(
                select(Product.id, Product.name, Product.slug).where(Product.id.in_(selection.ids))
            ).all()
            by_id = {row.id: row for row in rows}
            found = [
                {
                    "name": by_id[i].name,
                    "url": url_for("catalog.product_page", slug=by_id[i].slug),
                }
                for i in selection.ids
                if i in by_id
            ]
    response = jsonify({"q": q, "products": found})
    response.headers["Cache-Control"] = "public, max-age=60"
    return response
