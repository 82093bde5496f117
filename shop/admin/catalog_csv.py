"""Back office: the catalogue and the stock lots as CSV files, out and in.

The catalogue file has one row per variant, carrying its product's columns too (a product
without variants gets one row with the variant columns empty), and its price tiers as
`1:4500|10:4140|50:3830` (packs:cents). The lots file has one row per lot.

An import reads and checks every row before it changes anything and then applies all of
it or nothing, listing each bad row by line number. Rows equal to what the shop holds
change nothing, so importing a file twice changes nothing the second time. New lots are
booked through `shop.inventory.services.receive_lot`; a lot that exists is never changed
by an import (a different quantity is reported, not applied).

Exported cells that a spreadsheet would run as a formula (starting with = + - @, tab or
carriage return) are prefixed with `'`; imports take that prefix off again.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import IO, Any, TypeVar

from flask import Response, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from werkzeug.datastructures import MultiDict

from shop.accounts.auth import actor
from shop.admin.blueprint import bp, section
from shop.admin.products import (
    PRODUCT_FIELDS,
    VARIANT_FIELDS,
    ProductForm,
    VariantSpecForm,
    apply_product,
    apply_variant,
    product_values,
    tier_problem,
    variant_values,
)
from shop.catalog.models import Product, Variant
from shop.catalog.services import refresh_derived
from shop.errors import ShopError, ValidationError
from shop.extensions import db
from shop.inventory.models import Lot
from shop.inventory.services import lock_stock, receive_lot

section("admin.catalogue_csv", "Import and export")

MAX_CSV_BYTES = 10 * 1024 * 1024
SHOWN_ERRORS = 200
CHUNK = 500
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PRODUCT_FLAGS = ("single_use", "latex_free", "featured")
CATALOGUE_COLUMNS = (
    *PRODUCT_FIELDS,
    "product_active",
    *VARIANT_FIELDS,
    "variant_active",
    "price_tiers",
)
LOT_COLUMNS = ("sku", "lot_number", "made_on", "expires_on", "quantity")
YES, NO = "yes", "no"
_FLAGS = {"yes": True, "true": True, "1": True, "no": False, "false": False, "0": False}
_TIER = re.compile(r"(\d{1,9}):(-?\d{1,9})")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_COUNT = re.compile(r"-?\d{1,9}")

T = TypeVar("T")


@dataclass(frozen=True, order=True)
class RowError:
    """Why one row (line 1 is the header) cannot be imported; `column` may be empty."""

    line: int
    column: str
    message: str


class CsvRefused(ShopError):
    """The file cannot be imported; nothing was changed. `errors` says where and why."""

    def __init__(self, errors: list[RowError]):
        super().__init__(f"{len(errors)} problem(s) in the file")
        self.errors = sorted(errors)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


@dataclass
class Summary:
    """What an import did: records created and updated by kind (product, variant, lot),
    and rows that matched the shop already."""

    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    unchanged: int = 0

    @property
    def changed(self) -> bool:
        return any(self.created.values()) or any(self.updated.values())

    def describe(self) -> str:
        parts = [
            f"{_count(counts[kind], kind)} {done}"
            for counts, done in ((self.created, "created"), (self.updated, "updated"))
            for kind in ("product", "variant", "lot")
            if counts[kind]
        ]
        parts.append(f"{_count(self.unchanged, 'row')} already up to date")
        return "; ".join(parts) + "."


# --- Cells ------------------------------------------------------------------------------


def guard(cell: str) -> str:
    """A cell a spreadsheet will show as text, never run as a formula."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def unguard(cell: str) -> str:
    """The cell as it was before `guard`."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS) else cell


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return YES if value else NO
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def tiers_cell(tiers: Iterable[tuple[int, int]]) -> str:
    return "|".join(f"{quantity}:{amount}" for quantity, amount in tiers)


def parse_tiers(text: str) -> list[tuple[int, int]]:
    """`1:4500|10:4140` → [(1, 4500), (10, 4140)]; ValueError with a message otherwise."""
    tiers = []
    for part in text.split("|"):
        match = _TIER.fullmatch(part.strip())
        if match is None:
            raise ValueError("Write the tiers as packs:cents joined by |, like 1:4500|10:4140.")
        tiers.append((int(match.group(1)), int(match.group(2))))
    problem = tier_problem(tiers)
    if problem:
        raise ValueError(problem)
    return tiers


def _in_chunks(values: Iterable[T]) -> Iterator[list[T]]:
    values = list(values)
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


# --- Reading a file -----------------------------------------------------------------------


def read_csv(stream: IO[bytes], columns: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    """The rows of an uploaded CSV as (line number, {column: cell}), with the header
    checked against `columns` (any order). Raises CsvRefused for a file that is too large,
    not UTF-8, not CSV, or whose header or row lengths are wrong."""
    data = stream.read(MAX_CSV_BYTES + 1)
    if len(data) > MAX_CSV_BYTES:
        raise CsvRefused([RowError(0, "", f"The file is over {MAX_CSV_BYTES // 2**20} MB.")])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CsvRefused(
            [RowError(0, "", "The file is not UTF-8 text: save it as “CSV UTF-8”.")]
        ) from exc
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[tuple[int, dict[str, str]]] = []
    errors: list[RowError] = []
    try:
        header = [name.strip() for name in next(reader, [])]
        _check_header(header, columns)
        end = reader.line_num
        for cells in reader:
            start, end = end + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(header):
                message = f"This row has {len(cells)} cells; the header has {len(header)}."
                errors.append(RowError(start, "", message))
                continue
            rows.append(
                (start, {name: unguard(cell) for name, cell in zip(header, cells, strict=True)})
            )
    except csv.Error as exc:
        errors.append(RowError(reader.line_num, "", f"This is not valid CSV: {exc}."))
    if errors:
        raise CsvRefused(errors)
    if not rows:
        raise CsvRefused([RowError(1, "", "The file has no rows under its header.")])
    return rows


def _check_header(header: list[str], columns: Sequence[str]) -> None:
    problems = []
    missing = [c for c in columns if c not in header]
    unknown = [c for c in header if c not in columns]
    repeated = sorted({c for c in header if header.count(c) > 1})
    if not any(header):
        problems.append("The file is empty: the first line must name the columns.")
    else:
        if missing:
            problems.append(f"Columns missing: {', '.join(missing)}.")
        if unknown:
            problems.append(f"Columns not known: {', '.join(unknown)}.")
        if repeated:
            problems.append(f"Columns named twice: {', '.join(repeated)}.")
    if problems:
        raise CsvRefused([RowError(1, "", message) for message in problems])


def _flag(cells: dict[str, str], column: str, errors: list[RowError], line: int) -> bool:
    value = _FLAGS.get(cells[column].strip().lower())
    if value is None:
        errors.append(RowError(line, column, "Write yes or no."))
        return False
    return value


def _form_errors(form: FlaskForm, line: int) -> list[RowError]:
    return [
        RowError(line, name, " ".join(str(m) for m in messages))
        for name, messages in form.errors.items()
    ]


# --- The catalogue ------------------------------------------------------------------------


@dataclass
class CatalogueRow:
    line: int
    slug: str
    product: dict[str, Any]
    sku: str | None = None
    variant: dict[str, Any] | None = None
    tiers: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class CataloguePlan:
    rows: list[CatalogueRow]
    products: dict[str, Product]
    variants: dict[str, Variant]


def _catalogue_row(line: int, cells: dict[str, str]) -> tuple[CatalogueRow | None, list[RowError]]:
    errors: list[RowError] = []
    formdata = MultiDict(
        {name: cells[name] for name in PRODUCT_FIELDS if name not in PRODUCT_FLAGS}
    )
    for name in PRODUCT_FLAGS:
        if _flag(cells, name, errors, line):
            formdata[name] = "y"
    product_active = _flag(cells, "product_active", errors, line)
    product_form = ProductForm(formdata=formdata, meta={"csrf": False})
    if not product_form.validate():
        errors += _form_errors(product_form, line)
    row = CatalogueRow(line, cells["slug"].strip(), {})
    variant_cells = [*VARIANT_FIELDS, "variant_active", "price_tiers"]
    if not any(cells[name].strip() for name in variant_cells):
        if errors:
            return None, errors
        row.product = {**product_values(product_form), "is_active": product_active}
        return row, []
    variant_active = _flag(cells, "variant_active", errors, line)
    variant_form = VariantSpecForm(
        formdata=MultiDict({name: cells[name] for name in VARIANT_FIELDS}), meta={"csrf": False}
    )
    if not variant_form.validate():
        errors += _form_errors(variant_form, line)
    try:
        row.tiers = parse_tiers(cells["price_tiers"])
    except ValueError as exc:
        errors.append(RowError(line, "price_tiers", str(exc)))
    if errors:
        return None, errors
    row.product = {**product_values(product_form), "is_active": product_active}
    row.variant = {**variant_values(variant_form), "is_active": variant_active}
    row.sku = row.variant["sku"]
    return row, []


def check_catalogue(rows: list[tuple[int, dict[str, str]]]) -> CataloguePlan:
    """Every row checked (fields, one product per slug, one row per SKU and GTIN, and
    against the database); the plan to apply. Raises CsvRefused listing every bad row."""
    errors: list[RowError] = []
    checked: list[CatalogueRow] = []
    first_of_product: dict[str, CatalogueRow] = {}
    line_of_sku: dict[str, int] = {}
    line_of_gtin: dict[str, int] = {}
    for line, cells in rows:
        row, row_errors = _catalogue_row(line, cells)
        if row is None:
            errors += row_errors
            continue
        first = first_of_product.setdefault(row.slug, row)
        if first is not row and first.product != row.product:
            differing = next(k for k in row.product if row.product[k] != first.product[k])
            column = "product_active" if differing == "is_active" else differing
            message = f"Differs from line {first.line}, a row of the same product ({row.slug})."
            errors.append(RowError(line, column, message))
            continue
        if row.variant is not None:
            sku, gtin = row.variant["sku"], row.variant["gtin"]
            if sku in line_of_sku:
                errors.append(
                    RowError(line, "sku", f"SKU {sku} is also on line {line_of_sku[sku]}.")
                )
                continue
            line_of_sku[sku] = line
            if gtin and gtin in line_of_gtin:
                message = f"GTIN {gtin} is also on line {line_of_gtin[gtin]}."
                errors.append(RowError(line, "gtin", message))
                continue
            if gtin:
                line_of_gtin[gtin] = line
        checked.append(row)
    plan = _catalogue_plan(checked, errors)
    if errors:
        raise CsvRefused(errors)
    return plan


def _catalogue_plan(rows: list[CatalogueRow], errors: list[RowError]) -> CataloguePlan:
    products: dict[str, Product] = {}
    for chunk in _in_chunks({row.slug for row in rows}):
        products.update(
            (p.slug, p)
            for p in db.session.scalars(
                select(Product)
                .where(Product.slug.in_(chunk))
                .options(selectinload(Product.variants).selectinload(Variant.price_tiers))
            )
        )
    variants: dict[str, Variant] = {}
    for chunk in _in_chunks({row.sku for row in rows if row.sku}):
        variants.update(
            (v.sku, v)
            for v in db.session.scalars(
                select(Variant)
                .where(Variant.sku.in_(chunk))
                .options(selectinload(Variant.product), selectinload(Variant.price_tiers))
            )
        )
    owner_of_gtin: dict[str, str] = {}
    gtins = {row.variant["gtin"] for row in rows if row.variant and row.variant["gtin"]}
    for chunk in _in_chunks(gtins):
        rows_found = db.session.execute(
            select(Variant.gtin, Variant.sku).where(Variant.gtin.in_(chunk))
        )
        owner_of_gtin.update((gtin, sku) for gtin, sku in rows_found)
    for row in rows:
        if row.variant is None:
            continue
        existing = variants.get(row.variant["sku"])
        if existing is not None and existing.product.slug != row.slug:
            message = (
                f"SKU {existing.sku} belongs to product {existing.product.slug}; "
                "a variant cannot move to another product."
            )
            errors.append(RowError(row.line, "sku", message))
        gtin = row.variant["gtin"]
        if gtin and owner_of_gtin.get(gtin, row.variant["sku"]) != row.variant["sku"]:
            message = f"GTIN {gtin} belongs to variant {owner_of_gtin[gtin]}."
            errors.append(RowError(row.line, "gtin", message))
    return CataloguePlan(rows, products, variants)


def apply_catalogue(plan: CataloguePlan) -> Summary:
    """Create what is new and update what differs, then refresh the derived data of the
    products that changed. Flushes; does not commit."""
    summary = Summary()
    touched: set[str] = set()
    changed: dict[str, Product] = {}
    for row in plan.rows:
        row_changed = False
        if row.slug not in touched:
            touched.add(row.slug)
            existing = plan.products.get(row.slug)
            product, row_changed = apply_product(existing, row.product)
            plan.products[row.slug] = product
            if row_changed:
                (summary.created if existing is None else summary.updated)["product"] += 1
        product = plan.products[row.slug]
        if row.variant is not None and row.sku is not None:
            existing_variant = plan.variants.get(row.sku)
            _, variant_changed = apply_variant(product, existing_variant, row.variant, row.tiers)
            if variant_changed:
                (summary.created if existing_variant is None else summary.updated)["variant"] += 1
            row_changed = row_changed or variant_changed
        if row_changed:
            changed[row.slug] = product
        else:
            summary.unchanged += 1
    if changed:
        refresh_derived(changed.values())
    return summary


def catalogue_rows() -> Iterator[list[str]]:
    """The header, then one row per variant (or per product without variants)."""
    yield list(CATALOGUE_COLUMNS)
    products = db.session.scalars(
        select(Product)
        .order_by(Product.slug)
        .options(selectinload(Product.variants).selectinload(Variant.price_tiers))
        .execution_options(yield_per=CHUNK)
    )
    blank_variant = dict.fromkeys((*VARIANT_FIELDS, "variant_active", "price_tiers"), "")
    for product in products:
        cells = {name: _cell(getattr(product, name)) for name in PRODUCT_FIELDS}
        cells["product_active"] = _cell(product.is_active)
        if not product.variants:
            yield [{**cells, **blank_variant}[c] for c in CATALOGUE_COLUMNS]
        for variant in product.variants:
            cells.update((name, _cell(getattr(variant, name))) for name in VARIANT_FIELDS)
            cells["variant_active"] = _cell(variant.is_active)
            cells["price_tiers"] = tiers_cell(
                (t.min_quantity, t.unit_amount) for t in variant.price_tiers
            )
            yield [cells[c] for c in CATALOGUE_COLUMNS]


# --- Stock lots ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LotRow:
    line: int
    variant: Variant
    lot_number: str
    made_on: date
    expires_on: date
    quantity: int


def _date(cells: dict[str, str], column: str, errors: list[RowError], line: int) -> date | None:
    text = cells[column].strip()
    try:
        if _DATE.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    errors.append(RowError(line, column, "Write the date as YYYY-MM-DD, like 2027-03-31."))
    return None


def _lot_row(
    line: int, cells: dict[str, str], variants: dict[str, Variant], lots: dict[tuple[int, str], Lot]
) -> tuple[LotRow | None, list[RowError]]:
    """The checked row, None for a lot already booked exactly so, or the errors."""
    errors: list[RowError] = []
    sku = cells["sku"].strip()
    variant = variants.get(sku)
    if variant is None:
        errors.append(RowError(line, "sku", f"No variant has the SKU {sku!r}."))
    lot_number = cells["lot_number"].strip()
    if not lot_number or len(lot_number) > 40:
        errors.append(RowError(line, "lot_number", "Enter the lot number (at most 40 characters)."))
    made_on = _date(cells, "made_on", errors, line)
    expires_on = _date(cells, "expires_on", errors, line)
    if made_on and expires_on and expires_on <= made_on:
        errors.append(RowError(line, "expires_on", "The expiry date must be after the date made."))
    quantity_text = cells["quantity"].strip()
    quantity = int(quantity_text) if _COUNT.fullmatch(quantity_text) else -1
    if quantity < 0:
        errors.append(RowError(line, "quantity", "Enter a whole number of packs, 0 or more."))
    if errors or variant is None or made_on is None or expires_on is None:
        return None, errors
    lot = lots.get((variant.id, lot_number))
    if lot is None:
        if quantity == 0:
            return None, [RowError(line, "quantity", "A new lot needs at least one pack.")]
        return LotRow(line, variant, lot_number, made_on, expires_on, quantity), []
    if (lot.made_on, lot.expires_on) != (made_on, expires_on):
        message = (
            f"Lot {lot_number} of {sku} is booked as made on {lot.made_on.isoformat()}, "
            f"expiring {lot.expires_on.isoformat()}."
        )
        return None, [RowError(line, "lot_number", message)]
    if lot.quantity != quantity:
        message = (
            f"Lot {lot_number} of {sku} has {lot.quantity} packs on hand, not {quantity}: "
            "an import never changes a booked lot; adjust it on the stock pages."
        )
        return None, [RowError(line, "quantity", message)]
    return None, []


def check_lots(rows: list[tuple[int, dict[str, str]]]) -> tuple[list[LotRow], int]:
    """The lots to receive, and how many rows match lots already booked. Raises CsvRefused
    listing every bad row. Call `lock_stock()` first: it keeps stock still until commit."""
    variants: dict[str, Variant] = {}
    for chunk in _in_chunks({cells["sku"].strip() for _, cells in rows}):
        variants.update(
            (v.sku, v) for v in db.session.scalars(select(Variant).where(Variant.sku.in_(chunk)))
        )
    lots: dict[tuple[int, str], Lot] = {}
    for chunk in _in_chunks(v.id for v in variants.values()):
        lots.update(
            ((lot.variant_id, lot.lot_number), lot)
            for lot in db.session.scalars(select(Lot).where(Lot.variant_id.in_(chunk)))
        )
    errors: list[RowError] = []
    to_receive: list[LotRow] = []
    unchanged = 0
    line_of_lot: dict[tuple[str, str], int] = {}
    for line, cells in rows:
        key = (cells["sku"].strip(), cells["lot_number"].strip())
        if key in line_of_lot:
            message = f"Lot {key[1]} of {key[0]} is also on line {line_of_lot[key]}."
            errors.append(RowError(line, "lot_number", message))
            continue
        line_of_lot[key] = line
        row, row_errors = _lot_row(line, cells, variants, lots)
        errors += row_errors
        if row is not None:
            to_receive.append(row)
        elif not row_errors:
            unchanged += 1
    if errors:
        raise CsvRefused(errors)
    return to_receive, unchanged


def apply_lots(rows: list[LotRow], *, actor: str, reason: str) -> int:
    """Receive each new lot with a stock movement by `actor`; how many. Flushes only."""
    for row in rows:
        try:
            receive_lot(
                row.variant,
                lot_number=row.lot_number,
                made_on=row.made_on,
                expires_on=row.expires_on,
                quantity=row.quantity,
                actor=actor,
                reason=reason,
            )
        except ValidationError as exc:
            raise CsvRefused(
                [RowError(row.line, name, message) for name, message in exc.errors.items()]
            ) from exc
    return len(rows)


def lot_rows() -> Iterator[list[str]]:
    """The header, then every lot with the packs it has on hand."""
    yield list(LOT_COLUMNS)
    rows = db.session.execute(
        select(Variant.sku, Lot.lot_number, Lot.made_on, Lot.expires_on, Lot.quantity)
        .join(Variant, Variant.id == Lot.variant_id)
        .order_by(Variant.sku, Lot.expires_on, Lot.lot_number)
        .execution_options(yield_per=CHUNK)
    )
    for sku, lot_number, made_on, expires_on, quantity in rows:
        yield [sku, lot_number, made_on.isoformat(), expires_on.isoformat(), str(quantity)]


# --- Views --------------------------------------------------------------------------------


def _csv_file(label: str) -> FileField:
    return FileField(
        label, [FileRequired("Choose a CSV file.")], render_kw={"accept": ".csv,text/csv"}
    )


class CsvFileForm(FlaskForm):
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
