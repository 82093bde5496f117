"""Every storefront page passes axe-core in Chromium with no violations.

axe-core comes from npm (`.ci/run` installs it into node_modules/); without it the tests
are skipped and say so.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

PAGES = {
    "home": "/",
    "catalogue": "/products",
    "product": "/products/meso-needle-32g",
    "guides": "/guides",
    "guide": "/guides/choosing-a-needle-for-scalp-mesotherapy",
    "empty cart": "/cart",
    "quick order": "/cart/quick",
    "planner": "/planner?sku=MN-32G-4MM-100&patients=12&sessions=6&injections=150&per_needle=100",
    "not found": "/no-such-page",
}


@pytest.mark.parametrize("path", PAGES.values(), ids=PAGES.keys())
def test_page_has_no_axe_violations(
    page, live_server: str, demo: None, axe_check: Callable[[str], None], path: str
) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{live_server}{path}")
    axe_check(path)


def test_cart_with_a_line_has_no_axe_violations(
    page, live_server: str, demo: None, axe_check: Callable[[str], None]
) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{live_server}/products/meso-needle-32g")
    form = page.locator("form.add-to-cart", has=page.locator("button:not([disabled])")).first
    form.get_by_role("button", name="Add").click()
    page.locator(".add-status").get_by_text("Added").wait_for()
    axe_check("the product page after Add, with its status line")
    page.goto(f"{live_server}/cart")
    assert page.locator("table.cart tbody tr").count() == 1
    axe_check("the cart with one line")


def test_quote_form_has_no_axe_violations(
    page, live_server: str, demo: None, axe_check: Callable[[str], None]
) -> None:  # type: ignore[no-untyped-def]
    response = page.goto(f"{live_server}/quote")
    if response is None or response.status != 200:
        status = response.status if response else "nothing"
        pytest.skip(f"/quote answered {status}, not 200: the quote form is not there to check")
    axe_check("/quote")
