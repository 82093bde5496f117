"""The UDI packing slip: every code printed on it is read back off the rendered page, parsed
as a GS1 element string, and must name the GTIN, expiry and lot of the packs the order got."""

from __future__ import annotations

from datetime import date

import biip
import pypdfium2
import pytest
import zxingcpp
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from shop.extensions import db
from shop.orders.models import Allocation
from tests.factories import make_lot, make_product, make_variant
from tests.flows import add_to_cart, checkout
from tests.flows import order as only_order
from tests.stripe_standin import StripeStandIn

GTIN = "04012345678901"
SKU = "MN-32G-4MM-100"


def _codes_on(pdf: bytes) -> list[zxingcpp.Barcode]:
    """Every barcode zxing-cpp finds on the PDF's pages, drawn at 300 dpi."""
    document = pypdfium2.PdfDocument(pdf)
    found = []
    for page in document:
        image = page.render(scale=300 / 72).to_pil()
        found.extend(zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.DataMatrix))
    return found


def _paid_order(app: Flask, standin: StripeStandIn, *, gtin: str | None) -> str:
    """12 packs paid by card: 5 from lot EARLY, 7 from lot LATE (first expiry first out)."""
    with app.app_context():
        variant = make_variant(
            product=make_product(slug="meso-32", name="Meso Needle 32G"), sku=SKU, gtin=gtin
        )
        make_lot(variant, quantity=5, expires_in_days=600, lot_number="EARLY")
        make_lot(variant, quantity=30, expires_in_days=1200, lot_number="LATE/2026-B")
        db.session.commit()
    buyer = app.test_client()
    assert add_to_cart(buyer, 12).status_code == 303
    assert checkout(buyer, payment_method="card").status_code == 303
    order = only_order(app)
    standin.complete(order.stripe_session_id)
    assert buyer.get(f"/checkout/success?session_id={order.stripe_session_id}").status_code == 303
    assert only_order(app).status == "paid"
    return str(order.number)


def test_every_datamatrix_on_the_slip_carries_the_gtin_expiry_and_lot_of_its_packs(
    stripe_app: Flask, stripe_standin: StripeStandIn, staff_client: FlaskClient
) -> None:
    number = _paid_order(stripe_app, stripe_standin, gtin=GTIN)
    response = staff_client.get(f"/admin/orders/{number}/packing-slip.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert "no-store" in response.headers["Cache-Control"]

    codes = _codes_on(response.data)
    decoded = set()
    for code in codes:
        assert code.symbology_identifier == "]d2"  # GS1 DataMatrix (FNC1 first), square
        # What a scanner hands over: the symbology identifier, then the data with its
        # group separators.
        parsed = biip.parse(code.symbology_identifier + code.bytes.decode())
        assert parsed.gs1_message is not None
        fields = {e.ai.ai: e for e in parsed.gs1_message.element_strings}
        decoded.add((fields["01"].value, fields["17"].date, fields["10"].value))
    with stripe_app.app_context():
        sold = {
            (GTIN, a.expires_on, a.lot_number, a.quantity)
            for a in db.session.scalars(select(Allocation).where(Allocation.state == "sold"))
        }
    assert len(codes) == len(sold) == 2
    assert decoded == {(gtin, expiry, lot) for gtin, expiry, lot, _ in sold}
    assert {lot for _, _, lot, packs in sold if packs == 5} == {"EARLY"}


def test_a_product_without_a_gtin_gets_no_code_and_says_so(
    stripe_app: Flask, stripe_standin: StripeStandIn, staff_client: FlaskClient
) -> None:
    number = _paid_order(stripe_app, stripe_standin, gtin=None)
    response = staff_client.get(f"/admin/orders/{number}/packing-slip.pdf")
    assert response.status_code == 200
    assert _codes_on(response.data) == []
    text = "".join(
        page.get_textpage().get_text_range() for page in pypdfium2.PdfDocument(response.data)
    )
    assert "No GTIN on file for this product" in text
    assert "EARLY" in text and "LATE/2026-B" in text and "12 packs in all." in text


@pytest.mark.parametrize("who", ["anonymous", "buyer"])
def test_only_staff_get_a_packing_slip(
    stripe_app: Flask,
    stripe_standin: StripeStandIn,
    buyer_client: FlaskClient,
    who: str,
) -> None:
    number = _paid_order(stripe_app, stripe_standin, gtin=GTIN)
    client = buyer_client if who == "buyer" else stripe_app.test_client()
    response = client.get(f"/admin/orders/{number}/packing-slip.pdf")
    assert response.status_code in (302, 403)
    assert response.mimetype != "application/pdf"


def test_the_expiry_is_printed_as_gs1_writes_it() -> None:
    from shop.orders.packing_slip import SlipLine

    line = SlipLine(SKU, "Meso", 100, "L-1", date(2028, 2, 29), 3, "4012345678901")
    assert line.udi == "(01)04012345678901(17)280229(10)L-1"
