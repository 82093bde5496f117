"""With script, Add keeps the buyer on the product page: a status line says what happened and
the header's cart count follows; a refused quantity is said beside the form."""

from __future__ import annotations

import re

from flask import Flask


def test_add_stays_on_the_page_and_updates_the_cart_count(  # type: ignore[no-untyped-def]
    page, app: Flask, live_server: str, demo: None
) -> None:
    product = f"{live_server}/products/meso-needle-32g"
    page.goto(product)
    row = page.locator("tr", has=page.locator("th.sku", has_text="MN-32G-4MM-100"))
    row.get_by_label("Packs of MN-32G-4MM-100").fill("2")
    row.get_by_role("button", name="Add").click()
    status = row.locator(".add-status")
    status.get_by_text("Added 2 packs of MN-32G-4MM-100 to your cart.").wait_for()
    assert page.url == product
    assert page.locator(".site-header .cart-count").inner_text() == "(2 packs)"

    row.get_by_label("Packs of MN-32G-4MM-100").fill("999999")  # the server refuses it
    row.get_by_role("button", name="Add").click()
    status.locator("text=please ask for a quote").wait_for()
    assert "field-error" in (status.get_attribute("class") or "")
    assert page.url == product
    row.get_by_label("Packs of MN-32G-4MM-100").fill("3")
    row.get_by_role("button", name="Add").click()
    status.get_by_text("Added 3 packs of").wait_for()
    assert "field-error" not in (status.get_attribute("class") or "")
    assert page.locator(".site-header .cart-count").inner_text() == "(5 packs)"
    page.goto(f"{live_server}/cart")
    assert page.get_by_label("Packs of MN-32G-4MM-100").input_value() == "5"


def test_without_script_add_goes_to_the_cart_as_before(  # type: ignore[no-untyped-def]
    page, app: Flask, live_server: str, demo: None
) -> None:
    page.context.route(re.compile(r".*\.js(\?.*)?$"), lambda route: route.abort())
    page.goto(f"{live_server}/products/meso-needle-32g")
    row = page.locator("tr", has=page.locator("th.sku", has_text="MN-32G-4MM-100"))
    row.get_by_role("button", name="Add").click()
    page.wait_for_url("**/cart")
    assert "Added 2 packs of MN-32G-4MM-100" in page.get_by_role("status").first.inner_text()
