"""CSV export and import of the catalogue and of stock lots: all or nothing, idempotent."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta
from html import unescape

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from shop.catalog.csv_io import CATALOGUE_COLUMNS, guard, unguard
from shop.catalog.models import Product, Variant
from shop.catalog.versions import page_version
from shop.extensions import db
from shop.inventory.models import Lot, StockMovement
from tests.conftest import csrf_token
from tests.factories import make_lot, make_product, make_variant


def export(client: FlaskClient, what: str) -> str:
    with client.get(f"/admin/csv/{what}.csv") as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
        disposition = response.headers["Content-Disposition"]
        assert disposition == f'attachment; filename="{what}-{date.today().isoformat()}.csv"'
        return response.get_data(as_text=True)


def import_file(client: FlaskClient, what: str, text: str | bytes):  # type: ignore[no-untyped-def]
    body = text.encode() if isinstance(text, str) else text
    return client.post(
        f"/admin/csv/{what}",
        data={
            f"{what}-file": (io.BytesIO(body), f"{what}.csv", "text/csv"),
            f"{what}-csrf_token": csrf_token(client, "/admin/csv"),
        },
        content_type="multipart/form-data",
    )


def problems(html: str) -> list[tuple[int, str, str]]:
    """The import's error table: (line, column, message) rows."""
    found = re.findall(r'<tr><th scope="row">(\d+)</th><td>([^<]*)</td><td>([^<]*)</td></tr>', html)
    return [(int(line), column, unescape(message)) for line, column, message in found]


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline="")))


def as_csv(rows: list[dict[str, str]], columns: tuple[str, ...] = CATALOGUE_COLUMNS) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def catalogue_row(**changes: str) -> dict[str, str]:
    row = {
        "slug": "meso-needle-31g",
        "name": "Meso Needle 31G",
        "kind": "meso-needle",
        "summary": "A 31G needle.",
        "description": "Thin and sharp.",
        "material": "Stainless steel",
        "lubrication": "Silicone",
        "sterilisation_method": "Ethylene oxide (EO)",
        "sterile_barrier": "Blister",
        "shelf_life_months": "60",
        "single_use": "yes",
        "latex_free": "yes",
        "certifications": "CE 0123",
        "featured": "no",
        "product_active": "yes",
        "sku": "MN-31G-4MM-100",
        "gauge": "31",
        "length_mm": "4",
        "pins": "1",
        "bevel": "Tri-bevel",
        "wall": "Regular wall",
        "hub": "Luer lock",
        "pack_size": "100",
        "gtin": "",
        "min_order_quantity": "1",
        "low_stock_threshold": "10",
        "min_shelf_life_days": "",
        "variant_active": "yes",
        "price_tiers": "1:4500|10:4140|50:3830",
    }
    row.update(changes)
    return row


def counts(app: Flask) -> tuple[int, int, int, int, int]:
    """Products, variants, lots, movements and the catalogue version."""
    with app.app_context():
        return (
            db.session.scalar(select(func.count()).select_from(Product)) or 0,
            db.session.scalar(select(func.count()).select_from(Variant)) or 0,
            db.session.scalar(select(func.count()).select_from(Lot)) or 0,
            db.session.scalar(select(func.count()).select_from(StockMovement)) or 0,
            page_version(),
        )


@pytest.fixture
def catalogue(app: Flask) -> None:
    with app.app_context():
        tricky = make_product(
            slug="tricky",
            name='=HYPERLINK("http://evil.example")',
            summary='-10% "quoted", with commas',
            description="Line one, ü and 32G.\n\nSecond paragraph.",
        )
        make_variant(product=tricky, sku="TR-1", prices=((1, 4500), (10, 4140), (50, 3830)))
        make_variant(product=tricky, sku="TR-2", gauge=27, length_mm=13.0, gtin="4006381333931")
        plain = make_product(slug="plain", name="Plain Needle")
        make_variant(product=plain, sku="PL-1", length_mm=1.5, is_active=False)
        make_product(slug="no-variants", name="Coming Soon")
        db.session.commit()


# --- Cells ----------------------------------------------------------------------------------


@pytest.mark.parametrize("cell", ["=1+2", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_formula_cells_are_guarded_and_unguarded(cell: str) -> None:
    assert guard(cell) == "'" + cell
    assert unguard(guard(cell)) == cell


@pytest.mark.parametrize("cell", ["plain", "'quoted", "", "4500", "a=b"])
def test_other_cells_are_left_alone(cell: str) -> None:
    assert guard(cell) == cell
    assert unguard(cell) == cell


# --- Export ---------------------------------------------------------------------------------


def test_catalogue_export(staff_client: FlaskClient, catalogue: None) -> None:
    text = export(staff_client, "catalogue")
    assert text.startswith("\ufeff")
    rows = rows_of(text)
    assert list(rows[0]) == list(CATALOGUE_COLUMNS)
    by_sku = {row["sku"]: row for row in rows}
    assert set(by_sku) == {"TR-1", "TR-2", "PL-1", ""}
    assert by_sku["TR-1"]["price_tiers"] == "1:4500|10:4140|50:3830"
    assert by_sku["TR-1"]["name"] == '\'=HYPERLINK("http://evil.example")'
    assert by_sku["TR-1"]["summary"] == '\'-10% "quoted", with commas'
    assert by_sku["TR-1"]["description"] == "Line one, ü and 32G.\n\nSecond paragraph."
    assert by_sku["TR-2"]["gtin"] == "4006381333931" and by_sku["TR-2"]["length_mm"] == "13"
    assert by_sku["PL-1"]["variant_active"] == "no" and by_sku["PL-1"]["length_mm"] == "1.5"
    assert by_sku[""]["slug"] == "no-variants" and by_sku[""]["price_tiers"] == ""


def test_lot_export(app: Flask, staff_client: FlaskClient) -> None:
    with app.app_context():
        make_lot(make_variant(sku="LOT-1"), quantity=25, lot_number="A-100")
        db.session.commit()
    rows = rows_of(export(staff_client, "lots"))
    assert len(rows) == 1
    assert rows[0]["sku"] == "LOT-1" and rows[0]["lot_number"] == "A-100"
    assert rows[0]["quantity"] == "25"
    assert date.fromisoformat(rows[0]["expires_on"]) > date.today()


# --- Catalogue import -----------------------------------------------------------------------


def test_import_creates_then_changes_nothing_the_second_time(
    app: Flask, staff_client: FlaskClient, client: FlaskClient
) -> None:
    text = as_csv(
        [
            catalogue_row(),
            catalogue_row(sku="MN-31G-6MM-100", length_mm="6", price_tiers="1:4700"),
            catalogue_row(
                slug="empty-family",
                name="Empty",
                sku="",
                gauge="",
                length_mm="",
                pins="",
                bevel="",
                wall="",
                hub="",
                pack_size="",
                min_order_quantity="",
                low_stock_threshold="",
                variant_active="",
                price_tiers="",
            ),
        ]
    )
    first = import_file(staff_client, "catalogue", text)
    assert first.status_code == 303
    message = staff_client.get(first.location).get_data(as_text=True)
    assert "2 products created; 2 variants created" in message
    with app.app_context():
        variant = db.session.scalar(select(Variant).where(Variant.sku == "MN-31G-4MM-100"))
        assert variant is not None
        assert [(t.min_quantity, t.unit_amount) for t in variant.price_tiers] == [
            (1, 4500),
            (10, 4140),
            (50, 3830),
        ]
        assert variant.product.price_from == 4500
        updated_at = variant.product.updated_at
    assert "Meso Needle 31G" in client.get("/products?q=31g").get_data(as_text=True)

    before = counts(app)
    second = import_file(staff_client, "catalogue", text)
    assert second.status_code == 303
    message = staff_client.get(second.location).get_data(as_text=True)
    assert "Nothing to change: 3 rows already up to date." in message
    assert counts(app) == before
    with app.app_context():
        product = db.session.scalar(select(Product).where(Product.slug == "meso-needle-31g"))
        assert product is not None and product.updated_at == updated_at


def test_export_import_round_trip(app: Flask, staff_client: FlaskClient, catalogue: None) -> None:
    exported = export(staff_client, "catalogue")
    # Someone changes a price, a name, a flag and a tier list; the import puts them back.
    with app.app_context():
        tr1 = db.session.scalar(select(Variant).where(Variant.sku == "TR-1"))
        assert tr1 is not None
        tr1.price_tiers[1].unit_amount = 1
        tr1.product.name = "Renamed"
        tr1.product.featured = True
        pl1 = db.session.scalar(select(Variant).where(Variant.sku == "PL-1"))
        assert pl1 is not None
        pl1.is_active = True
        db.session.commit()
    response = import_file(staff_client, "catalogue", exported)
    assert response.status_code == 303
    message = staff_client.get(response.location).get_data(as_text=True)
    # The product's change counts on its first row (TR-2); no-variants is untouched.
    assert "Imported: 1 product updated; 2 variants updated; 1 row already up to date." in (
        unescape(message)
    ), re.findall(r'role="status">([^<]*)', message)
    assert export(staff_client, "catalogue") == exported
    before = counts(app)
    import_file(staff_client, "catalogue", exported)
    assert counts(app) == before


def test_one_bad_row_changes_nothing_and_is_listed(
    app: Flask, staff_client: FlaskClient, catalogue: None
) -> None:
    rows = rows_of(export(staff_client, "catalogue"))
    rows[0]["name"] = "Changed Name"  # a good change, not applied because of the bad row
    rows.append(catalogue_row(sku="NEW-1"))
    rows.append(catalogue_row(sku="NEW-2", gauge="40"))
    before = counts(app)
    response = import_file(staff_client, "catalogue", as_csv(rows))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Nothing was imported" in html
    # Lines count as a text editor does: tricky's description spans three lines, twice.
    assert problems(html) == [(11, "gauge", "Enter a gauge from 18 to 34.")]
    assert counts(app) == before
    with app.app_context():
        assert db.session.scalar(select(Variant).where(Variant.sku == "NEW-1")) is None
        assert db.session.scalar(select(Product.name).where(Product.slug == rows[0]["slug"])) != (
            "Changed Name"
        )


def test_every_bad_row_is_listed_by_its_line(
    app: Flask, staff_client: FlaskClient, catalogue: None
) -> None:
    rows = [
        catalogue_row(slug="first", sku="F-1", description="Two\nlines"),  # lines 2 and 3
        catalogue_row(),  # line 4
        catalogue_row(length_mm="6"),  # 5: SKU repeated
        catalogue_row(sku="B-1", price_tiers="1:4500|10:4600|5:4000"),  # 6
        catalogue_row(sku="B-2", price_tiers="1:-4500"),  # 7
        catalogue_row(sku="B-3", gtin="4006381333932"),  # 8
        catalogue_row(sku="B-4", gtin="4006381333931"),  # 9: TR-2 has it
        catalogue_row(sku="TR-1"),  # 10: belongs to product tricky
        catalogue_row(sku="B-5", name="Other Name"),  # 11: same slug, other product columns
        catalogue_row(sku="B-6", single_use="maybe", slug="Bad Slug"),  # 12
        catalogue_row(sku="B-7", price_tiers="1=4500"),  # 13
    ]
    response = import_file(staff_client, "catalogue", as_csv(rows))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert problems(html) == [
        (5, "sku", "SKU MN-31G-4MM-100 is also on line 4."),
        (6, "price_tiers", "Tiers must go up in packs: 5 comes after 10."),
        (7, "price_tiers", "Every price must be above zero."),
        (8, "gtin", "The GTIN's check digit does not match: look for a typo."),
        (9, "gtin", "GTIN 4006381333931 belongs to variant TR-2."),
        (
            10,
            "sku",
            "SKU TR-1 belongs to product tricky; a variant cannot move to another product.",
        ),
        (11, "name", "Differs from line 4, a row of the same product (meso-needle-31g)."),
        (12, "single_use", "Write yes or no."),
        (
            12,
            "slug",
            "Use lower-case letters and digits joined by single hyphens, like meso-needle-32g.",
        ),
        (13, "price_tiers", "Write the tiers as packs:cents joined by |, like 1:4500|10:4140."),
    ]
    assert "has 10 problems" in html


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("slug,name\nx,y\n", "Columns missing: kind"),
        (
            as_csv([catalogue_row()]).replace("price_tiers", "prices", 1),
            "Columns not known: prices",
        ),
        ("", "The file is empty"),
        (as_csv([]), "The file has no rows under its header."),
        ("Caf\xe9".encode("latin-1"), "The file is not UTF-8 text"),
        (as_csv([catalogue_row()]) + "too,few\n", "This row has 2 cells; the header has 29."),
        (b"x" * (10 * 1024 * 1024 + 1), "The file is over 10 MB."),
    ],
    ids=["missing", "unknown", "empty", "header-only", "latin-1", "short-row", "oversize"],
)
def test_unreadable_files_are_refused(
    app: Flask, staff_client: FlaskClient, body: str | bytes, message: str
) -> None:
    response = import_file(staff_client, "catalogue", body)
    response.request.environ["wsgi.input"].close()  # the test client's spooled body
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert counts(app)[:2] == (0, 0)


def test_imports_need_the_csrf_token(staff_client: FlaskClient) -> None:
    for what in ("catalogue", "lots"):
        body = {f"{what}-file": (io.BytesIO(as_csv([catalogue_row()]).encode()), "x.csv")}
        assert staff_client.post(f"/admin/csv/{what}", data=body).status_code == 400


def test_the_page_offers_both_files(staff_client: FlaskClient) -> None:
    html = staff_client.get("/admin/csv").get_data(as_text=True)
    assert '<label for="catalogue-file">' in html and '<label for="lots-file">' in html
    assert 'href="/admin/csv/catalogue.csv"' in html and 'href="/admin/csv/lots.csv"' in html


# --- Lots import ----------------------------------------------------------------------------

LOT_COLUMNS = ("sku", "lot_number", "made_on", "expires_on", "quantity")
MADE = (date.today() - timedelta(days=30)).isoformat()
EXPIRES = (date.today() + timedelta(days=3 * 365)).isoformat()


def lot_row(**changes: str) -> dict[str, str]:
    row = {
        "sku": "LOT-1",
        "lot_number": "L-2024-001",
        "made_on": MADE,
        "expires_on": EXPIRES,
        "quantity": "40",
    }
    row.update(changes)
    return row


@pytest.fixture
def lot_variants(app: Flask) -> None:
    with app.app_context():
        make_variant(sku="LOT-1")
        make_variant(sku="LOT-2")
        db.session.commit()


def test_lots_are_received_once_through_the_ledger(
    app: Flask, staff_client: FlaskClient, lot_variants: None
) -> None:
    text = as_csv([lot_row(), lot_row(sku="LOT-2", quantity="15")], LOT_COLUMNS)
    response = import_file(staff_client, "lots", text)
    assert response.status_code == 303
    assert "2 lots created" in staff_client.get(response.location).get_data(as_text=True)
    with app.app_context():
        movements = db.session.scalars(select(StockMovement).order_by(StockMovement.id)).all()
        assert [(m.kind, m.quantity, m.actor) for m in movements] == [
            ("received", 40, "staff@shop.example"),
            ("received", 15, "staff@shop.example"),
        ]
        assert movements[0].reason == "Received by CSV import"
    before = counts(app)
    again = import_file(staff_client, "lots", text)
    assert "Nothing to change: 2 rows already up to date." in staff_client.get(
        again.location
    ).get_data(as_text=True)
    assert counts(app) == before


def test_a_booked_lot_is_never_changed_by_an_import(
    app: Flask, staff_client: FlaskClient, lot_variants: None
) -> None:
    import_file(staff_client, "lots", as_csv([lot_row()], LOT_COLUMNS))
    before = counts(app)
    text = as_csv(
        [
            lot_row(lot_number="L-NEW", quantity="5"),  # good, but not applied
            lot_row(quantity="45"),  # line 3: same lot, other quantity
            lot_row(sku="LOT-2", lot_number="X", made_on=EXPIRES, expires_on=MADE),
            lot_row(sku="NOPE", lot_number="Y"),
            lot_row(lot_number="L-NEW", quantity="6"),
            lot_row(sku="LOT-2", lot_number="Z", made_on="31/12/2024", quantity="-3"),
        ],
        LOT_COLUMNS,
    )
    response = import_file(staff_client, "lots", text)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert problems(html) == [
        (
            3,
            "quantity",
            "Lot L-2024-001 of LOT-1 has 40 packs on hand, not 45: an import never changes "
            "a booked lot; adjust it on the stock pages.",
        ),
        (4, "expires_on", "The expiry date must be after the date made."),
        (5, "sku", "No variant has the SKU 'NOPE'."),
        (6, "lot_number", "Lot L-NEW of LOT-1 is also on line 2."),
        (7, "made_on", "Write the date as YYYY-MM-DD, like 2027-03-31."),
        (7, "quantity", "Enter a whole number of packs, 0 or more."),
    ]
    assert counts(app) == before


def test_lots_round_trip(app: Flask, staff_client: FlaskClient) -> None:
    with app.app_context():
        variant = make_variant(sku="RT-1")
        make_lot(variant, quantity=12, lot_number="=cmd|' /C calc'!A0")
        make_lot(variant, quantity=30)
        db.session.commit()
    exported = export(staff_client, "lots")
    assert "'=cmd" in exported
    before = counts(app)
    response = import_file(staff_client, "lots", exported)
    assert response.status_code == 303
    assert counts(app) == before
