"""Back office: the catalogue and the stock lots as CSV files, out and in (the files'
rules live in `shop.catalog.csv_io` and `shop.inventory.csv_io`)."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from typing import Any

from flask import Response, flash, redirect, render_template, url_for
from flask_wtf.file import FileField, FileRequired
from sqlalchemy.exc import IntegrityError

from shop.accounts.auth import actor
from shop.admin.blueprint import bp, section
from shop.catalog.csv_io import (
    CATALOGUE_COLUMNS,
    MAX_CSV_BYTES,
    SHOWN_ERRORS,
    CsvRefused,
    RowError,
    Summary,
    apply_catalogue,
    catalogue_rows,
    check_catalogue,
    guard,
    read_csv,
)
from shop.extensions import db
from shop.forms import ShopForm
from shop.inventory.csv_io import LOT_COLUMNS, apply_lots, check_lots, lot_rows
from shop.inventory.services import lock_stock

section("admin.catalogue_csv", "Import and export")


# --- Cells ------------------------------------------------------------------------------


# --- Reading a file -----------------------------------------------------------------------


# --- The catalogue ------------------------------------------------------------------------


# --- Stock lots ---------------------------------------------------------------------------


# --- Views --------------------------------------------------------------------------------


def _csv_file(label: str) -> FileField:
    return FileField(
        label, [FileRequired("Choose a CSV file.")], render_kw={"accept": ".csv,text/csv"}
    )


class CsvFileForm(ShopForm):
    file = _csv_file("Catalogue CSV file")


class LotsFileForm(CsvFileForm):
    file = _csv_file("Lots CSV file")


def _forms() -> dict[str, CsvFileForm]:
    return {"catalogue": CsvFileForm(prefix="catalogue"), "lots": LotsFileForm(prefix="lots")}


def _render(
    forms: dict[str, CsvFileForm], *, failed: str = "", errors: Sequence[RowError] = ()
) -> tuple[str, int]:
    html = render_template(
        "admin/products/csv.html",
        forms=forms,
        failed=failed,
        errors=errors[:SHOWN_ERRORS],
        hidden_errors=max(0, len(errors) - SHOWN_ERRORS),
        max_mb=MAX_CSV_BYTES // 2**20,
    )
    return html, 422 if failed else 200


def _download(rows: Iterator[list[str]], name: str) -> Response:
    """The rows as a CSV attachment, written whole before the response starts, so the
    database is not held while the file downloads."""
    text = io.StringIO()
    writer = csv.writer(text)
    for row in rows:
        writer.writerow([guard(cell) for cell in row])
    # utf-8-sig starts the file with a byte-order mark, so spreadsheets read it as UTF-8.
    response = Response(text.getvalue().encode("utf-8-sig"), mimetype="text/csv")
    filename = f"{name}-{date.today().isoformat()}.csv"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _import(which: str, apply: Callable[[CsvFileForm], Summary]) -> Any:
    forms = _forms()
    form = forms[which]
    if not form.validate_on_submit():
        return _render(forms, failed=which)
    try:
        summary = apply(form)
    except CsvRefused as exc:
        db.session.rollback()
        return _render(forms, failed=which, errors=exc.errors)
    except IntegrityError:
        db.session.rollback()
        error = RowError(0, "", "Someone changed the catalogue at the same moment: try again.")
        return _render(forms, failed=which, errors=[error])
    if summary.changed:
        db.session.commit()
        flash(f"Imported: {summary.describe()}", "success")
    else:
        db.session.rollback()
        flash(f"Nothing to change: {summary.describe()}", "info")
    return redirect(url_for("admin.catalogue_csv"), code=303)


def _import_catalogue(form: CsvFileForm) -> Summary:
    plan = check_catalogue(read_csv(form.file.data.stream, CATALOGUE_COLUMNS))
    return apply_catalogue(plan)


def _import_lots(form: CsvFileForm) -> Summary:
    rows = read_csv(form.file.data.stream, LOT_COLUMNS)
    lock_stock()
    to_receive, unchanged = check_lots(rows)
    received = apply_lots(to_receive, actor=actor(), reason="Received by CSV import")
    return Summary(created=Counter(lot=received), unchanged=unchanged)


@bp.get("/csv")
def catalogue_csv() -> tuple[str, int]:
    return _render(_forms())


@bp.get("/csv/catalogue.csv")
def export_catalogue() -> Response:
    return _download(catalogue_rows(), "catalogue")


@bp.get("/csv/lots.csv")
def export_lots() -> Response:
    return _download(lot_rows(), "lots")


@bp.post("/csv/catalogue")
def import_catalogue() -> Any:
    return _import("catalogue", _import_catalogue)


@bp.post("/csv/lots")
def import_lots() -> Any:
    return _import("lots", _import_lots)
