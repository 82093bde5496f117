"""Recall: every order line that received packs of a lot, with the buyer's contact."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime

from flask import Response, abort, render_template, request
from sqlalchemy import select
from sqlalchemy.orm import contains_eager
from wtforms import Form, StringField
from wtforms.validators import DataRequired, Length

from shop.admin.blueprint import bp, section
from shop.catalog.models import Variant
from shop.extensions import db
from shop.inventory.models import Lot
from shop.orders.models import Allocation, AllocationState, Order, OrderLine, OrderStatus

section("admin.recall", "Recall")

# Packs that reached, or are held for, a buyer; released ones never left the shelf.
RECALLED_STATES = (AllocationState.SOLD.value, AllocationState.RESERVED.value)


class RecallForm(Form):
    lot = StringField(
        "Lot number",
        filters=[lambda value: value.strip() if value else value],
        validators=[DataRequired("Enter a lot number."), Length(max=40)],
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

# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """The value as CSV text a spreadsheet shows and never runs (OWASP's rule)."""
    text = value.strftime("%Y-%m-%d %H:%M") if isinstance(value, datetime) else str(value)
    return f"'{text}" if text.startswith(FORMULA_START) else text


def recall_csv(lines: list[RecallLine]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([title for _, title in CSV_COLUMNS])
    for line in lines:
        writer.writerow([csv_cell(getattr(line, name)) for name, _ in CSV_COLUMNS])
    return out.getvalue()


def _lot_number() -> tuple[RecallForm, str]:
    form = RecallForm(request.args)
    if "lot" not in request.args:
        return form, ""
    form.validate()
    return form, "" if form.errors else form.lot.data


@bp.get("/recall")
def recall() -> tuple[str, int]:
    form, lot_number = _lot_number()
    lots = lots_numbered(lot_number) if lot_number else []
    lines = recall_lines(lot_number) if lots else []
    return (
        render_template(
            "admin/recall/recall.html",
            form=form,
            lot_number=lot_number,
            lots=lots,
            lines=lines,
            total_packs=sum(line.packs for line in lines),
            orders=len({line.order_number for line in lines}),
        ),
        422 if form.errors else 200,
    )


@bp.get("/recall/export")
def recall_export() -> Response:
    _, lot_number = _lot_number()
    if not lot_number or not lots_numbered(lot_number):
        abort(404)
    filename = re.sub(r"[^A-Za-z0-9._-]", "_", lot_number)
    # The byte-order mark makes spreadsheets read the addresses as UTF-8.
    return Response(
        "\ufeff" + recall_csv(recall_lines(lot_number)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="recall-{filename}.csv"'},
    )
