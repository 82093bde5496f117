"""Recall: a lot number gives every order line that received packs of it, with contacts."""

from __future__ import annotations

import csv
import io
import os
import re
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from shop.catalog.models import Variant
from shop.extensions import db
from shop.inventory.models import Lot
from shop.inventory.services import InsufficientStock, availability, lock_stock
from shop.mail.models import OutboxEmail
from shop.orders import services as orders
from shop.orders.models import Order, PaymentMethod
from shop.orders.recall import csv_cell, start_recall
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


# ---- recalling: block, flag, tell ---------------------------------------------------------


def _recall(staff_client: FlaskClient, lot: str, reason: str):  # type: ignore[no-untyped-def]
    page = staff_client.get(f"/admin/recall?lot={lot}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    return staff_client.post(
        "/admin/recall/start",
        data={"lot": lot, "reason": reason, "csrf_token": token.group(1)},
        follow_redirects=True,
    )


def _notify(staff_client: FlaskClient, lot: str):  # type: ignore[no-untyped-def]
    page = staff_client.get(f"/admin/recall?lot={lot}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    return staff_client.post(
        "/admin/recall/notify",
        data={"lot": lot, "csrf_token": token.group(1)},
        follow_redirects=True,
    )


def test_a_recalled_lot_is_never_sold_again_and_its_orders_cannot_ship(
    app: Flask, staff_client: FlaskClient
) -> None:
    first, second = _two_orders_from_one_lot(app)
    with app.app_context():
        variant = db.session.scalar(select(Variant).where(Variant.sku == "MN-32G-4MM-100"))
        assert variant is not None
        make_lot(variant, quantity=5, lot_number="L2409B", expires_in_days=900)
        db.session.commit()
        assert availability([variant])[variant.id].available == 3 + 5

    html = _recall(staff_client, "L2405A", "Seal check failed on retained samples.")
    text = html.get_data(as_text=True)
    assert html.status_code == 200
    assert "Lot L2405A is recalled: it is no longer sold." in text
    assert f"2 orders holding its packs ({first}, {second}) can no longer ship" in text
    assert "Seal check failed on retained samples." in text

    with app.app_context():
        variant = db.session.scalar(select(Variant).where(Variant.sku == "MN-32G-4MM-100"))
        assert variant is not None
        assert availability([variant])[variant.id].available == 5  # only the other lot
        order = make_order(variant, 5, contact=ANA, paid=False)
        assert {a.lot_number for line in order.lines for a in line.allocations} == {"L2409B"}
        db.session.commit()
        with pytest.raises(InsufficientStock):
            make_order(variant, 1, contact=BEN, paid=False)
        db.session.rollback()
        flagged = db.session.scalar(select(Order).where(Order.number == first))
        assert flagged is not None and flagged.needs_attention
        assert "recalled lot L2405A" in flagged.attention_reason
        with pytest.raises(orders.ActionRefused):
            orders.ship(flagged, carrier="DHL", tracking_number="1", actor="tests")
    lot_page = staff_client.get("/admin/stock?state=recalled").get_data(as_text=True)
    assert "L2405A" in lot_page and "L2409B" not in lot_page
    again = _recall(staff_client, "L2405A", "Twice")
    assert "Recalled</strong> on" in again.get_data(as_text=True)  # nothing new: it stands


def test_a_recall_needs_a_reason_the_buyers_can_read(app: Flask, staff_client: FlaskClient) -> None:
    _two_orders_from_one_lot(app)
    response = _recall(staff_client, "L2405A", "  ")
    assert response.status_code == 422
    assert "Say why the lot is recalled" in response.get_data(as_text=True)
    with app.app_context():
        lot = db.session.scalar(select(Lot).where(Lot.lot_number == "L2405A"))
        assert lot is not None and lot.recalled_at is None


def test_each_buyer_of_a_recalled_lot_is_told_once(app: Flask, staff_client: FlaskClient) -> None:
    first, second = _two_orders_from_one_lot(app)
    with app.app_context():
        variant = db.session.scalar(select(Variant).where(Variant.sku == "MN-32G-4MM-100"))
        assert variant is not None
        third = make_order(variant, 2, contact=ANA)  # Ana's second order of the lot
        db.session.commit()
        third_number = third.number
    _recall(staff_client, "L2405A", "Seal check failed.")
    told = _notify(staff_client, "L2405A").get_data(as_text=True)
    assert "Recall notice queued for 2 buyers." in told
    again = _notify(staff_client, "L2405A").get_data(as_text=True)
    assert "Every buyer of this lot has been told already." in again
    with app.app_context():
        mail = list(
            db.session.scalars(
                select(OutboxEmail).where(OutboxEmail.subject.contains("Recall of lot L2405A"))
            )
        )
    assert sorted(m.to for m in mail) == ["ana@clinica-ruiz.example", "ben@hairclinic.example"]
    ana = next(m for m in mail if m.to.startswith("ana"))
    assert f"orders {first}, {third_number}" in ana.body_text
    assert "Seal check failed." in ana.body_text
    ben = next(m for m in mail if m.to.startswith("ben"))
    assert f"order {second}" in ben.body_text
    assert '<th scope="row">ana@clinica-ruiz.example</th>' in again


@pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL"),
    reason="concurrency is proven on PostgreSQL: set TEST_DATABASE_URL",
)
def test_no_checkout_reserves_from_a_lot_once_it_is_blocked(app: Flask) -> None:
    """Buyers keep ordering in threads while the lot is recalled: after the block commits,
    not one more pack of it is reserved (the block takes the stock lock)."""
    with app.app_context():
        variant = make_variant(sku="MN-RACE-100", prices=((1, 3000),))
        make_lot(variant, quantity=400, lot_number="RACE-1", expires_in_days=700)
        make_lot(variant, quantity=400, lot_number="RACE-2", expires_in_days=900)
        db.session.commit()
        variant_id = variant.id
    stop = threading.Event()
    errors: list[BaseException] = []

    def buyer(n: int) -> None:
        contact = orders.Contact(
            email=f"b{n}@clinic.example",
            contact_name="Dr B",
            company="",
            phone="",
            shipping_address="1 Street",
            country="DE",
        )
        with app.app_context():
            try:
                while not stop.is_set():
                    found = db.session.get(Variant, variant_id)
                    assert found is not None
                    make_order(found, 1, contact=contact, paid=False)
                    db.session.commit()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=buyer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    with app.app_context():
        start_recall("RACE-1", reason="Race test.", actor="tests")
        db.session.commit()
        reserved_at_block = db.session.scalar(
            select(Lot.reserved).where(Lot.lot_number == "RACE-1")
        )
    time.sleep(1.5)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with app.app_context():
        lots = {lot.lot_number: lot.reserved for lot in db.session.scalars(select(Lot))}
    assert reserved_at_block and lots["RACE-1"] == reserved_at_block
    assert lots["RACE-2"] > 0  # the buyers kept buying, from the other lot
