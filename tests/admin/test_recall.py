"""Recall: a lot number gives every order line that received packs of it, with contacts."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from flask import Flask
from flask.testing import FlaskClient

from shop.catalog.models import Variant
from shop.extensions import db
from shop.inventory.services import lock_stock
from shop.orders import services as orders
from shop.orders.models import Order, PaymentMethod
from shop.orders.recall import csv_cell
from tests.factories import make_lot, make_product, make_variant

ANA = orders.Contact(
    email="ana@clinica-ruiz.example",
    contact_name="Dr Ana Ruiz",
    company="Clinica Ruiz",
    phone="+34 600 000 000",
    shipping_address="Calle Mayor 1\n28013 Madrid",
    country="ES",
)
BEN = orders.Contact(
    email="ben@hairclinic.example",
    contact_name="Ben Okafor",
    company='=HYPERLINK("http://evil.example")',
    phone="020 7946 0000",
    shipping_address="1 High Street\nLondon N1 1AA",
    country="GB",
)


def make_order(
    variant: Variant, quantity: int, *, contact: orders.Contact, paid: bool = True
) -> Order:
    """An order of `quantity` packs, as checkout makes it (bank transfer), then paid."""
    lock_stock()
    order = orders.create_order(
        [orders.LineRequest(variant, quantity, variant.unit_amount_for(quantity))],
        contact=contact,
        method=PaymentMethod.BANK_TRANSFER,
        shipping_amount=1500,
        currency="usd",
        reserved_until=datetime.now(UTC) + timedelta(days=7),
        actor="tests",
    )
    if paid:
        assert orders.mark_paid(order, amount=order.total, currency="usd", actor="tests")
    return order


def _two_orders_from_one_lot(app: Flask) -> tuple[str, str]:
    with app.app_context():
        variant = make_variant(product=make_product(name="Meso Needle 32G"), sku="MN-32G-4MM-100")
        make_lot(variant, quantity=10, lot_number="L2405A")
        first = make_order(variant, 4, contact=ANA)
        second = make_order(variant, 3, contact=BEN, paid=False)
        db.session.commit()
        return str(first.number), str(second.number)


def test_a_lot_sold_to_two_orders_lists_both_with_contacts(
    app: Flask, staff_client: FlaskClient
) -> None:
    first, second = _two_orders_from_one_lot(app)
    response = staff_client.get("/admin/recall?lot=L2405A")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "7 packs</strong> in <strong>2 orders" in html
    for text in (
        first,
        "Dr Ana Ruiz",
        "Clinica Ruiz",
        "ana@clinica-ruiz.example",
        "+34 600 000 000",
        "Calle Mayor 1",
        "ES",
    ):
        assert text in html
    for text in (second, "Ben Okafor", "ben@hairclinic.example", "020 7946 0000", "GB"):
        assert text in html
    assert "packs reserved, not shipped" in html  # the unpaid order still holds its packs
    assert html.index(first) < html.index(second)
    assert "6 packs still on hand" in html and "3 reserved" in html
    assert "/admin/recall/export?lot=L2405A" in html


def test_csv_has_the_same_rows_and_cannot_run_formulas(
    app: Flask, staff_client: FlaskClient
) -> None:
    first, second = _two_orders_from_one_lot(app)
    response = staff_client.get("/admin/recall/export?lot=L2405A")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert 'filename="recall-L2405A.csv"' in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert [(r["Order"], r["Packs"], r["Packs are"]) for r in rows] == [
        (first, "4", "sold"),
        (second, "3", "reserved"),
    ]
    ana, ben = rows
    assert ana["Contact"] == "Dr Ana Ruiz" and ana["Email"] == "ana@clinica-ruiz.example"
    assert ana["Address"] == "Calle Mayor 1\n28013 Madrid" and ana["Country"] == "ES"
    assert ana["Phone"] == "'+34 600 000 000"  # a leading + would start a formula
    assert ana["SKU"] == "MN-32G-4MM-100" and ana["Lot"] == "L2405A"
    assert ben["Company"] == '\'=HYPERLINK("http://evil.example")'
    assert ben["Phone"] == "020 7946 0000"


def test_released_packs_are_not_listed(app: Flask, staff_client: FlaskClient) -> None:
    with app.app_context():
        variant = make_variant(sku="MN-30G-4MM-100")
        make_lot(variant, quantity=10, lot_number="L9")
        order = make_order(variant, 2, contact=ANA, paid=False)
        orders.release(order, status=orders.OrderStatus.EXPIRED, actor="tests", reason="lapsed")
        db.session.commit()
    html = staff_client.get("/admin/recall?lot=L9").get_data(as_text=True)
    assert "No order has received or reserved packs of lot L9." in html
    assert "Dr Ana Ruiz" not in html


def test_unknown_lot_says_so(app: Flask, staff_client: FlaskClient) -> None:
    _two_orders_from_one_lot(app)
    response = staff_client.get("/admin/recall?lot=NOPE-1")
    assert response.status_code == 200
    assert "No lot numbered NOPE-1 has been received." in response.get_data(as_text=True)
    assert staff_client.get("/admin/recall/export?lot=NOPE-1").status_code == 404


def test_the_form_asks_for_a_lot_number(staff_client: FlaskClient) -> None:
    html = staff_client.get("/admin/recall").get_data(as_text=True)
    assert '<label for="lot">Lot number</label>' in html
    response = staff_client.get("/admin/recall?lot=+")
    assert response.status_code == 422
    assert 'aria-describedby="lot-error"' in response.get_data(as_text=True)
    assert staff_client.get("/admin/recall?lot=" + "x" * 41).status_code == 422


def test_csv_cells_never_start_a_formula() -> None:
    assert [csv_cell(v) for v in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "ok", 3)] == [
        "'=1+1",
        "'+1",
        "'-1",
        "'@SUM(A1)",
        "'\tx",
        "ok",
        "3",
    ]
