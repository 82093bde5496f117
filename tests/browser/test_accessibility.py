"""Every storefront page passes axe-core in Chromium with no violations.

axe-core comes from npm (`.ci/run` installs it into node_modules/); without it the tests
are skipped and say so.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
PAGES = {
    "home": "/",
    "catalogue": "/products",
    "product": "/products/meso-needle-32g",
    "guides": "/guides",
    "guide": "/guides/choosing-a-needle-for-scalp-mesotherapy",
    "empty cart": "/cart",
    "not found": "/no-such-page",
}


def describe(violations: list[dict[str, Any]]) -> str:
    """axe's violations as a reader wants them: rule, impact, help, and where."""
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']} <{v['helpUrl']}>")
        for node in v["nodes"][:5]:
            summary = " ".join((node.get("failureSummary") or "").split())
            lines.append(f"    at {' '.join(map(str, node['target']))}: {summary}")
        if len(v["nodes"]) > 5:
            lines.append(f"    ... and {len(v['nodes']) - 5} more")
    return "\n".join(lines)


@pytest.fixture
def axe_check(page, live_server: str) -> Callable[[str], None]:  # type: ignore[no-untyped-def]
    """Run axe-core over the page now shown; fail with every violation listed."""
    if not AXE.exists():
        pytest.skip(
            "axe-core is not installed: run `npm install --no-save axe-core vnu-jar` "
            "in the repository (.ci/run does)"
        )
    # The shop's Content-Security-Policy allows its own scripts only; the test's
    # injected axe.min.js is let through, for this tab only.
    page.context.new_cdp_session(page).send("Page.setBypassCSP", {"enabled": True})

    def check(label: str) -> None:
        page.add_script_tag(path=str(AXE))
        results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
        violations = results["violations"]
        assert not violations, f"axe-core on {label} ({page.url}):\n{describe(violations)}"

    return check


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
    page.wait_for_load_state()
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
