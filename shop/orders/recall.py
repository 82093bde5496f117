"""Recall: every order line that received (or holds) packs of a lot, with the buyer's
contact, so staff can reach each buyer of a lot that must come back.

Starting a recall blocks the lot from sale at once (under the stock lock: no checkout
reserves from it afterwards) and flags every order that holds packs of it and has not
shipped, so none leaves the warehouse unchecked. Notices go to each buyer once (a unique
row per recall and address), through the outbox, with the buyer's orders listed.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager

from shop.catalog.csv_io import guard
from shop.catalog.models import Variant
from shop.errors import ValidationError
from shop.extensions import db
from shop.inventory import services as inventory
from shop.inventory.models import Lot
from shop.mail.services import queue_mail
from shop.orders import services as orders
from shop.orders.models import (
    Allocation,
    AllocationState,
    Order,
    OrderLine,
    OrderStatus,
    Recall,
    RecallNotice,
)

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


# Orders whose packs of a recalled lot may still be stopped before they reach the buyer.
NOT_SHIPPED = (
    OrderStatus.PENDING_PAYMENT,
    OrderStatus.AWAITING_TRANSFER,
    OrderStatus.PAYMENT_PROCESSING,
    OrderStatus.PAID,
)


def recall_of(lot_number: str) -> Recall | None:
    return db.session.scalar(select(Recall).where(Recall.lot_number == lot_number))


def start_recall(lot_number: str, *, reason: str, actor: str) -> tuple[Recall, list[str]]:
    """Recall a lot: block it from sale now and flag the orders holding packs of it that
    have not shipped. Returns the recall and the numbers of the orders flagged. Starting it
    again changes nothing. ValidationError for an unknown lot or an empty reason."""
    reason = " ".join(reason.split())
    if not reason:
        raise ValidationError({"reason": "Say why the lot is recalled (the buyers read it)."})
    if len(reason) > 1000:
        raise ValidationError({"reason": "Keep the reason under 1,000 characters."})
    if not lots_numbered(lot_number):
        raise ValidationError({"lot": f"No lot numbered {lot_number} has been received."})
    orders.lock()
    recall = recall_of(lot_number)
    if recall is not None:
        return recall, []
    recall = Recall(lot_number=lot_number, reason=reason, started_by=actor[:254])
    db.session.add(recall)
    db.session.flush()
    inventory.block_lots(lot_number, moment=recall.started_at)
    held = db.session.scalars(
        select(Order)
        .join(OrderLine, OrderLine.order_id == Order.id)
        .join(Allocation, Allocation.order_line_id == OrderLine.id)
        .where(
            Allocation.lot_number == lot_number,
            Allocation.state.in_(RECALLED_STATES),
            Order.status.in_([s.value for s in NOT_SHIPPED]),
        )
        .distinct()
        .order_by(Order.id)
    ).all()
    for order in held:
        orders.flag(
            order,
            f"Holds packs of recalled lot {lot_number}: swap them for another lot or cancel.",
            actor=actor,
            action="recall",
        )
    return recall, [order.number or f"#{order.id}" for order in held]


@dataclass(frozen=True)
class Buyer:
    email: str
    contact_name: str
    order_numbers: tuple[str, ...]


def buyers(lines: list[RecallLine]) -> list[Buyer]:
    """Each buyer (by email, case-blind) of the recall's lines with their orders."""
    found: dict[str, Buyer] = {}
    for line in lines:
        key = line.email.lower()
        known = found.get(key)
        numbers = (*known.order_numbers, line.order_number) if known else (line.order_number,)
        found[key] = Buyer(line.email, line.contact_name, tuple(dict.fromkeys(numbers)))
    return list(found.values())


def notify_buyers(recall: Recall, *, actor: str) -> int:
    """Queue a notice to every buyer of the lot not told yet; how many were queued now.
    Each buyer gets one notice per recall, however often this runs (a unique row)."""
    told = {notice.email.lower() for notice in recall.notices}
    queued = 0
    for buyer in buyers(recall_lines(recall.lot_number)):
        if buyer.email.lower() in told:
            continue
        try:
            with db.session.begin_nested():
                db.session.add(
                    RecallNotice(
                        recall_id=recall.id,
                        email=buyer.email.lower(),
                        order_numbers=", ".join(buyer.order_numbers),
                        actor=actor[:254],
                    )
                )
                db.session.flush()
                queue_mail(
                    to=buyer.email,
                    subject=f"Recall of lot {recall.lot_number}: please check your stock",
                    template="recall_notice",
                    recall=recall,
                    buyer=buyer,
                )
        except IntegrityError:
            continue  # told meanwhile by another request
        queued += 1
    return queued
