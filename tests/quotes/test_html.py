"""Every quote page, in each of its states, passes the Nu HTML Checker (vnu).

vnu comes from the npm package `vnu-jar` (`.ci/run` installs it into node_modules/) and runs
on the machine's Java; without either the test is skipped and says so.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import date, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from shop.extensions import db
from tests.quotes.flow import (
    accept_data,
    post_request,
    quote_link,
    request_quote,
    send_answer,
    the_quote,
)

VNU = (
    Path(__file__).resolve().parents[2] / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
)


def _vnu() -> list[str]:
    java = shutil.which("java")
    if java is None or not VNU.exists():
        pytest.skip("the Nu HTML Checker needs java and node_modules/vnu-jar (.ci/run installs)")
    return [java, "-jar", str(VNU), "--errors-only", "--format", "json"]


def test_quote_pages_have_no_html_errors(
    stocked: Flask, client: FlaskClient, staff_client: FlaskClient, tmp_path: Path
) -> None:
    command = _vnu()
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
    for name, body in pages.items():
        (tmp_path / f"{name}.html").write_bytes(body)

    result = subprocess.run(  # noqa: S603 - fixed command on our own files
        [*command, *(str(tmp_path / f"{name}.html") for name in pages)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = json.loads(result.stderr or result.stdout)
    errors = [
        f"{Path(m.get('url', '')).stem} line {m.get('lastLine', '?')}: {m['message']}"
        for m in report["messages"]
        if m.get("type") in ("error", "non-document-error")
    ]
    assert not errors, "\n".join(errors)
