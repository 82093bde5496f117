"""What can be sold now, and every change to stock. Lot rows change only here."""

from __future__ import annotations

import calendar
import enum
import functools
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

from flask import current_app
from sqlalchemy import ColumnElement, and_, bindparam, false, func, or_, select, update
from sqlalchemy.sql import Executable

from shop.catalog.models import Variant
from shop.catalog.versions import stock_changed
from shop.errors import ShopError, ValidationError
from shop.extensions import db
from shop.inventory.models import Lot, MovementKind, StockMovement
from shop.wording import packs


def add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def shop_min_shelf_life_months() -> int:
    return int(current_app.config["SHOP_SETTINGS"].min_shelf_life_months)


class Sellable(Protocol):
    """A variant as its stock is counted (a Variant, or the catalogue index's VariantRef)."""

    @property
    def id(self) -> int: ...

    @property
    def min_shelf_life_days(self) -> int | None: ...


def sellable_from(variant: Sellable, today: date, *, default_months: int) -> date:
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


@functools.cache
def _free_lots() -> Executable:
    """Lots with packs for sale of some variants expiring no sooner than a date: one
    statement made once (every cached page runs it, to key itself by its stock)."""
    return (
        select(Lot.variant_id, Lot.expires_on, Lot.quantity - Lot.reserved)
        .where(
            Lot.variant_id.in_(bindparam("variant_ids", expanding=True)),
            Lot.expires_on >= bindparam("earliest"),
            Lot.quantity > Lot.reserved,
            Lot.recalled_at.is_(None),
        )
        .order_by(Lot.variant_id, Lot.expires_on)
    )


def availability(
    variants: Iterable[Sellable], *, today: date | None = None
) -> dict[int, Availability]:
    """Availability by variant id, in one query whatever the number of variants.

    Counts only lots that expire no sooner than the minimum remaining shelf life (the
    shop's setting or the variant's override), less what is reserved; expired and recalled
    lots never count.
    """
    variants = list(variants)
    if not variants:
        return {}
    today = today or date.today()
    months = shop_min_shelf_life_months()
    cutoffs = {v.id: sellable_from(v, today, default_months=months) for v in variants}
    earliest = min(cutoffs.values())
    rows = (
        db.session.connection()
        .execute(_free_lots(), {"variant_ids": list(cutoffs), "earliest": earliest})
        .all()
    )
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


def reserved_packs(variant_ids: Iterable[int]) -> dict[int, int]:
    """Packs held for open orders (card checkouts and bank transfers awaiting payment), by
    variant id, in one query; 0 for a variant with nothing reserved."""
    ids = sorted(set(variant_ids))
    if not ids:
        return {}
    rows = db.session.execute(
        select(Lot.variant_id, func.sum(Lot.reserved))
        .where(Lot.variant_id.in_(ids), Lot.reserved > 0)
        .group_by(Lot.variant_id)
    ).all()
    held = {variant_id: int(total) for variant_id, total in rows}
    return {variant_id: held.get(variant_id, 0) for variant_id in ids}


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
    db.session.flush()
    _move(lot, MovementKind.RECEIVED, quantity, actor=actor, reason=reason)
    _stock_changed()
    return lot


class InsufficientStock(ShopError):
    """Fewer packs can be had than asked for; `shortages` maps SKU to packs available."""

    def __init__(self, shortages: dict[str, int]):
        super().__init__(
            "; ".join(f"only {packs(n)} of {sku} left" for sku, n in shortages.items())
        )
        self.shortages = shortages


@dataclass(frozen=True)
class Pick:
    """Packs taken from one lot for one request."""

    lot_id: int
    lot_number: str
    expires_on: date
    quantity: int


# Any constant of our own: the key of PostgreSQL's advisory lock that stock changes take.
STOCK_LOCK_KEY = 0x5700C4


def lock_stock() -> None:
    """Serialise stock changes: every one takes this lock first, before it reads a lot.

    On PostgreSQL it is a transaction-scoped advisory lock (every app process and worker
    takes the same key, so they queue and never deadlock); on SQLite it is the database's
    write lock, taken by a write that changes no row. Held until commit or rollback. It
    changes nothing a visitor sees, so no cached page is invalidated by taking it.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(select(func.pg_advisory_xact_lock(STOCK_LOCK_KEY)))
    else:
        db.session.execute(
            update(Lot).where(false()).values(quantity=Lot.quantity),
            execution_options={"synchronize_session": False},
        )


def reserve(
    requests: Sequence[tuple[Variant, int]], *, today: date | None = None
) -> list[list[Pick]]:
    """Reserve packs first-expiry-first-out from sellable lots; all or nothing.

    Returns the picks of each request, in the order of `requests` (a variant may be asked
    for more than once: every request gets its own packs). Every request is checked before
    any lot changes: when a variant is short, InsufficientStock names every short variant
    with what it could have had, and nothing has changed. Call `lock_stock()` first.
    """
    today = today or date.today()
    months = shop_min_shelf_life_months()
    lots = _locked_lots_of(sorted({v.id for v, _ in requests}))
    free = {lot.id: lot.free for lot in lots}
    by_variant: dict[int, list[Lot]] = defaultdict(list)
    for lot in lots:
        by_variant[lot.variant_id].append(lot)
    variants = {v.id: v for v, _ in requests}
    sellable = {
        variant_id: sorted(
            (
                lot
                for lot in by_variant[variant_id]
                if lot.recalled_at is None
                and lot.expires_on >= sellable_from(variant, today, default_months=months)
            ),
            key=lambda lot: (lot.expires_on, lot.id),
        )
        for variant_id, variant in variants.items()
    }
    wanted: dict[int, int] = defaultdict(int)
    for variant, quantity in requests:
        wanted[variant.id] += quantity
    shortages = {
        variants[variant_id].sku: have
        for variant_id, quantity in wanted.items()
        if (have := sum(free[lot.id] for lot in sellable[variant_id])) < quantity
    }
    if shortages:
        raise InsufficientStock(shortages)
    picks: list[list[Pick]] = []
    for variant, quantity in requests:
        remaining, taken = quantity, []
        for lot in sellable[variant.id]:
            if remaining == 0:
                break
            n = min(free[lot.id], remaining)
            if n:
                free[lot.id] -= n
                remaining -= n
                taken.append(Pick(lot.id, lot.lot_number, lot.expires_on, n))
        picks.append(taken)
    by_id = {lot.id: lot for lot in lots}
    for pick in (p for taken in picks for p in taken):
        by_id[pick.lot_id].reserved += pick.quantity
    _stock_changed(any(picks))
    return picks


def release(held: Sequence[tuple[int, int]]) -> None:
    """Give reserved packs back: (lot id, packs) pairs. Call `lock_stock()` first."""
    for lot, n in _locked_with_totals(held):
        lot.reserved -= n
    _stock_changed(bool(held))


def sell(held: Sequence[tuple[int, int]], *, actor: str, reason: str) -> None:
    """Turn reserved packs into sold ones: they leave the lot, with a movement each.

    What can be sold does not change (the packs were reserved already), so no cached
    page is invalidated. Call `lock_stock()` first.
    """
    for lot, n in _locked_with_totals(held):
        lot.reserved -= n
        _move(lot, MovementKind.SOLD, -n, actor=actor, reason=reason)
    db.session.flush()


def _locked_with_totals(pairs: Sequence[tuple[int, int]]) -> list[tuple[Lot, int]]:
    """The lots of these (lot id, packs) pairs, locked in id order, with their packs summed."""
    totals: dict[int, int] = defaultdict(int)
    for lot_id, n in pairs:
        totals[lot_id] += n
    return [(lot, totals[lot.id]) for lot in _locked_lots(list(totals)) if totals[lot.id]]


def _move(lot: Lot, kind: MovementKind, quantity: int, *, actor: str, reason: str) -> None:
    """Change a lot's packs on hand and write the ledger row that says so: the only place
    a lot's quantity changes."""
    lot.quantity += quantity
    db.session.add(
        StockMovement(
            lot_id=lot.id, kind=kind.value, quantity=quantity, reason=reason, actor=actor[:254]
        )
    )


def _stock_changed(changed: bool = True) -> None:
    """Flush, and when what can be sold changed, move the stock version (every process
    counts the stock of the pages it serves afresh; no cached page is thrown away)."""
    if changed:
        stock_changed()
    db.session.flush()


def stock_digest(stock: Mapping[int, Availability]) -> str:
    """A short digest of what these variants show of their stock (packs for sale and the
    first expiry): a cached page that shows it is valid while the digest is the same, so a
    sale changes the pages of its own variants only."""
    text = ";".join(f"{v}:{a.available}:{a.next_expiry}" for v, a in sorted(stock.items()))
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def _locked_lots_of(variant_ids: list[int]) -> list[Lot]:
    if not variant_ids:
        return []
    return list(
        db.session.scalars(
            select(Lot)
            .where(Lot.variant_id.in_(variant_ids), Lot.quantity > Lot.reserved)
            .order_by(Lot.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )


def _locked_lots(lot_ids: list[int]) -> list[Lot]:
    if not lot_ids:
        return []
    return list(
        db.session.scalars(
            select(Lot)
            .where(Lot.id.in_(sorted(set(lot_ids))))
            .order_by(Lot.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )


REASON_MAX_LENGTH = 300


def _reason_required(reason: str) -> str:
    reason = " ".join(reason.split())
    if not reason:
        raise ValidationError({"reason": "Say why, for the stock ledger."})
    if len(reason) > REASON_MAX_LENGTH:
        raise ValidationError({"reason": f"Keep the reason under {REASON_MAX_LENGTH} characters."})
    return reason


def adjust(lot: Lot, delta: int, *, actor: str, reason: str) -> Lot:
    """Add (delta > 0) or remove (delta < 0) packs on hand, e.g. after a recount.

    Never takes the lot below what is reserved for orders: that raises ValidationError
    saying how many are reserved, and nothing changes.
    """
    reason = _reason_required(reason)
    if delta == 0:
        raise ValidationError({"delta": "Enter a change other than zero."})
    lock_stock()
    (lot,) = _locked_lots([lot.id])
    if lot.quantity + delta < lot.reserved:
        raise ValidationError(
            {
                "delta": (
                    f"Lot {lot.lot_number} has {packs(lot.quantity)} on hand, of which "
                    f"{packs(lot.reserved)} reserved for orders: remove at most "
                    f"{packs(lot.free)}."
                )
            }
        )
    _move(lot, MovementKind.ADJUSTED, delta, actor=actor, reason=reason)
    _stock_changed()
    return lot


def write_off(lot: Lot, quantity: int, *, actor: str, reason: str) -> Lot:
    """Take expired or damaged packs out of stock for good.

    Only packs not reserved for orders can be written off: asking for more raises
    ValidationError saying how many are reserved, and nothing changes.
    """
    reason = _reason_required(reason)
    if quantity <= 0:
        raise ValidationError({"quantity": "Enter a number of packs above zero."})
    lock_stock()
    (lot,) = _locked_lots([lot.id])
    if quantity > lot.free:
        raise ValidationError(
            {
                "quantity": (
                    f"Lot {lot.lot_number} has {packs(lot.quantity)} on hand, of which "
                    f"{packs(lot.reserved)} reserved for orders: write off at most "
                    f"{packs(lot.free)}."
                )
            }
        )
    _move(lot, MovementKind.WRITTEN_OFF, -quantity, actor=actor, reason=reason)
    _stock_changed()
    return lot


def block_lots(lot_number: str, *, moment: datetime) -> list[Lot]:
    """Stop every lot with this number from being reserved or sold online, at once: taken
    under the stock lock, so a checkout either reserved before it or finds the lot blocked.
    The lots it blocked now (those already blocked are left as they were)."""
    lock_stock()
    ids = db.session.scalars(
        select(Lot.id).where(Lot.lot_number == lot_number, Lot.recalled_at.is_(None))
    ).all()
    lots = _locked_lots(list(ids))
    for lot in lots:
        lot.recalled_at = moment
    _stock_changed(bool(lots))
    return lots


def write_off_expired(today: date, *, actor: str, reason: str) -> list[tuple[Lot, int]]:
    """Write off every pack of every expired lot that is not reserved, with one reason: the
    (lot, packs) written off. Packs reserved for an order stay for staff to resolve."""
    reason = _reason_required(reason)
    lock_stock()
    expired = db.session.scalars(
        select(Lot.id).where(Lot.expires_on < today, Lot.quantity > Lot.reserved)
    ).all()
    done = []
    for lot in _locked_lots(list(expired)):
        if lot.expires_on < today and lot.free > 0:
            done.append((lot, lot.free))
            _move(lot, MovementKind.WRITTEN_OFF, -lot.free, actor=actor, reason=reason)
    _stock_changed(bool(done))
    return done


def sellable_lot_condition(today: date) -> ColumnElement[bool]:
    """SQL for "this lot may be sold online today", the rule `availability` applies.

    For statements that select lots joined to their variant: the lot expires no sooner
    than the variant's minimum remaining shelf life (its override, else the shop's).
    Never NULL, so its negation means "not sellable". Reads the distinct overrides in one
    query.
    """
    months = shop_min_shelf_life_months()
    overrides = db.session.scalars(
        select(Variant.min_shelf_life_days)
        .where(Variant.min_shelf_life_days.is_not(None))
        .distinct()
    ).all()
    return and_(Lot.recalled_at.is_(None), _shelf_life_condition(today, months, overrides))


def _shelf_life_condition(
    today: date, months: int, overrides: Sequence[int | None]
) -> ColumnElement[bool]:
    return or_(
        and_(Variant.min_shelf_life_days.is_(None), Lot.expires_on >= add_months(today, months)),
        *(
            and_(
                Variant.min_shelf_life_days.is_not(None),
                Variant.min_shelf_life_days == days,
                Lot.expires_on >= today + timedelta(days=days),
            )
            for days in overrides
            if days is not None
        ),
    )


def return_sold_packs(returns: list[tuple[int, int]], *, actor: str, reason: str) -> None:
    """Put sold packs back into the lots they came from: (lot id, packs) pairs.

    Each lot gets one append-only 'returned' movement. Call `lock_stock()` first.
    """
    back = _locked_with_totals([(lot_id, n) for lot_id, n in returns if n > 0])
    for lot, n in back:
        _move(lot, MovementKind.RETURNED, n, actor=actor, reason=reason)
    _stock_changed(bool(back))


def returned_packs(reason: str, lot_ids: Iterable[int]) -> dict[int, int]:
    """Packs put back into each of these lots by 'returned' movements with this reason."""
    ids = sorted(set(lot_ids))
    if not ids:
        return {}
    totals: dict[int, int] = defaultdict(int)
    for lot_id, quantity in db.session.execute(
        select(StockMovement.lot_id, StockMovement.quantity).where(
            StockMovement.kind == MovementKind.RETURNED.value,
            StockMovement.reason == reason,
            StockMovement.lot_id.in_(ids),
        )
    ):
        totals[lot_id] += quantity
    return dict(totals)


class LotState(enum.StrEnum):
    SELLABLE = "sellable"
    SHORT_DATED = "short-dated"
    EXPIRED = "expired"
    RECALLED = "recalled"

    @property
    def label(self) -> str:
        return {
            "sellable": "Sellable",
            "short-dated": "Short-dated",
            "expired": "Expired",
            "recalled": "Recalled",
        }[self]


def lot_state(lot: Lot, today: date, *, months: int) -> LotState:
    """Sellable online, short-dated (kept but not sold online), expired, or recalled."""
    if lot.recalled_at is not None:
        return LotState.RECALLED
    if lot.expires_on < today:
        return LotState.EXPIRED
    if lot.expires_on < sellable_from(lot.variant, today, default_months=months):
        return LotState.SHORT_DATED
    return LotState.SELLABLE
