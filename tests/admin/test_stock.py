"""Stock by lot: receive, adjust, write off, the lot list and the append-only ledger."""

from __future__ import annotations

import re
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from shop.errors import ValidationError
from shop.extensions import db
from shop.inventory import services as inventory
from shop.inventory.models import Lot, StockMovement
from tests.admin.test_recall import ANA, make_order
from tests.conftest import csrf_token
from tests.factories import make_lot, make_product, make_variant

TODAY = date.today()
STAFF = "staff@shop.example"


def _variant(app: Flask, sku: str = "MN-32G-4MM-100", **lot: object) -> int:
    """A variant with one lot (unless quantity=0); returns the lot id, or 0."""
    with app.app_context():
        variant = make_variant(product=make_product(name="Meso Needle 32G"), sku=sku)
        lot_id = 0
        if lot.get("quantity", 50):
            lot_id = make_lot(variant, **lot).id  # type: ignore[arg-type]
        db.session.commit()
        return lot_id


def _lot(app: Flask, lot_id: int) -> Lot:
    with app.app_context():
        lot = db.session.get(Lot, lot_id)
        assert lot is not None
        db.session.expunge(lot)
        return lot


def _movements(app: Flask) -> list[tuple[str, int, str, str]]:
    with app.app_context():
        return [
            (m.kind, m.quantity, m.reason, m.actor)
            for m in db.session.scalars(select(StockMovement).order_by(StockMovement.id))
        ]


def _receive(client: FlaskClient, **changes: object):  # type: ignore[no-untyped-def]
    data = {
        "sku": "MN-32G-4MM-100",
        "lot_number": "L2411B",
        "made_on": (TODAY - timedelta(days=20)).isoformat(),
        "expires_on": (TODAY + timedelta(days=5 * 365)).isoformat(),
        "quantity": "30",
        "reason": "delivery note 7781",
        "csrf_token": csrf_token(client, "/admin/stock/receive"),
        **changes,
    }
    return client.post("/admin/stock/receive", data=data)


# Receive --------------------------------------------------------------------------------


def test_staff_receive_a_lot(app: Flask, staff_client: FlaskClient) -> None:
    _variant(app, quantity=0)
    form = staff_client.get("/admin/stock/receive?sku=MN-32G-4MM-100").get_data(as_text=True)
    assert '<label for="made_on">Made on</label>' in form
    assert 'type="date"' in form and 'value="MN-32G-4MM-100"' in form

    response = _receive(staff_client)
    assert response.status_code == 303
    page = staff_client.get(response.location).get_data(as_text=True)
    assert "Received 30 packs of MN-32G-4MM-100, lot L2411B." in page
    assert "<h1>Lot L2411B</h1>" in page and "delivery note 7781" in page
    with app.app_context():
        lot = db.session.scalars(select(Lot)).one()
        assert (lot.lot_number, lot.quantity, lot.reserved) == ("L2411B", 30, 0)
        assert lot.expires_on == TODAY + timedelta(days=5 * 365)
    assert _movements(app) == [("received", 30, "delivery note 7781", STAFF)]


def test_receiving_more_of_a_lot_adds_to_it(app: Flask, staff_client: FlaskClient) -> None:
    _variant(app, quantity=0)
    assert _receive(staff_client, reason="").status_code == 303
    assert _receive(staff_client, quantity="5", sku="mn-32g-4mm-100").status_code == 303
    with app.app_context():
        assert db.session.scalars(select(Lot.quantity)).one() == 35
    assert [m[:3] for m in _movements(app)] == [
        ("received", 30, "received"),
        ("received", 5, "delivery note 7781"),
    ]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"sku": "NO-SUCH-SKU"}, "sku", "No variant has the SKU NO-SUCH-SKU."),
        ({"lot_number": ""}, "lot_number", "Enter the lot number printed on the box."),
        ({"made_on": "31/02/2024"}, "made_on", "Not a valid date value."),
        (
            {"made_on": (TODAY + timedelta(days=2)).isoformat()},
            "made_on",
            "The date made cannot be in the future.",
        ),
        (
            {"expires_on": (TODAY - timedelta(days=1)).isoformat()},
            "expires_on",
            "This lot has expired",
        ),
        (
            {
                "made_on": (TODAY - timedelta(days=10)).isoformat(),
                "expires_on": (TODAY - timedelta(days=10)).isoformat(),
            },
            "expires_on",
            "This lot has expired",
        ),
        ({"quantity": "0"}, "quantity", "Enter a number of packs from 1 to 1,000,000."),
        ({"quantity": "ten"}, "quantity", "Not a valid integer value."),
        ({"lot_number": "L" * 41}, "lot_number", "Field cannot be longer than 40 characters."),
    ],
)
def test_bad_receipts_show_errors_keep_input_and_change_nothing(
    app: Flask, staff_client: FlaskClient, changes: dict[str, str], field: str, message: str
) -> None:
    _variant(app, quantity=0)
    response = _receive(staff_client, **changes)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Nothing was changed" in html
    error = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', html)
    assert error and message in error.group(1), html
    assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', html) or re.search(
        rf'aria-invalid="true"[^>]*id="{field}"', html
    )
    assert f'aria-describedby="{field}-error"' in html or f"{field}-hint {field}-error" in html
    assert 'value="delivery note 7781"' in html  # what was typed stays
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Lot)) == 0
        assert db.session.scalar(select(func.count()).select_from(StockMovement)) == 0


def test_a_lot_number_booked_with_other_dates_is_refused(
    app: Flask, staff_client: FlaskClient
) -> None:
    _variant(app, lot_number="L2411B", quantity=8)
    response = _receive(staff_client)
    assert response.status_code == 422
    assert "Lot L2411B is already booked with other dates." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(Lot.quantity)).one() == 8


# Adjust and write off -------------------------------------------------------------------


def _post(client: FlaskClient, path: str, **data: object):  # type: ignore[no-untyped-def]
    return client.post(path, data={**data, "csrf_token": csrf_token(client, "/admin/stock")})


def test_adjust_a_lot_with_a_reason(app: Flask, staff_client: FlaskClient) -> None:
    lot_id = _variant(app, quantity=20)
    path = f"/admin/stock/lots/{lot_id}/adjust"
    response = _post(staff_client, path, delta="-3", reason="recount: 3 boxes short")
    assert response.status_code == 303
    assert "now has 17 packs on hand" in staff_client.get(response.location).get_data(as_text=True)
    assert _post(staff_client, path, delta="5", reason="found in returns").status_code == 303
    assert _lot(app, lot_id).quantity == 22
    assert _movements(app)[1:] == [
        ("adjusted", -3, "recount: 3 boxes short", STAFF),
        ("adjusted", 5, "found in returns", STAFF),
    ]


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"delta": "4", "reason": ""}, "reason", "Say why, for the stock ledger."),
        ({"delta": "0", "reason": "nothing"}, "delta", "Enter a change other than zero."),
        ({"delta": "-21", "reason": "lost"}, "delta", "remove at most 20 packs"),
        ({"delta": "", "reason": "lost"}, "delta", "Enter the change, for example 5 or -3."),
    ],
)
def test_bad_adjustments_change_nothing(
    app: Flask, staff_client: FlaskClient, data: dict[str, str], field: str, message: str
) -> None:
    lot_id = _variant(app, quantity=20)
    response = _post(staff_client, f"/admin/stock/lots/{lot_id}/adjust", **data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    error = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', html)
    assert error and message in error.group(1)
    if data["reason"]:
        assert f'value="{data["reason"]}"' in html
    assert _lot(app, lot_id).quantity == 20
    assert len(_movements(app)) == 1


def test_write_off_expired_stock(app: Flask, staff_client: FlaskClient) -> None:
    lot_id = _variant(app, quantity=12, expires_in_days=-30)
    page = staff_client.get(f"/admin/stock/lots/{lot_id}").get_data(as_text=True)
    assert "Expired" in page
    assert re.search(r'<input id="quantity" [^>]*value="12">', page)
    assert '<option selected value="expired">Expired</option>' in page

    response = _post(
        staff_client, f"/admin/stock/lots/{lot_id}/write-off", quantity="12", cause="expired"
    )
    assert response.status_code == 303
    page = staff_client.get(response.location).get_data(as_text=True)
    assert "Wrote off 12 packs of lot" in page and "0 left on hand" in page
    assert _lot(app, lot_id).quantity == 0
    assert _movements(app)[1:] == [("written-off", -12, "Expired", STAFF)]


def test_write_off_damaged_packs_with_details(app: Flask, staff_client: FlaskClient) -> None:
    lot_id = _variant(app, quantity=12)
    path = f"/admin/stock/lots/{lot_id}/write-off"
    response = _post(staff_client, path, quantity="2", cause="other", note="")
    assert response.status_code == 422
    assert "Say what happened to the packs." in response.get_data(as_text=True)
    response = _post(staff_client, path, quantity="2", cause="damaged", note="crushed carton")
    assert response.status_code == 303
    assert _movements(app)[1:] == [("written-off", -2, "Damaged: crushed carton", STAFF)]


def test_reserved_packs_cannot_be_written_off_or_adjusted_away(
    app: Flask, staff_client: FlaskClient
) -> None:
    lot_id = _variant(app, quantity=10, lot_number="L7")
    with app.app_context():
        lot = db.session.get(Lot, lot_id)
        assert lot is not None
        make_order(lot.variant, 6, contact=ANA, paid=False)
        db.session.commit()

    response = _post(
        staff_client, f"/admin/stock/lots/{lot_id}/write-off", quantity="5", cause="damaged"
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert (
        "Lot L7 has 10 packs on hand, of which 6 packs reserved for orders: "
        "write off at most 4 packs." in html
    )
    response = _post(staff_client, f"/admin/stock/lots/{lot_id}/adjust", delta="-5", reason="x")
    assert response.status_code == 422
    assert "6 packs reserved for orders: remove at most 4 packs." in response.get_data(as_text=True)
    lot = _lot(app, lot_id)
    assert (lot.quantity, lot.reserved) == (10, 6)
    assert [m[0] for m in _movements(app)] == ["received"]

    ok = _post(staff_client, f"/admin/stock/lots/{lot_id}/write-off", quantity="4", cause="damaged")
    assert ok.status_code == 303
    lot = _lot(app, lot_id)
    assert (lot.quantity, lot.reserved) == (6, 6)


def test_services_refuse_and_leave_nothing_behind(app: Flask) -> None:
    with app.app_context():
        lot = make_lot(make_variant(), quantity=5)
        make_order(lot.variant, 2, contact=ANA, paid=False)
        db.session.commit()
        with pytest.raises(ValidationError) as refused:
            inventory.write_off(lot, 4, actor="tests", reason="damaged")
        assert "2 packs reserved" in refused.value.errors["quantity"]
        db.session.rollback()
        with pytest.raises(ValidationError) as refused:
            inventory.adjust(lot, -4, actor="tests", reason="recount")
        assert "remove at most 3 packs" in refused.value.errors["delta"]
        db.session.rollback()
        with pytest.raises(ValidationError):
            inventory.adjust(lot, 1, actor="tests", reason="   ")
        with pytest.raises(ValidationError):
            inventory.write_off(lot, 0, actor="tests", reason="damaged")
        db.session.rollback()
        assert inventory.write_off(lot, 3, actor="tests", reason="damaged").quantity == 2
        assert inventory.adjust(lot, 4, actor="tests", reason="found").quantity == 6
        db.session.commit()
        kinds = db.session.scalars(
            select(StockMovement.kind).where(StockMovement.lot_id == lot.id)
        ).all()
        assert kinds == ["received", "written-off", "adjusted"]


def test_unknown_lots_are_not_found(staff_client: FlaskClient) -> None:
    assert staff_client.get("/admin/stock/lots/999").status_code == 404
    response = _post(staff_client, "/admin/stock/lots/999/adjust", delta="1", reason="x")
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/admin/stock/receive", {"sku": "MN-32G-4MM-100", "lot_number": "L1", "quantity": "5"}),
        ("/admin/stock/lots/{lot_id}/adjust", {"delta": "-1", "reason": "recount"}),
        ("/admin/stock/lots/{lot_id}/write-off", {"quantity": "1", "cause": "damaged"}),
    ],
)
def test_forms_need_the_csrf_token(
    app: Flask, staff_client: FlaskClient, path: str, data: dict[str, str]
) -> None:
    lot_id = _variant(app, quantity=10)
    response = staff_client.post(path.format(lot_id=lot_id), data=data)
    assert response.status_code == 400
    assert _lot(app, lot_id).quantity == 10
    assert len(_movements(app)) == 1


# Lists ---------------------------------------------------------------------------------


def _lot_numbers(html: str) -> list[str]:
    return re.findall(r'<th scope="row"><a href="/admin/stock/lots/\d+">([^<]+)</a></th>', html)


def test_lot_list_filters(app: Flask, staff_client: FlaskClient) -> None:
    with app.app_context():
        meso = make_variant(product=make_product(name="Meso Needle 30G"), sku="MN-30G-4MM-100")
        multi = make_variant(product=make_product(name="Multi 5 Pins"), sku="MI-5P-32G-1.5MM")
        make_lot(meso, lot_number="A-EXP", expires_in_days=-10)
        make_lot(meso, lot_number="A-SHORT", expires_in_days=45)
        make_lot(meso, lot_number="A-LONG", expires_in_days=900)
        make_lot(multi, lot_number="B-LONG", expires_in_days=1200)
        # A variant selling down to 30 days of shelf life: its 45-day lot is sellable.
        late = make_variant(product=make_product(name="Clinic Pack"), min_shelf_life_days=30)
        make_lot(late, lot_number="C-45", expires_in_days=45)
        empty = make_lot(multi, lot_number="B-EMPTY", quantity=3)
        inventory.write_off(empty, 3, actor="tests", reason="damaged")
        db.session.commit()

    def lots(query: str) -> list[str]:
        response = staff_client.get(f"/admin/stock?{query}")
        assert response.status_code == 200
        return _lot_numbers(response.get_data(as_text=True))

    assert lots("") == ["A-EXP", "A-SHORT", "C-45", "A-LONG", "B-LONG"]
    assert lots("state=expired") == ["A-EXP"]
    assert lots("state=short-dated") == ["A-SHORT"]
    assert lots("state=sellable") == ["C-45", "A-LONG", "B-LONG"]
    assert lots("q=mn-30g") == ["A-EXP", "A-SHORT", "A-LONG"]
    assert lots("q=multi") == ["B-LONG"]
    assert lots("q=multi&stock=all") == ["B-EMPTY", "B-LONG"]
    assert lots("lot=long") == ["A-LONG", "B-LONG"]
    window = f"expires_from={TODAY.isoformat()}&expires_to={(TODAY + timedelta(days=90))}"
    assert lots(window) == ["A-SHORT", "C-45"]

    html = staff_client.get("/admin/stock").get_data(as_text=True)
    assert '<span class="lot-state lot-short-dated">Short-dated</span>' in html
    bad = staff_client.get("/admin/stock?expires_from=soon&state=nonsense")
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert "Not a valid date value." in text and "Not a valid choice." in text
    assert len(_lot_numbers(text)) == 5  # the bad filters are left out, the rest apply


def test_movements_ledger_lists_who_when_why_and_filters(
    app: Flask, staff_client: FlaskClient
) -> None:
    with app.app_context():
        first = make_lot(make_variant(sku="MN-27G-13MM-100"), lot_number="L1", quantity=80)
        second = make_lot(make_variant(sku="MN-30G-6MM-100"), lot_number="L2", quantity=10)
        for n in range(1, 56):
            inventory.adjust(first, -1, actor="ines@shop.example", reason=f"recount {n}")
        inventory.write_off(second, 2, actor="tom@shop.example", reason="Damaged: wet")
        db.session.commit()

    html = staff_client.get("/admin/stock/movements").get_data(as_text=True)
    assert "58 movements" in html and "Page 1 of 2" in html
    row = re.search(
        r"<tr>\s*<td>([^<]+)</td>\s*<td class=\"sku\">MN-30G-6MM-100</td>.*?</tr>", html, re.S
    )
    assert row, html
    for text in ("L2", "written off", "-2", "Damaged: wet", "tom@shop.example"):
        assert text in row.group(0)
    assert row.group(1).startswith(datetime.now(UTC).date().isoformat())

    page2 = staff_client.get("/admin/stock/movements?page=2").get_data(as_text=True)
    assert "Page 2 of 2" in page2 and "recount 1<" in page2 and 'rel="prev"' in page2

    def count(query: str) -> str:
        text = staff_client.get(f"/admin/stock/movements?{query}").get_data(as_text=True)
        found = re.search(r"(\d+) movements?</p>", text)
        assert found
        return found.group(1)

    assert count("kind=written-off") == "1"
    assert count("kind=received") == "2"
    assert count("sku=mn-27g-13mm-100") == "56"
    assert count("lot=L2") == "2"
    assert count("sku=MN-30G-6MM-100&kind=written-off") == "1"
    today = datetime.now(UTC).date()
    assert count(f"since={today}&until={today}") == "58"
    assert count(f"until={today - timedelta(days=1)}") == "0"
    assert count(f"since={today + timedelta(days=1)}") == "0"
    pager = staff_client.get("/admin/stock/movements?kind=adjusted").get_data(as_text=True)
    assert "/admin/stock/movements?page=2&amp;kind=adjusted" in pager


def test_movements_are_append_only(app: Flask) -> None:
    from shop.inventory.models import AppendOnlyError

    with app.app_context():
        make_lot(make_variant(), quantity=5)
        db.session.commit()
        movement = db.session.scalars(select(StockMovement)).one()
        movement.reason = "edited"
        with pytest.raises(AppendOnlyError):
            db.session.flush()
        db.session.rollback()


def test_concurrent_write_offs_never_take_more_than_is_free(app: Flask) -> None:
    """Six clerks write off 3 packs each from a lot with 10, 1 of them reserved: three win."""
    with app.app_context():
        lot = make_lot(make_variant(), quantity=10)
        make_order(lot.variant, 1, contact=ANA, paid=False)
        db.session.commit()
        lot_id = lot.id
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            with app.app_context():
                lot = db.session.get(Lot, lot_id)
                assert lot is not None
                try:
                    inventory.write_off(lot, 3, actor="tests", reason="damaged")
                except ValidationError:
                    db.session.rollback()
                    outcomes.append("refused")
                else:
                    db.session.commit()
                    outcomes.append("done")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(outcomes) == ["done"] * 3 + ["refused"] * 3
    lot = _lot(app, lot_id)
    assert (lot.quantity, lot.reserved) == (1, 1)
    assert [m[:2] for m in _movements(app)].count(("written-off", -3)) == 3
