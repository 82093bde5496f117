"""The account's pages, the header's menu and staff's buyer list pass the Nu HTML Checker."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from tests.accounts.helpers import confirm, register
from tests.conftest import csrf_token
from tests.flows import add_to_cart, checkout, stock_needle
from tests.html_check import assert_valid_html


def test_account_pages_have_no_html_errors(
    app: Flask, client: FlaskClient, staff_client: FlaskClient, tmp_path: Path
) -> None:
    stock_needle(app)
    visitor = app.test_client()
    pages = {
        "register": visitor.get("/account/register").data,
        "sign-in": visitor.get("/account/login?next=/cart").data,
        "forgot": visitor.get("/account/password/forgot").data,
        "bad-link": visitor.get("/account/password/reset/forged").data,
    }
    register(client)
    confirm(app, client)
    client.post(
        "/account/addresses/new",
        data={
            "label": "Main clinic",
            "contact_name": "Dr Ana Ruiz",
            "street_address": "Calle Mayor 1\n28013 Madrid",
            "country": "ES",
            "csrf_token": csrf_token(client, "/account/addresses/new"),
        },
    )
    add_to_cart(client, 2)
    pages["cart-signed-in"] = client.get("/cart").data
    order_page = checkout(client, payment_method="bank_transfer").location
    pages["order"] = client.get(order_page).data
    for path in (
        "/account",
        "/account/orders",
        "/account/quotes",
        "/account/addresses",
        "/account/addresses/new",
        "/account/details",
        "/account/close",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        pages[path.strip("/").replace("/", "-")] = response.data
    pages["admin-buyers"] = staff_client.get("/admin/buyers?status=waiting").data
    assert_valid_html(pages, tmp_path)
