"""What can be sold now, and every change to stock. Lot rows change only here."""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import select

from shop.catalog.models import Variant
from shop.catalog.services import bump_version
from shop.errors import ValidationError
from shop.extensions import db
from shop.inventory.models import Lot, MovementKind, StockMovement


def add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def shop_min_shelf_life_months() -> int:
    return int(current_app.config["SHOP_SETTINGS"].min_shelf_life_months)


def sellable_from(variant: Variant, today: date, *, default_months: int) -> date:
    """The earliest expiry date a lot of this variant may have to be sold online today."""
    if variant.min_shelf_life_days is not None:
        return today + timedelta(days=variant.min_shelf_life_days)
    return add_months(today, default_months)


@dataclass(frozen=True)
class Availability:
    """Packs of a variant that can be sold now, and the expiry a buyer would get first."""

    available: int
    next_expiry: date | None

    @property
    def in_stock(self) -> bool:
        return self.available > 0


NONE_AVAILABLE = Availability(0, None)


def availability(
    variants: Iterable[Variant], *, today: date | None = None
) -> dict[int, Availability]:
    """Availability by variant id, in one query whatever the number of variants.

    Counts only lots that expire no sooner than the minimum remaining shelf life (the
    shop's setting or the variant's override), less what is reserved; expired lots never
    count.
    """
    variants = list(variants)
    if not variants:
        return {}
    today = today or date.today()
    months = shop_min_shelf_life_months()
    cutoffs = {v.id: sellable_from(v, today, default_months=months) for v in variants}
    earliest = min(cutoffs.values())
    rows = db.session.execute(
        select(Lot.variant_id, Lot.expires_on, Lot.quantity - Lot.reserved)
        .where(
            Lot.variant_id.in_(cutoffs),
            Lot.expires_on >= earliest,
            Lot.quantity > Lot.reserved,
        )
        .order_by(Lot.variant_id, Lot.expires_on)
    ).all()
    totals: dict[int, int] = defaultdict(int)
    first: dict[int, date] = {}
    for variant_id, expires_on, free in rows:
        if expires_on < cutoffs[variant_id]:
            continue
        totals[variant_id] += free
        first.setdefault(variant_id, expires_on)
    return {
        v.id: Availability(totals[v.id], first.get(v.id)) if totals[v.id] else NONE_AVAILABLE
        for v in variants
    }


def receive_lot(
    variant: Variant,
    *,
    lot_number: str,
    made_on: date,
    expires_on: date,
    quantity: int,
    actor: str,
    reason: str = "received",
) -> Lot:
    """Book a new lot in (or more packs into an existing lot with the same dates)."""
    lot_number = lot_number.strip()
    if not lot_number:
        raise ValidationError({"lot_number": "Enter the lot number printed on the box."})
    if quantity <= 0:
        raise ValidationError({"quantity": "Enter a number of packs above zero."})
    if expires_on <= made_on:
        raise ValidationError({"expires_on": "The expiry date must be after the date made."})
    lot = db.session.scalar(
        select(Lot)
        .where(Lot.variant_id == variant.id, Lot.lot_number == lot_number)
        .with_for_update()
    )
    if lot is None:
        lot = Lot(
            variant_id=variant.id,
            lot_number=lot_number,
            made_on=made_on,
            expires_on=expires_on,
            quantity=0,
            reserved=0,
        )
        db.session.add(lot)
    elif (lot.made_on, lot.expires_on) != (made_on, expires_on):
        raise ValidationError(
            {"lot_number": f"Lot {lot_number} is already booked with other dates."}
        )
    lot.quantity += quantity
    db.session.flush()
    db.session.add(
        StockMovement(
            lot_id=lot.id,
            kind=MovementKind.RECEIVED.value,
            quantity=quantity,
            reason=reason,
            actor=actor,
        )
    )
    bump_version()
    db.session.flush()
    return lot
