"""Every quote page, in each of its states, passes the Nu HTML Checker (vnu).

vnu comes from the npm package `vnu-jar` (`.ci/run` installs it into node_modules/) and runs
on the machine's Java; without either the test is skipped and says so.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from shop.extensions import db
from tests.html_check import assert_valid_html
from tests.quotes.flow import (
    accept_data,
    post_request,
    quote_link,
    request_quote,
    send_answer,
    the_quote,
)


def test_quote_pages_have_no_html_errors(
    stocked: Flask, client: FlaskClient, staff_client: FlaskClient, tmp_path: Path
) -> None:
    pages: dict[str, bytes] = {
        "form": client.get("/quote?sku=MN-32G-4MM-100&quantity=5").data,
        "form-errors": post_request(client, {"email": "x", "lines-0-quantity": "-1"}).data,
        "form-more-lines": post_request(client, {"add_line": "1"}).data,
    }
    quote_id = request_quote(stocked, client)
    pages["sent"] = client.get("/quote/sent").data
    pages["admin-new"] = staff_client.get(f"/admin/quotes/{quote_id}").data
    with stocked.app_context():
        pages["quote-new"] = client.get(f"/quotes/{the_quote().token}").data
    pages["admin-errors"] = send_answer(staff_client, quote_id, prices=("x", "")).data
    send_answer(staff_client, quote_id)
    link = quote_link(stocked)
    pages["quote-quoted"] = client.get(link).data
    pages["quote-accept-errors"] = client.post(
        f"{link}/accept", data=accept_data(client, link, shipping_address="")
    ).data
    client.post(f"{link}/accept", data=accept_data(client, link))
    pages["quote-accepted"] = client.get(link).data
    pages["admin-list"] = staff_client.get("/admin/quotes").data
    pages["admin-accepted"] = staff_client.get(f"/admin/quotes/{quote_id}").data
    with stocked.app_context():
        quote = the_quote()
        quote.status, quote.valid_until = "quoted", date.today() - timedelta(days=1)
        db.session.commit()
    pages["quote-expired"] = client.get(link).data
    pages["admin-expired"] = staff_client.get(f"/admin/quotes/{quote_id}").data
    assert_valid_html(pages, tmp_path)
