"""Staff in Chromium start a new product: the slug follows the name as it is typed, until
they type a slug of their own."""

from __future__ import annotations

from flask import Flask

from shop.extensions import db
from tests.conftest import PASSWORD
from tests.factories import make_user

EMAIL = "ines@shop.example"


def test_the_slug_follows_the_name_until_staff_type_their_own(  # type: ignore[no-untyped-def]
    page, live_server: str, app: Flask
) -> None:
    with app.app_context():
        make_user(EMAIL, role="staff")
        db.session.commit()
    page.goto(f"{live_server}/account/login")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/admin/")

    page.goto(f"{live_server}/admin/products/new")
    name = page.get_by_label("Name", exact=True)
    slug = page.get_by_label("Slug (its web address)")
    name.press_sequentially("Mésö Needle 32G × 4 mm")
    assert slug.input_value() == "meso-needle-32g-4-mm"
    slug.fill("meso-32g")
    name.press_sequentially(" sterile")
    assert slug.input_value() == "meso-32g"  # theirs now: the name no longer moves it


def test_the_back_office_has_its_own_header_and_fits_a_phone(  # type: ignore[no-untyped-def]
    page, live_server: str, app: Flask, demo: None
) -> None:
    with app.app_context():
        make_user(EMAIL, role="staff", name="Inés Ortega")
        db.session.commit()
    page.goto(f"{live_server}/account/login")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/admin/")
    header = page.locator("header")
    assert header.get_by_role("navigation", name="Back office").is_visible()
    assert "Inés Ortega" in header.inner_text()
    assert header.get_by_role("button", name="Sign out").is_visible()
    assert header.get_by_role("search").count() == 0  # the shop's search and cart stay out
    assert header.get_by_role("link", name="Cart").count() == 0
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 844})
        for path in (
            "/admin/",
            "/admin/orders",
            "/admin/products",
            "/admin/stock",
            "/admin/quotes",
        ):
            page.goto(live_server + path)
            scroll = page.evaluate("document.documentElement.scrollWidth")
            assert scroll <= width, (path, width, scroll)
