"""Quick order at /cart/quick: lines of "SKU packs" typed or pasted, each checked against the
catalogue, the minimum order and the stock before anything goes into the cart."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from shop.cart.models import Cart
from shop.cart.quick import parse
from shop.extensions import db
from tests.conftest import csrf_token
from tests.factories import make_lot, make_product, make_variant
from tests.flows import add_to_cart, stock_needle


def _post(client: FlaskClient, text: str, button: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/cart/quick",
        data={"lines": text, button: "1", "csrf_token": csrf_token(client, "/cart/quick")},
    )


def _cart_lines(app: Flask) -> dict[str, int]:
    with app.app_context():
        carts = db.session.scalars(select(Cart)).all()
        return {line.variant.sku: line.quantity for cart in carts for line in cart.lines}


def test_lines_are_read_as_buyers_write_them() -> None:
    text = (
        "MN-32G-4MM-100 10\n"
        "  mn-30g-13mm-20\t5  \n"  # a spreadsheet copy, lower case
        "\n"
        "3 x MN-27G-4MM-100\n"
        "MN-32G-6MM-100, 2 packs\n"
        "MN-32G-4MM-100\n"
        "12 14\n"
        "MN-1 MN-2 3\n"
    )
    assert parse(text) == [
        (1, "MN-32G-4MM-100 10", "MN-32G-4MM-100", 10, None),
        (2, "mn-30g-13mm-20\t5", "mn-30g-13mm-20", 5, None),
        (4, "3 x MN-27G-4MM-100", "MN-27G-4MM-100", 3, None),
        (5, "MN-32G-6MM-100, 2 packs", "MN-32G-6MM-100", 2, None),
        (6, "MN-32G-4MM-100", "MN-32G-4MM-100", None, "Add the number of packs after the SKU."),
        (7, "12 14", "", None, "Write the SKU and the number of packs, like MN-32G-4MM-100 10."),
        (8, "MN-1 MN-2 3", "MN-1 MN-2", None, "Write one SKU a line, then the number of packs."),
    ]


def test_checking_shows_each_line_and_adds_nothing(app: Flask, client: FlaskClient) -> None:
    stock_needle(app, {"L1": 30})
    with app.app_context():
        minimum = make_variant(
            product=make_product(slug="multi-5", name="Multi-injector 5 pin"),
            sku="MI-5PIN-10",
            min_order_quantity=5,
        )
        make_lot(minimum, quantity=100)
        db.session.commit()
    response = _post(
        client,
        "mn-32g-4mm-100 10\nMI-5PIN-10 2\nXX-NOPE 4\nMN-32G-4MM-100 25\n",
        "check",
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "1 of 4 lines can be added" in html
    assert "The minimum order for MI-5PIN-10 is 5 packs." in html
    assert "No product has the SKU XX-NOPE." in html
    # The fourth line asks for more than the 30 packs left after the first line's 10.
    assert "Only 20 packs more of MN-32G-4MM-100 can be had now" in html
    assert "$27.60" in html and "per needle" in html  # the 10-pack tier, and per needle
    assert _cart_lines(app) == {}


def test_add_puts_the_good_lines_in_the_cart_and_keeps_the_others_in_the_box(
    app: Flask, client: FlaskClient
) -> None:
    stock_needle(app, {"L1": 30})
    add_to_cart(client, 25)  # already in the cart: only 5 more can be had
    response = _post(client, "MN-32G-4MM-100 4\nMN-32G-4MM-100 3\nXX-NOPE 1", "add")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert _cart_lines(app) == {"MN-32G-4MM-100": 29}
    assert "Added to your cart: 4 packs of MN-32G-4MM-100." in html
    assert "Only 1 pack more of MN-32G-4MM-100 can be had now (29 packs already" in html
    box = re.search(r"<textarea[^>]*>(.*?)</textarea>", html, re.S)
    assert box and box.group(1).strip().splitlines() == ["MN-32G-4MM-100 3", "XX-NOPE 1"]
    done = _post(client, "MN-32G-4MM-100 1", "add")
    assert done.status_code == 303 and done.location.endswith("/cart")
    assert _cart_lines(app) == {"MN-32G-4MM-100": 30}


def test_an_empty_box_says_what_to_type(app: Flask, client: FlaskClient) -> None:
    response = _post(client, "   \n", "check")
    assert response.status_code == 422
    assert "Type or paste at least one line" in response.get_data(as_text=True)


def test_add_answers_the_product_pages_script_in_json(app: Flask, client: FlaskClient) -> None:
    stock_needle(app, {"L1": 30})
    token = csrf_token(client, "/products/meso-32")
    json_accept = {"Accept": "application/json"}
    ok = client.post(
        "/cart/add",
        data={"sku": "MN-32G-4MM-100", "quantity": "3", "csrf_token": token},
        headers=json_accept,
    )
    assert ok.status_code == 200
    assert ok.json == {
        "message": "Added 3 packs of MN-32G-4MM-100 to your cart.",
        "sku": "MN-32G-4MM-100",
        "cart_packs": 3,
    }
    short = client.post(
        "/cart/add",
        data={"sku": "MN-32G-4MM-100", "quantity": "28", "csrf_token": token},
        headers=json_accept,
    )
    assert short.status_code == 422
    assert short.json == {
        "error": "Only 30 packs of MN-32G-4MM-100 can be had now.",
        "sku": "MN-32G-4MM-100",
    }
    assert _cart_lines(app) == {"MN-32G-4MM-100": 3}


def test_a_client_that_takes_anything_gets_the_page_flow(app: Flask, client: FlaskClient) -> None:
    """curl and most HTTP libraries send "Accept: */*": they get the redirect to the cart a
    form post gets, not the script's JSON."""
    stock_needle(app, {"L1": 30})
    token = csrf_token(client, "/products/meso-32")
    response = client.post(
        "/cart/add",
        data={"sku": "MN-32G-4MM-100", "quantity": "2", "csrf_token": token},
        headers={"Accept": "*/*"},
    )
    assert response.status_code == 303 and response.location.endswith("/cart")
