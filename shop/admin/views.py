"""The back office's front page: orders to handle, stock running low or out of date, and
charts of paid orders and of stock by expiry. A fixed number of queries, whatever the size
of the catalogue."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from flask import render_template
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import contains_eager

from shop.accounts import services as accounts
from shop.admin.blueprint import bp
from shop.admin.charts import Bar, bar_chart
from shop.admin.stock import WriteOffExpiredForm
from shop.catalog.models import Product, Variant
from shop.extensions import db
from shop.inventory import services as inventory
from shop.inventory.models import Lot
from shop.orders.models import OPEN_STATUSES, Order, OrderStatus
from shop.quotes import services as quotes

EXPIRY_WINDOW_DAYS = 90
LIST_LIMIT = 50
EXPIRING_SHOWN = 20
WEEKS = 12
MAX_EXPIRY_MONTHS = 72


@dataclass(frozen=True)
class LowStock:
    variant: Variant
    available: int


def low_stock(today: date, *, limit: int = LIST_LIMIT) -> tuple[list[LowStock], bool]:
    """Active variants whose sellable packs are below their threshold, fewest first, and
    whether there are more than `limit`.

    SQL narrows the catalogue to the candidates with the same rule as `availability`,
    which then gives the figures shown (the ones the shop page and the API show).
    """
    free = (
        select(Lot.variant_id, func.sum(Lot.quantity - Lot.reserved).label("packs"))
        .join(Variant, Variant.id == Lot.variant_id)
        .where(Lot.quantity > Lot.reserved, inventory.sellable_lot_condition(today))
        .group_by(Lot.variant_id)
        .subquery()
    )
    packs = func.coalesce(free.c.packs, 0)
    candidates = db.session.scalars(
        select(Variant)
        .join(Variant.product)
        .outerjoin(free, free.c.variant_id == Variant.id)
        .where(
            Variant.is_active.is_(True),
            Product.is_active.is_(True),
            packs < Variant.low_stock_threshold,
        )
        .options(contains_eager(Variant.product))
        .order_by(packs, Variant.sku)
        .limit(limit + 1)
    ).all()
    shown = candidates[:limit]
    stock = inventory.availability(shown, today=today)
    rows = [
        LowStock(v, stock[v.id].available)
        for v in shown
        if stock[v.id].available < v.low_stock_threshold
    ]
    return rows, len(candidates) > limit


def expiring_lots(today: date, *, limit: int = EXPIRING_SHOWN) -> tuple[list[Lot], int]:
    """Lots with packs on hand that expire within the window but have not expired yet,
    soonest first, and how many there are in all."""
    window = today + timedelta(days=EXPIRY_WINDOW_DAYS)
    return _lots_on_hand(Lot.expires_on >= today, Lot.expires_on <= window, limit=limit)


def expired_lots(today: date, *, limit: int = EXPIRING_SHOWN) -> tuple[list[Lot], int]:
    """Lots with packs on hand past their expiry (to be written off), oldest first, and how
    many there are in all."""
    return _lots_on_hand(Lot.expires_on < today, limit=limit)


def _lots_on_hand(*conditions: ColumnElement[bool], limit: int) -> tuple[list[Lot], int]:
    where = (Lot.quantity > 0, *conditions)
    lots = db.session.scalars(
        select(Lot)
        .join(Lot.variant)
        .join(Variant.product)
        .where(*where)
        .options(contains_eager(Lot.variant).contains_eager(Variant.product))
        .order_by(Lot.expires_on, Lot.id)
        .limit(limit)
    ).all()
    total = db.session.scalar(select(func.count()).select_from(Lot).where(*where)) or 0
    return list(lots), total


def _as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive UTC datetimes, PostgreSQL aware ones."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def paid_orders_by_week(today: date, *, weeks: int = WEEKS) -> list[Bar]:
    """Orders paid in each of the last `weeks` weeks (Monday to Sunday, UTC), this week last."""
    this_week = today - timedelta(days=today.weekday())
    starts = [this_week - timedelta(weeks=n) for n in range(weeks - 1, -1, -1)]
    since = datetime.combine(starts[0], time.min, tzinfo=UTC)
    paid = db.session.scalars(select(Order.paid_at).where(Order.paid_at >= since))
    days = [_as_utc(moment).date() for moment in paid if moment is not None]
    counts = Counter(day - timedelta(days=day.weekday()) for day in days)
    return [
        Bar(
            label=f"{start.day} {start:%b}",
            value=counts[start],
            name=f"Week of {start.day} {start:%B %Y}",
        )
        for start in starts
    ]


def stock_by_expiry_month(today: date) -> list[Bar]:
    """Packs on hand by the month their lot expires: expired stock first, then each month
    from this one to the last with stock (months past the cap summed in one bar)."""
    rows = db.session.execute(
        select(Lot.expires_on, func.sum(Lot.quantity))
        .where(Lot.quantity > 0)
        .group_by(Lot.expires_on)
    ).all()
    if not rows:
        return []
    expired = sum(int(packs) for expires_on, packs in rows if expires_on < today)
    by_month: Counter[tuple[int, int]] = Counter()
    for expires_on, packs in rows:
        if expires_on >= today:
            by_month[(expires_on.year, expires_on.month)] += int(packs)
    cutoff = inventory.add_months(today, inventory.shop_min_shelf_life_months())
    bars = [Bar("Expired", expired, "Already expired", tone="expired")] if expired else []
    month = date(today.year, today.month, 1)
    last = max(by_month, default=(month.year, month.month))
    for _ in range(MAX_EXPIRY_MONTHS):
        if (month.year, month.month) > last:
            break
        short = month < date(cutoff.year, cutoff.month, 1)
        bars.append(
            Bar(
                label=f"{month:%b %Y}",
                value=by_month[(month.year, month.month)],
                name=f"{month:%B %Y}",
                tone="short" if short else "",
            )
        )
        month = inventory.add_months(month, 1)
    later = sum(n for key, n in by_month.items() if key >= (month.year, month.month))
    if later:
        bars.append(Bar("Later", later, f"From {month:%B %Y} on"))
    return bars


def _describe(bars: list[Bar], *, unit: str, what: str) -> str:
    total = sum(b.value for b in bars)
    if not total:
        return f"No {unit} {what}."
    top = max(bars, key=lambda b: b.value)
    return f"{total} {unit} {what}. Highest: {top.full_name}, {top.value}."


@bp.get("/")
def dashboard() -> str:
    today = date.today()
    counts = dict(
        db.session.execute(select(Order.status, func.count()).group_by(Order.status)).all()
    )
    attention = db.session.scalars(
        select(Order).where(Order.needs_attention.is_(True)).order_by(Order.id.desc()).limit(20)
    ).all()
    low, more_low = low_stock(today)
    expiring, expiring_total = expiring_lots(today)
    expired, expired_total = expired_lots(today)
    weekly = paid_orders_by_week(today)
    expiry = stock_by_expiry_month(today)
    return render_template(
        "admin/dashboard.html",
        to_ship=counts.get(OrderStatus.PAID.value, 0),
        buyers_waiting=accounts.waiting_for_verification(),
        open_orders=sum(counts.get(s.value, 0) for s in OPEN_STATUSES),
        attention=attention,
        quotes_waiting=quotes.waiting_count(),
        low_stock=low,
        more_low_stock=more_low,
        expiring=expiring,
        expiring_total=expiring_total,
        expired=expired,
        expired_total=expired_total,
        write_off_expired=WriteOffExpiredForm(formdata=None),
        open_statuses=[s.value for s in OPEN_STATUSES],
        today=today,
        weekly=weekly,
        weekly_chart=bar_chart(
            weekly,
            chart_id="chart-paid-orders",
            title=f"Paid orders per week, last {WEEKS} weeks",
            description=_describe(weekly, unit="paid orders", what=f"in the last {WEEKS} weeks"),
        ),
        expiry=expiry,
        expiry_chart=bar_chart(
            expiry,
            chart_id="chart-stock-expiry",
            title="Packs on hand by expiry month",
            description=_describe(expiry, unit="packs", what="on hand"),
        ),
        expiry_window_days=EXPIRY_WINDOW_DAYS,
        expiring_by=today + timedelta(days=EXPIRY_WINDOW_DAYS),
        min_shelf_life_months=inventory.shop_min_shelf_life_months(),
    )
