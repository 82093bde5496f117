"""The storefront's HTML passes the Nu HTML Checker (vnu) with no errors.

vnu comes from the npm package `vnu-jar` (`.ci/run` installs it into node_modules/) and
runs on the machine's Java; without either the test is skipped and says so.
"""

from __future__ import annotations

import re
from pathlib import Path

from flask.testing import FlaskClient

from tests.conftest import csrf_token
from tests.html_check import assert_valid_html

PAGES = {
    "home": "/",
    "catalogue": "/products",
    "catalogue-filtered": "/products?gauge=34&q=needle",
    "product": "/products/meso-needle-32g",
    "guides": "/guides",
    "guide": "/guides/choosing-a-needle-for-scalp-mesotherapy",
    "cart-empty": "/cart",
    "quick-order": "/cart/quick",
    "planner": "/planner?sku=MN-32G-4MM-100&patients=12&sessions=6&injections=150&per_needle=100",
    "not-found": "/no-such-page",
}


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
    pages = {name: client.get(path).data for name, path in PAGES.items()}
    _add_one_line(client)
    pages["cart-with-line"] = client.get("/cart").data
    checked = client.post(
        "/cart/quick",
        data={
            "lines": "MN-32G-4MM-100 2\nXX-NOPE 1",
            "check": "1",
            "csrf_token": csrf_token(client, "/cart/quick"),
        },
    )
    pages["quick-order-checked"] = checked.data
    quote = client.get("/quote")
    assert quote.status_code == 200
    pages["quote"] = quote.data
    assert_valid_html(pages, tmp_path)
