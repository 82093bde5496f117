"""The steps of a quote's life the tests repeat: a stocked catalogue, a request, the
staff's answer, the link in the email."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from shop.extensions import db
from shop.inventory.models import Lot
from shop.mail.models import OutboxEmail
from shop.quotes.models import Quote
from tests.conftest import csrf_token

SKU = "MN-32G-4MM-100"
PRIVATE_LABEL_ITEM = "32G 4 mm meso needles in our own blister, our logo printed"

COMPANY = {
    "company": "Dermadist GmbH",
    "contact_name": "Jana Vogel",
    "email": "Jana@Dermadist.example",
    "phone": "+49 40 000000",
    "country": "DE",
    "business_type": "distributor",
    "vat_number": "DE123456789",
    "message": "Yearly contract possible.",
}

TWO_LINES = {
    "lines-0-sku": SKU,
    "lines-0-quantity": "120",
    "lines-0-note": "Ship in two batches",
    "lines-1-description": PRIVATE_LABEL_ITEM,
    "lines-1-quantity": "500",
    "lines-1-private_label": "y",
    "lines-1-note": "Artwork follows",
}


def post_request(
    client: FlaskClient, fields: Mapping[str, str] | None = None, *, token: str | None = None
):  # type: ignore[no-untyped-def]
    data: dict[str, Any] = {**COMPANY, **TWO_LINES, **(fields or {})}
    data["csrf_token"] = token or csrf_token(client, "/quote")
    return client.post("/quote", data={k: v for k, v in data.items() if v is not None})


def request_quote(app: Flask, client: FlaskClient, fields: Mapping[str, str] | None = None) -> int:
    """Ask for a quote; its id."""
    response = post_request(client, fields)
    assert response.status_code == 303, response.get_data(as_text=True)
    with app.app_context():
        return the_quote().id


def the_quote() -> Quote:
    quotes = db.session.scalars(select(Quote)).all()
    assert len(quotes) == 1
    return quotes[0]


def send_answer(
    staff_client: FlaskClient,
    quote_id: int,
    *,
    prices: tuple[str, ...] = ("24.00", "1.85"),
    shipping: str = "150.00",
    valid_until: date | None = None,
    note: str = "Private-label artwork approval within 5 days.",
):  # type: ignore[no-untyped-def]
    page = f"/admin/quotes/{quote_id}"
    data = {f"prices-{i}": price for i, price in enumerate(prices)}
    data.update(
        shipping=shipping,
        valid_until=(valid_until or date.today() + timedelta(days=30)).isoformat(),
        staff_note=note,
        csrf_token=csrf_token(staff_client, page),
    )
    return staff_client.post(f"{page}/send", data=data)


def quote_link(app: Flask, to: str = "jana@dermadist.example") -> str:
    """The /quotes/<token> path from the last email to the distributor."""
    with app.app_context():
        mail = db.session.scalars(
            select(OutboxEmail).where(OutboxEmail.to == to).order_by(OutboxEmail.id.desc())
        ).first()
        assert mail is not None
        match = re.search(r"https?://[^/\s]+(/quotes/[A-Za-z0-9_-]+)", mail.body_text)
        assert match, mail.body_text
        return match.group(1)


def lots(app: Flask) -> dict[str, tuple[int, int]]:
    with app.app_context():
        return {
            lot.lot_number: (lot.quantity, lot.reserved) for lot in db.session.scalars(select(Lot))
        }


def input_tag(html: str, field_id: str) -> str:
    """The <input> with that id, to read its attributes (rendered in any order)."""
    match = re.search(rf'<input[^>]*\bid="{field_id}"[^>]*>', html)
    assert match, f"no input {field_id}"
    return match.group(0)


def accept_data(client: FlaskClient, link: str, **fields: str) -> dict[str, str]:
    """The accept form as the quote's page fills it: the version shown, when it has one."""
    page = client.get(link).get_data(as_text=True)
    version = re.search(r'name="version"[^>]*value="(\d+)"', page)
    return {
        "version": version.group(1) if version else "1",
        "payment_method": "bank_transfer",
        "shipping_address": "Hafenstrasse 5\n20457 Hamburg",
        "csrf_token": csrf_token(client, "/quote"),  # one token per session, on every form
        **fields,
    }
