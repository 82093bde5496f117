"""A live shop on a loopback port and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.browser)
            # The threaded development server behind these tests leaves a static file
            # unclosed when Chromium drops a connection it no longer needs; that is the
            # test server's doing, not the shop's.
            item.add_marker(pytest.mark.filterwarnings("ignore::ResourceWarning"))
            item.add_marker(
                pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
            )


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    address = f"http://127.0.0.1:{server.server_port}"
    # Links the shop sends out (Stripe's return pages, email) are built on SHOP_BASE_URL,
    # which is here the live server's own address.
    app.config["SHOP_SETTINGS"] = dataclasses.replace(app.config["SHOP_SETTINGS"], base_url=address)
    app.extensions.pop("base_url_adapter", None)
    try:
        yield address
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


@pytest.fixture
def page(live_server: str):  # type: ignore[no-untyped-def]
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    user_data = tempfile.mkdtemp(prefix="shop-chromium-")
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            user_data,
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_FLAGS,
        )
        try:
            page = context.new_page()
            page.set_default_timeout(15_000)
            yield page
        finally:
            context.close()
            shutil.rmtree(user_data, ignore_errors=True)


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
