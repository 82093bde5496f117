"""The JSON API distributors' systems read."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from shop.extensions import db
from tests.factories import make_lot, make_product, make_variant


def test_list_has_the_documented_shape(client: FlaskClient, demo: None) -> None:
    body = client.get("/api/v1/products").get_json()
    assert set(body) == {"products", "next"}
    assert body["next"] is None
    assert len(body["products"]) == 12
    product = next(p for p in body["products"] if p["slug"] == "meso-needle-32g")
    assert product["kind"] == "meso-needle"
    assert product["url"] == "http://127.0.0.1:5000/products/meso-needle-32g"
    variant = next(v for v in product["variants"] if v["sku"] == "MN-32G-4MM-100")
    assert {
        "sku",
        "gauge",
        "length_mm",
        "pins",
        "pack_size",
        "min_order_quantity",
        "available",
        "currency",
        "price_tiers",
    } <= set(variant)
    assert variant["gauge"] == 32 and variant["length_mm"] == 4 and variant["pins"] == 1
    assert variant["currency"] == "usd"
    assert variant["price_tiers"][0] == {"min_quantity": 1, "unit_amount": 3000}
    assert all(isinstance(t["unit_amount"], int) for t in variant["price_tiers"])


def test_available_counts_only_long_dated_unreserved_packs(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        variant = make_variant(product=make_product(slug="api-needle"), sku="API-1")
        make_lot(variant, quantity=30, expires_in_days=-1)
        make_lot(variant, quantity=11, expires_in_days=200)
        lot = make_lot(variant, quantity=20, expires_in_days=900)
        lot.reserved = 5
        db.session.commit()
    body = client.get("/api/v1/products/api-needle").get_json()
    assert body["variants"][0]["available"] == 15


def test_paging_with_next_link(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        for i in range(55):
            make_product(name=f"Paged {i:02d}", variants=1)
        db.session.commit()
    first = client.get("/api/v1/products").get_json()
    assert len(first["products"]) == 50
    assert first["next"] == "http://127.0.0.1:5000/api/v1/products?page=2"
    second = client.get(first["next"]).get_json()
    assert len(second["products"]) == 5 and second["next"] is None


def test_filters_work_as_on_the_catalogue(client: FlaskClient, demo: None) -> None:
    body = client.get("/api/v1/products?kind=multi-injector&pins=9").get_json()
    assert [p["slug"] for p in body["products"]] == ["multi-injector-9-pin"]


def test_errors_are_json_with_a_reason(client: FlaskClient, demo: None) -> None:
    missing = client.get("/api/v1/products/nope")
    assert missing.status_code == 404
    assert missing.get_json() == {
        "error": "Page not found",
        "message": "no product with slug 'nope'",
    }
    for page in ("0", "-1", "abc"):
        response = client.get(f"/api/v1/products?page={page}")
        assert response.status_code == 400
        assert "page must be a positive integer" in response.get_json()["message"]
    assert client.get("/api/v1/products?page=99").status_code == 404


def test_openapi_describes_the_api(client: FlaskClient, demo: None) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"] == "3.1.0"
    assert set(doc["paths"]) == {"/products", "/products/{slug}", "/orders/{token}"}
    assert doc["servers"] == [{"url": "http://127.0.0.1:5000/api/v1"}]
    variant = doc["components"]["schemas"]["Variant"]
    body = client.get("/api/v1/products/meso-needle-32g").get_json()
    assert set(variant["required"]) <= set(body["variants"][0])
    assert set(doc["components"]["schemas"]["Product"]["required"]) <= set(body)


def test_a_query_the_openapi_document_forbids_is_refused_with_its_reason(
    client: FlaskClient, demo: None
) -> None:
    for query, reason in (
        ("kind=needle", "kind must be one of meso-needle, multi-injector"),
        ("gauge=thin", "gauge must be a whole number from 18 to 34"),
        ("gauge=%C2%B2", "gauge must be a whole number from 18 to 34"),
        ("gauge=99", "gauge must be a whole number from 18 to 34"),
        ("pins=0", "pins must be a whole number from 1 to 12"),
        ("length=nan", "length must be a number of mm above 0, at most 50"),
        ("q=" + "a" * 201, "q must be at most 200 characters"),
        ("&".join(["gauge=32"] * 21), "give at most 20 values of gauge"),
    ):
        response = client.get(f"/api/v1/products?{query}")
        assert response.status_code == 400, query
        assert response.get_json() == {"error": "Bad request", "message": reason}
    assert client.get("/api/v1/products?q=" + "a" * 200).status_code == 200
    assert client.get("/api/v1/products?gauge=32&length=2.5&pins=1").status_code == 200


def test_another_method_gets_405_with_allow(client: FlaskClient) -> None:
    for path in ("/api/v1/products", "/api/v1/products/meso-needle-32g", "/api/v1/openapi.json"):
        response = client.post(path)
        assert response.status_code == 405
        assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
        assert response.get_json()["error"] == "Method not allowed"
    assert "Allow" in client.delete("/cart").headers  # HTML pages too


def test_the_openapi_document_lists_the_400_and_405_answers(client: FlaskClient) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    listing = doc["paths"]["/products"]["get"]
    assert {"200", "400", "404", "405"} <= set(listing["responses"])
    params = {p["name"]: p["schema"] for p in listing["parameters"]}
    assert params["q"]["maxLength"] == 200
    assert params["gauge"]["items"] == {"type": "integer", "minimum": 18, "maximum": 34}
    assert params["kind"]["items"]["enum"] == ["meso-needle", "multi-injector"]
