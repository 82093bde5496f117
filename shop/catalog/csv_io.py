"""The catalogue as a CSV file, out and in, and what every CSV file of the shop shares.

The catalogue file has one row per variant, carrying its product's columns too (a product
without variants gets one row with the variant columns empty), and its price tiers as
`1:4500|10:4140|50:3830` (packs:cents).

An import reads and checks every row before it changes anything and then applies all of
it or nothing, listing each bad row by line number. Rows equal to what the shop holds
change nothing, so importing a file twice changes nothing the second time.

Exported cells that a spreadsheet would run as a formula (starting with = + - @, tab or
carriage return) are prefixed with `'`; imports take that prefix off again.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, TypeVar

from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.datastructures import MultiDict

from shop.catalog.editing import (
    PRODUCT_FIELDS,
    VARIANT_FIELDS,
    apply_product,
    apply_variant,
    tier_problem,
)
from shop.catalog.forms import ProductForm, VariantSpecForm, product_values, variant_values
from shop.catalog.models import Product, Variant
from shop.catalog.services import refresh_derived
from shop.errors import ShopError
from shop.extensions import db
from shop.wording import count

YES, NO = "yes", "no"
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


_FLAGS = {"yes": True, "true": True, "1": True, "no": False, "false": False, "0": False}


_TIER = re.compile(r"(\d{1,9}):(-?\d{1,9})")


DATE_CELL = re.compile(r"\d{4}-\d{2}-\d{2}")


COUNT_CELL = re.compile(r"-?\d{1,9}")


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
            f"{count(counts[kind], kind)} {done}"
            for counts, done in ((self.created, "created"), (self.updated, "updated"))
            for kind in ("product", "variant", "lot")
            if counts[kind]
        ]
        parts.append(f"{count(self.unchanged, 'row')} already up to date")
        return "; ".join(parts) + "."


def guard(cell: str) -> str:
    """A cell a spreadsheet will show as text, never run as a formula."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def unguard(cell: str) -> str:
    """The cell as it was before `guard`."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS) else cell


def cell_text(value: Any) -> str:
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


def in_chunks(values: Iterable[T]) -> Iterator[list[T]]:
    values = list(values)
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


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
    for chunk in in_chunks({row.slug for row in rows}):
        products.update(
            (p.slug, p)
            for p in db.session.scalars(
                select(Product)
                .where(Product.slug.in_(chunk))
                .options(selectinload(Product.variants).selectinload(Variant.price_tiers))
            )
        )
    variants: dict[str, Variant] = {}
    for chunk in in_chunks({row.sku for row in rows if row.sku}):
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
    for chunk in in_chunks(gtins):
        rows_found = db.session.execute(
            select(Variant.gtin, Variant.sku).where(Variant.gtin.in_(chunk))
        )
        owner_of_gtin.update((gtin, sku) for gtin, sku in rows_found if gtin is not None)
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
        cells = {name: cell_text(getattr(product, name)) for name in PRODUCT_FIELDS}
        cells["product_active"] = cell_text(product.is_active)
        if not product.variants:
            yield [{**cells, **blank_variant}[c] for c in CATALOGUE_COLUMNS]
        for variant in product.variants:
            cells.update((name, cell_text(getattr(variant, name))) for name in VARIANT_FIELDS)
            cells["variant_active"] = cell_text(variant.is_active)
            cells["price_tiers"] = tiers_cell(
                (t.min_quantity, t.unit_amount) for t in variant.price_tiers
            )
            yield [cells[c] for c in CATALOGUE_COLUMNS]
