"""The pro-forma invoice and the bank-transfer page carry the seller's account and the
payment reference staff match the money with."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import select

from shop.config import Settings
from shop.extensions import db
from shop.orders.models import Order
from tests.quotes.flow import accept_data, quote_link, request_quote, send_answer, the_quote

IBAN = "IBAN DE89 3704 0044 0532 0130 00"


def _pdf_text(client: FlaskClient, link: str) -> str:
    response = client.get(f"{link}/proforma.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(response.data)).pages)
    return " ".join(text.split())


def test_the_proforma_names_the_account_and_the_reference(
    stocked: Flask, client: FlaskClient, staff_client: FlaskClient
) -> None:
    quote_id = request_quote(stocked, client)
    assert send_answer(staff_client, quote_id).status_code == 303
    link = quote_link(stocked)
    with stocked.app_context():
        reference = the_quote().reference
    text = _pdf_text(client, link)
    assert "account holder Meso Needle Works Ltd (demo account)" in text
    assert f"{IBAN}, BIC COBADEFFXXX, Demo Bank (example only)" in text
    assert f"Payment reference: {reference}" in text

    # Accepted for bank transfer: the order's number is the reference, everywhere.
    assert client.post(f"{link}/accept", data=accept_data(client, link)).status_code == 303
    with stocked.app_context():
        number = db.session.scalars(select(Order)).one().number
    assert f"Payment reference: {number}" in _pdf_text(client, link)
    page = client.get(link).get_data(as_text=True)
    assert f"with the reference <strong>{number}</strong>" in page and IBAN in page


def test_the_bank_settings_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SHOP_BANK_IBAN", "GB82WEST12345698765432")
    monkeypatch.setenv("SHOP_BANK_BIC", "WESTGB2L")
    monkeypatch.delenv("SHOP_BANK_DETAILS", raising=False)
    settings = Settings.from_env(instance_dir=tmp_path)
    assert settings.bank_iban == "GB82WEST12345698765432"
    assert "IBAN GB82 WEST 1234 5698 7654 32 · BIC WESTGB2L" in settings.bank_details
