"""Recall: every order line that received (or holds) packs of a lot, with the buyer's
contact, so staff can reach each buyer of a lot that must come back."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import contains_eager

from shop.catalog.csv_io import guard
from shop.catalog.models import Variant
from shop.extensions import db
from shop.inventory.models import Lot
from shop.orders.models import Allocation, AllocationState, Order, OrderLine, OrderStatus

# Packs that reached, or are held for, a buyer; released ones never left the shelf.
RECALLED_STATES = (AllocationState.SOLD.value, AllocationState.RESERVED.value)


CSV_COLUMNS = (
    ("order_number", "Order"),
    ("ordered_at", "Ordered at (UTC)"),
    ("order_status", "Order status"),
    ("state", "Packs are"),
    ("sku", "SKU"),
    ("product", "Product"),
    ("lot_number", "Lot"),
    ("packs", "Packs"),
    ("contact_name", "Contact"),
    ("company", "Company"),
    ("email", "Email"),
    ("phone", "Phone"),
    ("shipping_address", "Address"),
    ("country", "Country"),
)


@dataclass(frozen=True)
class RecallLine:
    """One order line's packs of the lot, and who to contact about them."""

    order_number: str
    ordered_at: datetime
    order_status: str
    state: str
    sku: str
    product: str
    lot_number: str
    packs: int
    contact_name: str
    company: str
    email: str
    phone: str
    shipping_address: str
    country: str


def lots_numbered(lot_number: str) -> list[Lot]:
    """Every lot with this number (one per variant that has it), with its variant."""
    return list(
        db.session.scalars(
            select(Lot)
            .join(Lot.variant)
            .where(Lot.lot_number == lot_number)
            .options(contains_eager(Lot.variant))
            .order_by(Variant.sku, Lot.id)
        )
    )


def recall_lines(lot_number: str) -> list[RecallLine]:
    """Order lines that received (sold) or hold (reserved) packs of the lot, oldest order
    first, packs summed per line and state. One query."""
    rows = db.session.execute(
        select(Allocation, OrderLine, Order)
        .join(OrderLine, Allocation.order_line_id == OrderLine.id)
        .join(Order, OrderLine.order_id == Order.id)
        .where(Allocation.lot_number == lot_number, Allocation.state.in_(RECALLED_STATES))
        .order_by(Order.created_at, Order.id, OrderLine.id, Allocation.id)
    ).all()
    packs: dict[tuple[int, str], int] = {}
    first: dict[tuple[int, str], tuple[Allocation, OrderLine, Order]] = {}
    for allocation, line, order in rows:
        key = (line.id, allocation.state)
        packs[key] = packs.get(key, 0) + allocation.quantity
        first.setdefault(key, (allocation, line, order))
    return [
        RecallLine(
            order_number=order.number or f"#{order.id}",
            ordered_at=order.created_at,
            order_status=OrderStatus(order.status).label,
            state=allocation.state,
            sku=line.sku,
            product=line.name,
            lot_number=allocation.lot_number,
            packs=packs[key],
            contact_name=order.contact_name,
            company=order.company,
            email=order.email,
            phone=order.phone,
            shipping_address=order.shipping_address,
            country=order.country,
        )
        for key, (allocation, line, order) in first.items()
    ]


def csv_cell(value: object) -> str:
    """The value as CSV text a spreadsheet shows and never runs (OWASP's rule)."""
    text = value.strftime("%Y-%m-%d %H:%M") if isinstance(value, datetime) else str(value)
    return guard(text)


def recall_csv(lines: list[RecallLine]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([title for _, title in CSV_COLUMNS])
    for line in lines:
        writer.writerow([csv_cell(getattr(line, name)) for name, _ in CSV_COLUMNS])
    return out.getvalue()


# A spreadsheet runs a cell that starts with one of these as a formula.
