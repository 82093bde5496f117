"""Stock lots as a CSV file, out and in (one row per lot).

New lots are booked through `receive_lot`; a lot that exists is never changed by an import
(a different quantity is reported, not applied). Checked in full before anything changes,
as the catalogue file is (`shop.catalog.csv_io`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from shop.catalog.csv_io import (
    CHUNK,
    COUNT_CELL,
    DATE_CELL,
    CsvRefused,
    RowError,
    in_chunks,
)
from shop.catalog.models import Variant
from shop.errors import ValidationError
from shop.extensions import db
from shop.inventory.models import Lot
from shop.inventory.services import receive_lot

LOT_COLUMNS = ("sku", "lot_number", "made_on", "expires_on", "quantity")


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
        if DATE_CELL.fullmatch(text):
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
    quantity = int(quantity_text) if COUNT_CELL.fullmatch(quantity_text) else -1
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
    for chunk in in_chunks({cells["sku"].strip() for _, cells in rows}):
        variants.update(
            (v.sku, v) for v in db.session.scalars(select(Variant).where(Variant.sku.in_(chunk)))
        )
    lots: dict[tuple[int, str], Lot] = {}
    for ids in in_chunks(v.id for v in variants.values()):
        lots.update(
            ((lot.variant_id, lot.lot_number), lot)
            for lot in db.session.scalars(select(Lot).where(Lot.variant_id.in_(ids)))
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
