"""Suggestions under the header's search box: the products the search lists first, by name,
with their pages."""

from __future__ import annotations

from flask.testing import FlaskClient


def test_suggestions_are_the_searchs_first_products(client: FlaskClient, demo: None) -> None:
    response = client.get("/search/suggest?q=32g%20x%204mm")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=60"
    body = response.json
    names = [p["name"] for p in body["products"]]
    assert names[0] == "Meso Needle 32G" and "Meso Needle 32G Thin Wall" in names
    assert body["products"][0]["url"] == "/products/meso-needle-32g"
    assert len(names) <= 6
    pins = client.get("/search/suggest?q=5-pin").json["products"]
    assert pins[0]["name"] == "Multi-Injector 5 Pins"


def test_short_or_unknown_text_suggests_nothing(client: FlaskClient, demo: None) -> None:
    assert client.get("/search/suggest?q=3").json["products"] == []
    assert client.get("/search/suggest?q=zzzqqq").json["products"] == []
    assert client.get("/search/suggest").json == {"q": "", "products": []}
