"""`/api/v1`: products as JSON, an order behind its secret link, and the OpenAPI 3.1
description of them."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, request
from werkzeug.datastructures import MultiDict

from shop.api.openapi import openapi_document
from shop.catalog import queries
from shop.catalog.models import Kind, Product
from shop.extensions import db
from shop.input_guard import MAX_PAGE, whole_number
from shop.inventory.services import Availability, availability
from shop.orders import services as orders
from shop.orders.models import Order
from shop.urls import external_url

bp = Blueprint("api", __name__, url_prefix="/api/v1")

API_PER_PAGE = 50
RANGES = {"gauge": queries.GAUGES, "pins": queries.PINS}


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


def product_json(product: Product, stock: dict[int, Availability]) -> dict[str, Any]:
    currency = current_app.config["SHOP_SETTINGS"].currency
    return {
        "slug": product.slug,
        "name": product.name,
        "kind": product.kind,
        "url": external_url("catalog.product_page", slug=product.slug),
        "sterilisation_method": product.sterilisation_method,
        "shelf_life_months": product.shelf_life_months,
        "single_use": product.single_use,
        "latex_free": product.latex_free,
        "certifications": product.certification_list,
        "variants": [
            {
                "sku": v.sku,
                "gauge": v.gauge,
                "length_mm": v.length_mm,
                "pins": v.pins,
                "pack_size": v.pack_size,
                "min_order_quantity": v.min_order_quantity,
                "available": stock[v.id].available,
                "next_expiry": _iso(stock[v.id].next_expiry),
                "currency": currency,
                "price_tiers": [
                    {"min_quantity": t.min_quantity, "unit_amount": t.unit_amount}
                    for t in v.price_tiers
                ],
            }
            for v in product.variants
        ],
    }


def _length(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) and 0 < number <= queries.MAX_LENGTH_MM else None


def _reason_to_refuse(args: MultiDict[str, str]) -> str | None:
    """Why these query arguments break the OpenAPI document, or None when they keep to it.
    (The catalogue's HTML pages drop a value they cannot use; a program is told.)"""
    if whole_number(args.get("page", "1"), low=1, high=MAX_PAGE) is None:
        return f"page must be a positive integer, at most {MAX_PAGE}"
    for name in ("kind", "gauge", "length", "pins"):
        if len(args.getlist(name)) > queries.MAX_VALUES:
            return f"give at most {queries.MAX_VALUES} values of {name}"
    kinds = {k.value for k in Kind}
    if any(kind not in kinds for kind in args.getlist("kind")):
        return f"kind must be one of {', '.join(sorted(kinds))}"
    for name, (low, high) in RANGES.items():
        if any(whole_number(v, low=low, high=high) is None for v in args.getlist(name)):
            return f"{name} must be a whole number from {low} to {high}"
    if any(_length(v) is None for v in args.getlist("length")):
        return f"length must be a number of mm above 0, at most {queries.MAX_LENGTH_MM}"
    if len(args.get("q", "")) > queries.MAX_QUERY:
        return f"q must be at most {queries.MAX_QUERY} characters"
    return None


@bp.get("/products")
def products() -> Response:
    reason = _reason_to_refuse(request.args)
    if reason is not None:
        abort(400, description=reason)
    filters = queries.Filters.from_args(request.args)
    result = queries.listing(db.session, filters, per_page=API_PER_PAGE, facets=False)
    if filters.page > result.pages and result.total:
        abort(404, description=f"there are {result.pages} pages")
    stock = availability(v for p in result.products for v in p.variants)
    next_url = None
    if result.page < result.pages:
        next_url = external_url("api.products", **filters.args(page=result.page + 1))
    return jsonify(
        {"products": [product_json(p, stock) for p in result.products], "next": next_url}
    )


@bp.get("/products/<slug>")
def product(slug: str) -> Response:
    found = queries.product_by_slug(db.session, slug)
    if found is None:
        abort(404, description=f"no product with slug {slug!r}")
    return jsonify(product_json(found, availability(found.variants)))


def order_json(order: Order) -> dict[str, Any]:
    """An order's figures as the buyer's invoice has them: net lines, shipping, VAT, gross."""
    return {
        "number": order.number,
        "status": order.status,
        "currency": order.currency,
        "country": order.country,
        "lines": [
            {
                "sku": line.sku,
                "name": line.name,
                "quantity": line.quantity,
                "unit_amount": line.unit_amount,
                "net": line.line_total,
                "tax_amount": line.tax_amount,
            }
            for line in order.lines
        ],
        "subtotal": order.subtotal,
        "shipping": order.shipping_amount,
        "net": order.net_total,
        "tax_amount": order.tax_amount,
        "tax_rate": order.tax_rate,
        "tax_treatment": order.tax_treatment,
        "tax_label": order.tax_label,
        "buyer_vat_id": order.buyer_vat_id,
        "total": order.total,
    }


@bp.get("/orders/<token>")
def order(token: str) -> Response:
    """The order behind its secret link (the one in the buyer's email), never cached."""
    found = orders.by_token(token)
    if found is None:
        abort(404, description="no order behind this link")
    response = jsonify(order_json(found))
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document(external_url("api.products").rsplit("/", 1)[0]))
