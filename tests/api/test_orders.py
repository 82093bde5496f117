"""`/api/v1/orders/<token>`: an order's net, VAT and gross, as its invoice has them."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from tests.flows import add_to_cart, checkout, stock_needle
from tests.flows import order as only_order


def test_an_order_shows_net_vat_and_gross(app: Flask, client: FlaskClient) -> None:
    stock_needle(app)
    add_to_cart(client, 3)
    checkout(client, payment_method="bank_transfer", country="AT", vat_id="")
    order = only_order(app)
    response = client.get(f"/api/v1/orders/{order.token}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-store"
    body = response.get_json()
    # 3 packs at $30.00 and $15.00 shipping to an Austrian consumer: 20 %.
    assert {k: body[k] for k in ("subtotal", "shipping", "net", "tax_amount", "total")} == {
        "subtotal": 9000,
        "shipping": 1500,
        "net": 10500,
        "tax_amount": 2100,
        "total": 12600,
    }
    assert (body["tax_treatment"], body["tax_rate"], body["tax_label"]) == (
        "eu_distance",
        2000,
        "VAT 20 % (Austria)",
    )
    assert body["lines"][0]["net"] == 9000 and body["lines"][0]["tax_amount"] == 1800
    assert body["number"] == order.number and body["buyer_vat_id"] == ""
    schema = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    assert set(schema["Order"]["required"]) == set(body)
    assert set(schema["OrderLine"]["required"]) == set(body["lines"][0])


def test_an_unknown_link_is_404(client: FlaskClient) -> None:
    response = client.get("/api/v1/orders/not-a-token")
    assert response.status_code == 404
    assert response.get_json()["error"]
