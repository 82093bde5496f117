"""Every /admin route checks the role: a table over the URL map, so a new route without
the check fails here."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

ADMIN_ONLY_PREFIXES = ("/admin/staff",)


def _admin_urls(app: Flask) -> list[tuple[str, str]]:
    urls = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/admin"):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", "1", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            urls.append((method, path))
    return urls


def test_the_table_is_not_empty(app: Flask) -> None:
    assert ("GET", "/admin/") in _admin_urls(app)


@pytest.mark.parametrize("who", ["anonymous", "buyer"])
def test_outsiders_are_sent_to_sign_in_or_refused(request, app: Flask, who: str) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client() if who == "anonymous" else request.getfixturevalue("buyer_client")
    app.config["WTF_CSRF_ENABLED"] = False  # the role check must hold without CSRF too
    for method, path in _admin_urls(app):
        response = client.open(path, method=method)
        if who == "anonymous":
            assert response.status_code == 302, (method, path, response.status_code)
            assert "/account/login" in response.location, (method, path)
        else:
            assert response.status_code == 403, (method, path, response.status_code)


def test_staff_are_refused_admin_only_routes(app: Flask, staff_client: FlaskClient) -> None:
    app.config["WTF_CSRF_ENABLED"] = False
    for method, path in _admin_urls(app):
        response = staff_client.open(path, method=method)
        if path.startswith(ADMIN_ONLY_PREFIXES):
            assert response.status_code == 403, (method, path)
        else:
            assert response.status_code != 403, (method, path)


def test_staff_and_admin_see_the_dashboard(
    staff_client: FlaskClient, admin_client: FlaskClient
) -> None:
    for client in (staff_client, admin_client):
        response = client.get("/admin/")
        assert response.status_code == 200
        assert "Back office" in response.get_data(as_text=True)
        assert response.headers["Cache-Control"] == "no-store"


def test_every_admin_form_needs_csrf(app: Flask, admin_client: FlaskClient) -> None:
    for method, path in _admin_urls(app):
        if method == "POST":
            response = admin_client.post(path, data={})
            assert response.status_code == 400, (path, response.status_code)
