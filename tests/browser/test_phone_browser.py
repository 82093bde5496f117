"""A buyer on a phone (Chromium at 390x844) never scrolls a storefront page sideways, and
sees a variant's price, availability and Add button without scrolling the table."""

from __future__ import annotations

import pytest

PHONE = {"width": 390, "height": 844}
DESK = {"width": 1280, "height": 900}
PAGES = {
    "home": "/",
    "listing": "/products",
    "product": "/products/multi-injector-5-pin",
    "guide": "/guides/choosing-a-needle-for-scalp-mesotherapy",
    "sign-in": "/account/login",
    "quick-order": "/cart/quick",
    "planner": "/planner?sku=MN-32G-4MM-100&patients=12&sessions=6&injections=150&per_needle=100",
    "quote": "/quote?sku=MN-32G-4MM-100",
}


def _page_width(page) -> int:  # type: ignore[no-untyped-def]
    return int(page.evaluate("() => document.documentElement.scrollWidth"))


def _add_two_lines(page, live_server: str) -> None:  # type: ignore[no-untyped-def]
    """Two variants of one product in the cart, as a buyer adds them from its page."""
    for sku in ("MN-32G-4MM-100", "MN-32G-6MM-100"):
        page.goto(f"{live_server}/products/meso-needle-32g")
        page.locator(f"#sku-{sku}").get_by_role("button", name="Add").click()
        page.locator(f"#sku-{sku} .add-status").get_by_text("Added").wait_for()
    page.goto(f"{live_server}/cart")


@pytest.mark.parametrize("path", PAGES.values(), ids=PAGES.keys())
def test_a_storefront_page_is_no_wider_than_a_phone(  # type: ignore[no-untyped-def]
    page, live_server: str, demo: None, path: str
) -> None:
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server}{path}")
    assert _page_width(page) <= PHONE["width"]
    country = page.get_by_label("Country")
    if country.count():  # the longest country name must not widen the form
        country.select_option("GS")
        assert _page_width(page) <= PHONE["width"]


def test_the_cart_and_checkout_form_with_two_lines_fit_a_phone(  # type: ignore[no-untyped-def]
    page, live_server: str, demo: None
) -> None:
    page.set_viewport_size(PHONE)
    _add_two_lines(page, live_server)
    assert page.locator("table.cart tbody tr").count() == 2
    assert _page_width(page) <= PHONE["width"]
    for label in ("Subtotal", "Total"):
        row = page.locator(
            "table.cart tfoot tr", has=page.get_by_role("rowheader", name=label, exact=True)
        )
        amount = row.locator("td.amount")
        amount.scroll_into_view_if_needed()
        assert _inside_viewport(page, amount), label
    line_amount = page.locator("table.cart tbody td.amount").first
    line_amount.scroll_into_view_if_needed()
    assert _inside_viewport(page, line_amount)
    page.get_by_label("Country").select_option("GS")  # South Georgia and the South Sandwich...
    assert _page_width(page) <= PHONE["width"]


def _inside_viewport(page, locator) -> bool:  # type: ignore[no-untyped-def]
    box = locator.bounding_box()
    width = page.viewport_size["width"]
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width


def test_a_phone_shows_the_first_variants_price_per_pack_and_needle_availability_and_add(  # type: ignore[no-untyped-def]
    page, live_server: str, demo: None
) -> None:
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server}/products/meso-needle-32g")
    first = page.locator("table.variants tbody tr").first
    first.scroll_into_view_if_needed()
    for part in (
        first.locator(".tiers li").first,
        first.locator(".stock"),
        first.get_by_role("button", name="Add"),
        first.locator(".per-needle").first,
    ):
        assert part.is_visible()
        assert _inside_viewport(page, part), part


def test_filters_wait_behind_a_closed_disclosure_on_a_phone_and_stay_open_at_a_desk(  # type: ignore[no-untyped-def]
    page, live_server: str, demo: None
) -> None:
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server}/products")
    assert not page.get_by_label("34G").is_visible()
    first_card = page.locator(".card").first.bounding_box()
    assert first_card is not None and first_card["y"] < PHONE["height"]
    page.get_by_text("Filter and sort").click()
    page.get_by_label("34G").check()
    page.get_by_role("button", name="Show needles").click()
    page.wait_for_url("**/products?*gauge=34*")

    page.set_viewport_size(DESK)
    page.goto(f"{live_server}/products")
    assert page.get_by_label("34G").is_visible()
