"""A clinic buyer in Chromium registers, confirms the address through the link in the
mail queue, orders, signs out, signs in again from the header and reorders; the account's
pages fit a phone and pass axe-core."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask

from tests.accounts.helpers import link_in
from tests.conftest import PASSWORD

PHONE = {"width": 390, "height": 844}
DESK = {"width": 1280, "height": 900}


def _register(page, live_server: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_label("Clinic or company").fill("Clinica Ruiz")
    page.get_by_label("Your name").fill("Dr Ana Ruiz")
    page.get_by_label("Email").fill("ana@clinic.example")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD)
    page.get_by_label("Country").select_option("DE")
    page.get_by_label("Professional registration or licence number").fill("LAEK-B-12345")
    page.get_by_role("button", name="Create the account").click()


def test_register_confirm_order_sign_out_sign_in_from_the_header_and_reorder(  # type: ignore[no-untyped-def]
    page, app: Flask, live_server: str, demo: None
) -> None:
    page.set_viewport_size(DESK)
    page.goto(f"{live_server}/products/meso-needle-32g")
    page.get_by_role("link", name="Sign in").click()
    page.get_by_role("link", name="Create one").click()
    _register(page, live_server)
    page.wait_for_url(re.compile(r".*/products/meso-needle-32g$"))  # back where they were
    assert "We sent a link to ana@clinic.example" in page.get_by_role("status").first.inner_text()

    page.goto(f"{live_server}{link_in(app, 'ana@clinic.example', 'Confirm your email address')}")
    page.wait_for_url("**/account")
    assert "is confirmed" in page.get_by_role("status").first.inner_text()

    page.goto(f"{live_server}/products/meso-needle-32g")
    row = page.locator("tr", has=page.locator("th.sku", has_text="MN-32G-4MM-100"))
    row.get_by_label("Packs of MN-32G-4MM-100").fill("2")
    row.get_by_role("button", name="Add").click()
    row.locator(".add-status").get_by_text("Added 2 packs").wait_for()
    page.goto(f"{live_server}/cart")
    assert page.get_by_label("Email").input_value() == "ana@clinic.example"  # pre-filled
    assert page.get_by_label("Clinic or company").input_value() == "Clinica Ruiz"
    page.get_by_label("Shipping address").fill("Friedrichstrasse 10\n10117 Berlin")
    page.get_by_label("Bank transfer").check()
    page.get_by_role("button", name="Place order").click()
    page.wait_for_url(f"{live_server}/orders/**")
    assert "Friedrichstrasse 10\n10117 Berlin\nGermany" in page.locator("address").inner_text()
    # Two packs at the demo's price, with German VAT on goods and shipping.
    vat_row = page.locator("tr.tax")
    assert vat_row.locator("th").inner_text().startswith("VAT 19 % (Germany)")
    assert vat_row.locator("td").inner_text() != "$0.00"
    number = page.locator("h1").inner_text().removeprefix("Order ").strip()

    page.locator(".account-menu summary").click()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{live_server}/")
    page.get_by_role("link", name="Sign in").click()
    page.get_by_label("Email").fill("ana@clinic.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server}/")  # back on the page they signed in from
    page.locator(".account-menu summary").click()
    page.locator(".account-menu").get_by_role("link", name="Orders").click()
    page.wait_for_url("**/account/orders")
    orders = page.locator("table").inner_text()
    assert number and number in orders
    page.get_by_role("button", name=re.compile("^Reorder")).first.click()
    page.wait_for_url("**/cart")
    assert "Added to your cart: MN-32G-4MM-100" in page.locator(".flashes").inner_text()
    assert page.get_by_label("Packs of MN-32G-4MM-100").input_value() == "2"


ACCOUNT_PAGES = [
    "/account/register",
    "/account/password/forgot",
    "/account",
    "/account/orders",
    "/account/addresses",
    "/account/addresses/new",
    "/account/details",
    "/account/quotes",
    "/account/close",
]


@pytest.mark.parametrize("width", [PHONE, DESK], ids=["phone", "desk"])
def test_the_account_pages_fit_a_phone_and_a_desk_and_pass_axe(  # type: ignore[no-untyped-def]
    page, live_server: str, demo: None, axe_check: Callable[[str], None], width: dict[str, int]
) -> None:
    page.set_viewport_size(width)
    page.goto(f"{live_server}/account/register")
    _register(page, live_server)
    page.wait_for_url("**/account")
    for path in ACCOUNT_PAGES[2:] + ACCOUNT_PAGES[:2]:
        if path == "/account/register":
            continue  # signed in: the register form is for visitors, checked first below
        page.goto(f"{live_server}{path}")
        assert int(page.evaluate("() => document.documentElement.scrollWidth")) <= width["width"], (
            path
        )
        axe_check(path)
    page.locator(".account-menu summary").click()
    menu = page.locator(".account-menu ul")
    assert menu.is_visible()
    box = menu.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width["width"]
    axe_check("the open account menu")
    page.get_by_role("button", name="Sign out").click()
    page.goto(f"{live_server}/account/register")
    assert int(page.evaluate("() => document.documentElement.scrollWidth")) <= width["width"]
    axe_check("/account/register")
