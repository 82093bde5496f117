"""Staff in Chromium sign in, receive a lot, and the shop and the API show the new packs."""

from __future__ import annotations

import re
from datetime import date, timedelta

from flask import Flask
from sqlalchemy import select

from shop.catalog.models import Product
from shop.extensions import db
from tests.conftest import PASSWORD
from tests.factories import make_user

SLUG = "meso-needle-32g"
EMAIL = "ines@shop.example"
PACKS = 37


def _available_on_page(page, live_server: str, sku: str) -> int:  # type: ignore[no-untyped-def]
    page.goto(f"{live_server}/products/{SLUG}")
    row = page.locator("table.variants tbody tr", has=page.get_by_role("rowheader", name=sku))
    cell = row.locator("td .stock").inner_text()
    if cell == "Out of stock":
        return 0
    found = re.fullmatch(r"(\d+) packs?", cell)
    assert found, cell
    return int(found.group(1))


def _available_in_api(page, live_server: str, sku: str) -> int:  # type: ignore[no-untyped-def]
    response = page.request.get(f"{live_server}/api/v1/products/{SLUG}")
    assert response.ok
    (variant,) = [v for v in response.json()["variants"] if v["sku"] == sku]
    return int(variant["available"])


def test_staff_receive_a_lot_and_see_it_for_sale(  # type: ignore[no-untyped-def]
    page, live_server: str, app: Flask, demo: None
) -> None:
    with app.app_context():
        make_user(EMAIL, role="staff")
        db.session.commit()
        product = db.session.scalars(select(Product).where(Product.slug == SLUG)).one()
        sku = product.variants[0].sku
    before_page = _available_on_page(page, live_server, sku)
    before_api = _available_in_api(page, live_server, sku)
    assert before_page == before_api

    page.goto(f"{live_server}/account/login")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/admin/")

    menu = page.get_by_role("navigation", name="Back office")
    menu.get_by_role("link", name="Stock", exact=True).click()
    page.wait_for_url("**/admin/stock")
    page.get_by_role("link", name="Receive a lot").click()
    today = date.today()
    page.get_by_label("SKU").fill(sku)
    page.get_by_label("Lot number").fill("BR-2411")
    page.get_by_label("Made on").fill((today - timedelta(days=14)).isoformat())
    page.get_by_label("Expires on").fill((today + timedelta(days=5 * 365)).isoformat())
    page.get_by_label("Packs received").fill(str(PACKS))
    page.get_by_role("button", name="Receive lot").click()
    page.wait_for_url("**/admin/stock/lots/*")
    assert page.get_by_role("status").filter(has_text="Received").inner_text() == (
        f"Received {PACKS} packs of {sku}, lot BR-2411."
    )
    assert page.get_by_role("heading", level=1).inner_text() == "Lot BR-2411"

    assert _available_on_page(page, live_server, sku) == before_page + PACKS
    assert _available_in_api(page, live_server, sku) == before_api + PACKS
