"""Operators' view: health check and friendly failures."""

from __future__ import annotations

from flask.testing import FlaskClient

from shop import create_app


def test_healthz_ok(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ok",
        "db": "ok",
        "redis": "not configured",
        "stripe": "not configured",
        "mail": "log",
    }
    assert response.headers["Cache-Control"] == "no-store"


def _down_app():  # type: ignore[no-untyped-def]
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody@127.0.0.1:1/none",
            "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"connect_timeout": 1}},
            "TESTING": True,
        }
    )


def test_database_down_gives_503_pages_not_stack_traces(caplog) -> None:  # type: ignore[no-untyped-def]
    client = _down_app().test_client()
    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.get_json()["status"] == "down"
    assert health.get_json()["db"] == "unavailable"
    page = client.get("/products")
    assert page.status_code == 503
    html = page.get_data(as_text=True)
    assert "Shop briefly unavailable" in html and "Traceback" not in html
    assert client.get("/api/v1/products").status_code == 503
    assert "database unavailable" in caplog.text


def test_unknown_route_is_404_page(client: FlaskClient) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "There is no page at this address" in response.get_data(as_text=True)
