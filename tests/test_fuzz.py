"""Bad input never gives a 500: every route with each path parameter replaced, every query
parameter a page reads, and every form the shop shows (storefront and back office, read from
its pages as a browser reads them) with each field replaced, by `²`, 10,000 digits, huge and
negative numbers and impossible dates; a NUL byte anywhere gets the shop's 400 page.

Runs on SQLite, and on PostgreSQL when TEST_DATABASE_URL is set (where a NUL byte or an
integer out of range is refused by the database itself, so reaching it would be a 500).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.routing import Rule

from shop import create_app
from shop.accounts.models import Address, User
from shop.catalog.models import Product, Variant
from shop.extensions import db
from shop.inventory.models import Lot
from shop.orders.models import Order
from shop.quotes.models import Quote
from tests.conftest import csrf_token, empty_tables, sign_in
from tests.factories import make_user
from tests.flows import SKU, SLUG, add_to_cart, checkout, stock_needle
from tests.quotes.flow import post_request, quote_link, request_quote, send_answer

NUL = "a\x00b"
BAD_VALUES = (
    "²",
    "9" * 10_000,
    "99999999999999999999",
    "-99999999999999999999",
    "-1",
    "1000000",
    "9999-12-31",
    "2024-02-30",
)


@pytest.fixture
def fuzz_app(database_url: str) -> Iterator[Flask]:
    """The shop without rate limits (a limit's 429 would hide what is behind it)."""
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "TESTING": True,
            "CACHE_TYPE": "SimpleCache",
            "RATELIMIT_ENABLED": False,
        }
    )
    with app.app_context():
        empty_tables()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@dataclass
class World:
    """A shop with one of everything a route can name, and a client for each side."""

    app: Flask
    buyer: FlaskClient
    staff: FlaskClient
    params: dict[str, dict[str, str]] = field(default_factory=dict)  # endpoint -> arg -> value
    defaults: dict[str, str] = field(default_factory=dict)  # arg -> value
    failures: list[str] = field(default_factory=list)

    def value(self, endpoint: str, arg: str) -> str:
        return self.params.get(endpoint, {}).get(arg) or self.defaults[arg]


@pytest.fixture
def world(fuzz_app: Flask) -> World:
    app = fuzz_app
    stock_needle(app, {"L1": 500})
    with app.app_context():
        admin = make_user("admin@shop.example", role="admin")
        make_user("clerk@shop.example", role="staff")
        db.session.add(
            Address(
                user=admin,
                contact_name="Admin",
                street_address="Hauptstr. 1\n10115 Berlin",
                country="DE",
            )
        )
        db.session.commit()
    staff = app.test_client()
    assert sign_in(staff, "admin@shop.example").status_code == 303
    buyer = app.test_client()
    quoted_id = request_quote(app, buyer)
    assert send_answer(staff, quoted_id).status_code == 303
    quote_token = quote_link(app).rsplit("/", 1)[1]
    assert post_request(buyer).status_code == 303  # a new request, for the answer form
    assert add_to_cart(buyer, 2).status_code == 303
    assert checkout(buyer, payment_method="bank_transfer").status_code == 303
    assert add_to_cart(buyer, 1).status_code == 303
    with app.app_context():
        order = db.session.scalars(select(Order)).one()
        clerk = db.session.scalars(select(User).where(User.email == "clerk@shop.example")).one()
        variant = db.session.scalars(select(Variant)).one()
        lot = db.session.scalars(select(Lot)).one()
        quote_id = max(db.session.scalars(select(Quote.id)))
        product = db.session.get(Product, variant.product_id)
        assert product is not None
        world = World(
            app=app,
            buyer=buyer,
            staff=staff,
            defaults={
                "slug": SLUG,
                "number": order.number,
                "token": order.token,
                "product_id": str(product.id),
                "variant_id": str(variant.id),
                "quote_id": str(quote_id),
                "user_id": str(clerk.id),
                "lot_id": str(lot.id),
                "refund_id": "1",
                "address_id": str(db.session.scalars(select(Address.id)).one()),
                "name": "none.png",
                "filename": "css/shop.css",
            },
        )
    for endpoint in ("quotes.show", "quotes.accept", "quotes.decline", "quotes.proforma"):
        world.params[endpoint] = {"token": quote_token}
    world.params["guides.guide_page"] = {"slug": _a_guide(app)}
    return world


def _a_guide(app: Flask) -> str:
    html = app.test_client().get("/guides").get_data(as_text=True)
    match = re.search(r'href="/guides/([^"/]+)"', html)
    assert match, "no guide listed"
    return match.group(1)


def _url(rule: Rule, values: dict[str, str]) -> str:
    """The rule's path with these raw values (quoted as a browser would send them)."""

    def fill(match: re.Match[str]) -> str:
        return quote(values[match.group(1)], safe="/" if "path:" in match.group(0) else "")

    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", fill, rule.rule)


SIGN_IN_PAGES = ("/account/login", "/account/register")


def _client_for(world: World, path: str) -> FlaskClient:
    """Staff for the back office; a new visitor for sign-in and registration (a success
    there signs its client in); the buyer with a cart and an order for the rest."""
    if path.startswith(SIGN_IN_PAGES):
        return world.app.test_client()
    return world.staff if path.startswith(("/admin", "/account")) else world.buyer


def _rules(app: Flask) -> list[Rule]:
    return sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint))


def _methods(rule: Rule) -> list[str]:
    return sorted((rule.methods or set()) & {"GET", "POST"})


def _answer(world: World, client: FlaskClient, method: str, url: str, **kwargs: Any) -> None:
    """Send one request; a 5xx answer is noted in `world.failures` (all are reported)."""
    response = client.open(url, method=method, **kwargs)
    if response.status_code >= 500:
        sent = kwargs.get("data") or kwargs.get("query_string") or {}
        shown = {k: str(v)[:40] for k, v in sent.items() if k != "csrf_token"}
        world.failures.append(f"{method} {url[:100]!r} {shown} -> {response.status_code}")


def test_every_route_answers_bad_path_parameters_without_a_500(
    fuzz_app: Flask, world: World
) -> None:
    checked = 0
    for rule in _rules(fuzz_app):
        for arg in sorted(rule.arguments):
            for bad in (NUL, *BAD_VALUES):
                values = {a: world.value(rule.endpoint, a) for a in rule.arguments}
                values[arg] = bad
                url = _url(rule, values)
                for method in _methods(rule):
                    _answer(world, _client_for(world, url), method, url)
                    checked += 1
    assert checked > 300
    assert not world.failures, "\n".join(world.failures)


# The query parameters each page reads (from `request.args` in shop/).
QUERIES = {
    "/products": ("page", "q", "kind", "gauge", "length", "pins", "sort"),
    "/api/v1/products": ("page", "q", "kind", "gauge", "length", "pins"),
    "/admin/orders": ("page",),
    "/admin/products": ("page", "q", "status", "kind"),
    "/admin/quotes": ("page", "status"),
    "/admin/stock": ("page",),
    "/admin/stock/movements": ("page",),
    "/admin/stock/receive": ("sku",),
    "/admin/recall": ("lot",),
    "/admin/recall/export": ("lot",),
    "/quote": ("sku", "quantity", "from"),
    "/checkout/success": ("session_id",),
    "/checkout/cancel": ("order",),
    "/account/login": ("next",),
}


def test_every_query_parameter_answers_bad_values_without_a_500(world: World) -> None:
    for path, names in QUERIES.items():
        for name in names:
            for bad in BAD_VALUES:
                _answer(world, _client_for(world, path), "GET", path, query_string={name: bad})
                _answer(
                    world, _client_for(world, path), "GET", path, query_string={name: [bad] * 3}
                )
    assert not world.failures, "\n".join(world.failures)


def test_every_route_refuses_a_nul_byte_in_its_query_with_the_shops_400_page(
    fuzz_app: Flask, world: World
) -> None:
    for rule in _rules(fuzz_app):
        values = {a: world.value(rule.endpoint, a) for a in rule.arguments}
        url = _url(rule, values) + "?q=a%00b&page=1"
        for method in _methods(rule):
            response = _client_for(world, url).open(url, method=method)
            assert response.status_code == 400, f"{method} {url} gave {response.status_code}"
            if not url.startswith(("/api/", "/healthz", "/static/")):
                assert "Bad request" in response.get_data(as_text=True)


# --------------------------------------------------------------------------------------
# Forms, read from the pages as a browser reads them
# --------------------------------------------------------------------------------------


@dataclass
class Form:
    action: str
    method: str
    multipart: bool
    fields: list[tuple[str, str]] = field(default_factory=list)  # (name, default value)
    files: list[str] = field(default_factory=list)

    def key(self) -> tuple[str, str, tuple[str, ...]]:
        """Forms that differ only by the row they act on count once (per action shape)."""
        shape = re.sub(r"/\d+(?=/|$)", "/<id>", self.action)
        return shape, self.method, tuple(sorted({n for n, _ in self.fields}))


class _FormReader(HTMLParser):
    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page = page
        self.forms: list[Form] = []
        self._select: str | None = None
        self._select_value: str | None = None
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(
                Form(
                    action=a.get("action") or self.page,
                    method=(a.get("method") or "get").upper(),
                    multipart="multipart" in a.get("enctype", ""),
                )
            )
            return
        if not self.forms or "name" not in a:
            return
        form, name = self.forms[-1], a["name"]
        if tag == "input":
            kind = a.get("type", "text")
            if kind == "file":
                form.files.append(name)
            elif kind in ("checkbox", "radio"):
                if "checked" in a:
                    form.fields.append((name, a.get("value", "on")))
            elif kind not in ("submit", "button", "image", "reset"):
                form.fields.append((name, a.get("value", "")))
        elif tag == "select":
            self._select, self._select_value = name, None
        elif tag == "option" and self._select is not None:
            # The selected option, else the first that chooses something.
            if "selected" in a or (not self._select_value and a.get("value")):
                self._select_value = a.get("value", "")
        elif tag == "textarea":
            self._textarea, self._text = name, ""

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "select" and self._select is not None and self.forms:
            self.forms[-1].fields.append((self._select, self._select_value or ""))
            self._select = None
        elif tag == "textarea" and self._textarea is not None and self.forms:
            self.forms[-1].fields.append((self._textarea, self._text))
            self._textarea = None


def _pages(app: Flask, world: World) -> list[str]:
    """Every page a GET route shows, with its parameters filled by real values."""
    pages = []
    for rule in _rules(app):
        if "GET" not in (rule.methods or set()) or rule.endpoint == "static":
            continue
        values = {a: world.value(rule.endpoint, a) for a in rule.arguments}
        pages.append(_url(rule, values))
    return pages


def _forms(app: Flask, world: World) -> list[Form]:
    found: dict[tuple[str, str, tuple[str, ...]], Form] = {}
    for page in _pages(app, world):
        response = _client_for(world, page).get(page)
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        reader = _FormReader(page)
        reader.feed(response.get_data(as_text=True))
        for form in reader.forms:
            form.action = urlsplit(form.action).path or page
            found.setdefault(form.key(), form)
    return list(found.values())


# What a person would type in an empty field, so that a form passes its other checks and
# the bad value reaches as far into the shop as it can.
PLAUSIBLE = {
    "email": "fuzz@clinic.example",
    "password": "correct horse battery staple",
    "confirm": "correct horse battery staple",
    "name": "Fuzz Clinic",
    "contact_name": "Ana Ruiz",
    "company": "Clinica Ruiz",
    "phone": "+34 600 000 000",
    "country": "ES",
    "business_type": "distributor",
    "sku": SKU,
    "quantity": "3",
    "delta": "1",
    "reason": "Counted again",
    "cancel_reason": "Asked by the buyer",
    "cause": "damaged",
    "lot_number": "FUZZ-1",
    "made_on": "2025-01-01",
    "expires_on": "2029-01-01",
    "slug": "fuzz-needle",
    "summary": "A needle for the fuzz test",
    "material": "Stainless steel",
    "sterilisation_method": "Ethylene oxide",
    "sterile_barrier": "Blister",
    "shelf_life_months": "36",
    "gauge": "30",
    "length_mm": "4",
    "bevel": "Tri-bevel",
    "wall": "Thin wall",
    "hub": "Luer lock",
    "pack_size": "100",
    "min_quantity": "1",
    "unit_amount": "12.00",
    "shipping_address": "Calle Mayor 1, 28013 Madrid",
    "prices": "1.85",
    "shipping": "15.00",
}


def _plausible(name: str, default: str) -> str:
    """The default, or for an empty field what a person would type; rows after a list's
    first (`tiers-1-…`) stay empty."""
    if default.strip() or re.search(r"-[1-9]\d*-", name):
        return default
    return PLAUSIBLE.get(re.sub(r"-\d+$", "", re.sub(r"^.*-\d+-", "", name)), "")


def _send(world: World, form: Form, changed: str | None, bad: str) -> None:
    data: dict[str, Any] = {}
    for name, default in form.fields:
        value = bad if changed in (name, None) else _plausible(name, default)
        data.setdefault(name, []).append(value)
    client = _client_for(world, form.action)
    if form.action in SIGN_IN_PAGES:
        data["csrf_token"] = csrf_token(client, form.action)
    if form.method == "GET":
        _answer(world, client, "GET", form.action, query_string=data)
        return
    for name in form.files:
        data[name] = (io.BytesIO(bad.encode()), f"{bad[:20]}.csv")
    content_type = "multipart/form-data" if form.multipart else None
    _answer(world, client, "POST", form.action, data=data, content_type=content_type)


def _fields_to_fuzz(form: Form) -> list[str]:
    """Each field once; of repeated rows (`tiers-0-…`, `tiers-1-…`) only the first."""
    names = [n for n, _ in form.fields if n != "csrf_token"] + form.files
    return [n for n in dict.fromkeys(names) if not re.search(r"-[1-9]\d*-", n)]


NEVER_POSTED = {"/account/logout"}  # it only signs the staff client out: nothing to fill


def test_every_form_field_answers_bad_values_without_a_500(fuzz_app: Flask, world: World) -> None:
    forms = [f for f in _forms(fuzz_app, world) if f.action not in NEVER_POSTED]
    actions = {f.action for f in forms}
    for expected in ("/cart/add", "/quote", "/account/login", "/admin/stock/receive"):
        assert expected in actions, sorted(actions)
    sent = 0
    for form in forms:
        _send(world, form, None, NUL)  # every field at once: the guard answers first
        for name in _fields_to_fuzz(form):
            for bad in BAD_VALUES:
                _send(world, form, name, bad)
                sent += 1
    assert sent > 200
    assert not world.failures, "\n".join(world.failures)
