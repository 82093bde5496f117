"""The cart: packs at quantity-break prices, minimum orders and stock enforced."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from shop.extensions import db
from tests.conftest import csrf_token
from tests.factories import make_lot, make_product, make_variant


def _variant(app: Flask, *, stock: int = 40, moq: int = 1, sku: str = "MN-32G-4MM-100") -> None:
    with app.app_context():
        variant = make_variant(
            product=make_product(slug="meso-32", name="Meso Needle 32G"),
            sku=sku,
            prices=((1, 3000), (10, 2760), (50, 2550)),
            min_order_quantity=moq,
        )
        make_lot(variant, quantity=stock, expires_in_days=900, lot_number="GOOD")
        make_lot(variant, quantity=99, expires_in_days=40, lot_number="SHORT")
        db.session.commit()


def _add(client: FlaskClient, sku: str, quantity: str, **extra: str):  # type: ignore[no-untyped-def]
    token = csrf_token(client, "/products/meso-32")
    return client.post(
        "/cart/add", data={"sku": sku, "quantity": quantity, "csrf_token": token, **extra}
    )


def test_add_then_cart_shows_quantity_break_price(app: Flask, client: FlaskClient) -> None:
    _variant(app)
    response = _add(client, "MN-32G-4MM-100", "10")
    assert response.status_code == 303 and response.location.endswith("/cart")
    html = client.get("/cart").get_data(as_text=True)
    assert "Added 10 packs of MN-32G-4MM-100 to your cart." in html
    assert "$27.60" in html  # the 10-pack break
    assert "$276.00" in html  # 10 x 27.60
    assert 'Cart <span class="cart-count">(10 packs)</span>' in html


def test_price_sent_by_the_browser_is_ignored(app: Flask, client: FlaskClient) -> None:
    _variant(app)
    _add(client, "MN-32G-4MM-100", "2", price="1", unit_amount="1")
    html = client.get("/cart").get_data(as_text=True)
    assert "$60.00" in html and "$0.01" not in html


def test_minimum_order_is_enforced_with_a_clear_message(app: Flask, client: FlaskClient) -> None:
    _variant(app, moq=5)
    response = _add(client, "MN-32G-4MM-100", "2")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "The minimum order for MN-32G-4MM-100 is 5 packs." in html
    assert 'value="2" required aria-invalid="true"' in html  # what was typed is kept


def test_asking_for_more_than_available_says_how_many(app: Flask, client: FlaskClient) -> None:
    _variant(app, stock=12)
    response = _add(client, "MN-32G-4MM-100", "13")
    assert response.status_code == 422
    assert "Only 12 packs of MN-32G-4MM-100 can be had now." in response.get_data(as_text=True)
    # Adding again counts what the cart already holds.
    assert _add(client, "MN-32G-4MM-100", "10").status_code == 303
    response = _add(client, "MN-32G-4MM-100", "3")
    assert "Only 12 packs" in response.get_data(as_text=True)


def test_bad_quantities(app: Flask, client: FlaskClient) -> None:
    _variant(app)
    for raw, message in (
        ("abc", "Enter a whole number of packs."),
        ("0", "Enter at least one"),
        ("-3", "Enter at least one"),
        ("99999999", "please ask for a quote"),
    ):
        response = _add(client, "MN-32G-4MM-100", raw)
        assert response.status_code == 422, raw
        assert message in response.get_data(as_text=True)
    response = _add(client, "NO-SUCH-SKU", "1")
    assert response.status_code == 303
    assert "could not be found" in client.get(response.location).get_data(as_text=True)


def test_update_and_remove(app: Flask, client: FlaskClient) -> None:
    _variant(app)
    _add(client, "MN-32G-4MM-100", "3")
    token = csrf_token(client)
    client.post(
        "/cart/update", data={"sku": "MN-32G-4MM-100", "quantity": "50", "csrf_token": token}
    )
    assert "Only 40 packs" in client.post(
        "/cart/update", data={"sku": "MN-32G-4MM-100", "quantity": "50", "csrf_token": token}
    ).get_data(as_text=True)
    client.post(
        "/cart/update", data={"sku": "MN-32G-4MM-100", "quantity": "11", "csrf_token": token}
    )
    assert "$303.60" in client.get("/cart").get_data(as_text=True)  # 11 x 27.60
    client.post("/cart/remove", data={"sku": "MN-32G-4MM-100", "csrf_token": token})
    assert "Your cart is empty" in client.get("/cart").get_data(as_text=True)


def test_cart_forms_need_csrf(app: Flask, client: FlaskClient) -> None:
    _variant(app)
    response = client.post("/cart/add", data={"sku": "MN-32G-4MM-100", "quantity": "1"})
    assert response.status_code == 400
    assert "session expired or the form was sent twice" in response.get_data(as_text=True)


def test_cart_survives_a_browser_restart(app: Flask, client: FlaskClient) -> None:
    """The cart lives on the server; the signed session cookie that finds it is persistent."""
    _variant(app)
    response = _add(client, "MN-32G-4MM-100", "4")
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "Expires=" in cookie and "HttpOnly" in cookie
    session_cookie = client.get_cookie("session")
    fresh = app.test_client()
    fresh.set_cookie("session", session_cookie.value)
    assert "MN-32G-4MM-100" in fresh.get("/cart").get_data(as_text=True)


def test_the_product_page_and_cart_show_the_price_per_needle(
    app: Flask, client: FlaskClient
) -> None:
    with app.app_context():
        variant = make_variant(
            product=make_product(slug="meso-32", name="Meso Needle 32G"),
            sku="MN-32G-4MM-20",
            prices=((1, 750), (10, 690)),
        )
        variant.pack_size = 20
        make_lot(variant, quantity=40, expires_in_days=900)
        db.session.commit()
    page = client.get("/products/meso-32").get_data(as_text=True)
    assert '$7.50 <span class="per-needle">$0.38 per needle</span>' in page
    assert '$6.90 from 10 packs <span class="per-needle">$0.35 per needle</span>' in page
    _add(client, "MN-32G-4MM-20", "2")
    assert "$0.38 per needle" in client.get("/cart").get_data(as_text=True)


def test_the_cart_says_how_much_more_ships_free(app: Flask, client: FlaskClient) -> None:
    _variant(app)
    free_from = app.config["SHOP_SETTINGS"].free_shipping_from
    assert free_from == 50000
    _add(client, "MN-32G-4MM-100", "2")  # $60.00
    html = client.get("/cart").get_data(as_text=True)
    assert "Add $440.00 more and shipping is free (free from $500.00)." in html
    assert "$15.00" in html
    _add(client, "MN-32G-4MM-100", "18")  # 20 packs at $27.60: $552.00
    html = client.get("/cart").get_data(as_text=True)
    assert "Shipping is free on this order." in html and "more and shipping is free" not in html
