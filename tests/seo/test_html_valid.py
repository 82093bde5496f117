"""The storefront's HTML passes the Nu HTML Checker (vnu) with no errors.

vnu comes from the npm package `vnu-jar` (`.ci/run` installs it into node_modules/) and
runs on the machine's Java; without either the test is skipped and says so.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from tests.conftest import csrf_token

REPO = Path(__file__).resolve().parents[2]
VNU = REPO / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
PAGES = {
    "home": "/",
    "catalogue": "/products",
    "catalogue-filtered": "/products?gauge=34&q=needle",
    "product": "/products/meso-needle-32g",
    "guides": "/guides",
    "guide": "/guides/choosing-a-needle-for-scalp-mesotherapy",
    "cart-empty": "/cart",
    "not-found": "/no-such-page",
}


def _vnu() -> list[str]:
    java = shutil.which("java")
    if java is None:
        pytest.skip("no java on this machine: the Nu HTML Checker needs it")
    if not VNU.exists():
        pytest.skip(
            "vnu.jar is not installed: run `npm install --no-save axe-core vnu-jar` "
            "in the repository (.ci/run does)"
        )
    return [java, "-jar", str(VNU), "--errors-only", "--format", "json"]


def _add_one_line(client: FlaskClient) -> None:
    """Add the first variant that can be bought, as its product page's form would."""
    product = "/products/meso-needle-32g"
    html = client.get(product).get_data(as_text=True)
    forms = re.findall(r'<form class="add-to-cart".*?</form>', html, re.S)
    form = next(f for f in forms if "disabled" not in f)
    sku = re.search(r'name="sku" value="([^"]+)"', form)
    quantity = re.search(r'name="quantity" min="(\d+)"', form)
    assert sku and quantity
    response = client.post(
        "/cart/add",
        data={
            "sku": sku.group(1),
            "quantity": quantity.group(1),
            "csrf_token": csrf_token(client, product),
        },
    )
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:500]


def test_pages_have_no_html_errors(client: FlaskClient, demo: None, tmp_path: Path) -> None:
    command = _vnu()
    files: dict[str, str] = {}
    for name, path in PAGES.items():
        files[name] = path
        (tmp_path / f"{name}.html").write_bytes(client.get(path).data)
    _add_one_line(client)
    files["cart-with-line"] = "/cart"
    (tmp_path / "cart-with-line.html").write_bytes(client.get("/cart").data)
    quote = client.get("/quote")
    if quote.status_code == 200:
        files["quote"] = "/quote"
        (tmp_path / "quote.html").write_bytes(quote.data)

    result = subprocess.run(  # noqa: S603 - fixed command on our own files
        [*command, *(str(tmp_path / f"{name}.html") for name in files)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = json.loads(result.stderr or result.stdout)
    errors = [m for m in report["messages"] if m.get("type") in ("error", "non-document-error")]
    lines = [
        f"{files[Path(m.get('url', '')).stem]} line {m.get('lastLine', '?')}: {m['message']}"
        f"\n    {' '.join((m.get('extract') or '').split())}"
        for m in errors
    ]
    assert not errors, "Nu HTML Checker errors:\n" + "\n".join(lines)
    checked = ", ".join(files.values())
    assert "/cart" in checked and "/guides" in checked
