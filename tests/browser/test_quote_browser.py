"""A distributor in Chromium asks for a quote with two lines and gets a reference."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


def _no_axe_violations(page) -> None:  # type: ignore[no-untyped-def]
    if not AXE.exists():
        return  # tests/browser/test_accessibility.py says how to install axe-core
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    assert not result["violations"], [(v["id"], v["help"]) for v in result["violations"]]


@pytest.mark.parametrize("javascript", [True, False], ids=["with-js", "without-js"])
def test_request_a_quote_with_two_lines(  # type: ignore[no-untyped-def]
    page, live_server: str, demo: None, javascript: bool
) -> None:
    if AXE.exists():  # the test's injected axe.min.js is let through, for this tab only
        page.context.new_cdp_session(page).send("Page.setBypassCSP", {"enabled": True})
    if not javascript:
        page.route("**/static/js/*.js*", lambda route: route.abort())
    page.goto(f"{live_server}/products/meso-needle-32g")
    page.get_by_role("link", name=re.compile(r"^Request a quote for ")).first.click()
    page.wait_for_url("**/quote?sku=*")
    assert page.get_by_role("heading", level=1).inner_text() == "Request a quote"
    first = page.get_by_role("group", name="Line 1")
    assert first.get_by_label("Catalogue SKU").input_value().startswith("MN-32G-")
    first.get_by_label("Packs", exact=True).fill("200")

    page.get_by_label("Company").fill("Dermadist GmbH")
    page.get_by_label("Contact name").fill("Jana Vogel")
    page.get_by_label("Email").fill("jana@dermadist.example")
    page.get_by_label("Phone").fill("+49 40 000000")
    page.get_by_label("Country").select_option("DE")
    page.get_by_label("Type of business").select_option("distributor")

    page.get_by_role("button", name="Add another line").click()
    second = page.get_by_role("group", name="Line 2")
    second.get_by_label("Or describe the item").wait_for()
    assert second.get_by_label("Catalogue SKU").evaluate("el => el === document.activeElement")
    # With JavaScript the line is added in place; without, the server re-renders the form.
    assert ("?sku=" in page.url) is javascript
    assert page.get_by_label("Company").input_value() == "Dermadist GmbH"  # nothing lost
    second.get_by_label("Or describe the item").fill("30G 13 mm needles, our blister and logo")
    second.get_by_label("Packs", exact=True).fill("1000")
    second.get_by_label("Private label (your brand on the packs)").check()
    second.get_by_label("Note for this line").fill("Artwork follows")
    _no_axe_violations(page)

    page.get_by_role("button", name="Send the request").click()
    page.wait_for_url("**/quote/sent")
    status = page.get_by_role("status").inner_text()
    assert re.search(r"Your reference is Q-\d{4}-\d{6}\.", status), status

    page.get_by_role("link", name="See your request").click()
    page.wait_for_url("**/quotes/*")
    lines = page.locator("table.quote-lines-table tbody tr")
    assert lines.count() == 2
    assert "Private label" in lines.nth(1).inner_text()
    _no_axe_violations(page)
