"""The back office's front page."""

from __future__ import annotations

from flask import render_template
from sqlalchemy import func, select

from shop.admin import bp
from shop.extensions import db
from shop.orders.models import OPEN_STATUSES, Order, OrderStatus


@bp.get("/")
def dashboard() -> str:
    counts = dict(
        db.session.execute(select(Order.status, func.count()).group_by(Order.status)).all()
    )
    attention = db.session.scalars(
        select(Order).where(Order.needs_attention.is_(True)).order_by(Order.id.desc()).limit(20)
    ).all()
    return render_template(
        "admin/dashboard.html",
        to_ship=counts.get(OrderStatus.PAID.value, 0),
        open_orders=sum(counts.get(s.value, 0) for s in OPEN_STATUSES),
        attention=attention,
    )
