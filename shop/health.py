"""`/healthz` for operators and load balancers: each dependency's state, 503 when the
database (the one the shop cannot work without) does not answer."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from shop import shared_cache
from shop.extensions import db

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    settings = current_app.config["SHOP_SETTINGS"]
    report: dict[str, str] = {"status": "ok", "db": "ok"}
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        log.error("health check: database unavailable: %s", exc)
        db.session.rollback()
        report.update(status="down", db="unavailable")
    if settings.redis_url:
        report["redis"] = "ok" if shared_cache.available() else "unavailable"
        if report["redis"] != "ok" and report["status"] == "ok":
            report["status"] = "degraded"  # pages and limits go on, per process
    else:
        report["redis"] = "not configured"
    report["stripe"] = "configured" if settings.card_payments else "not configured"
    report["mail"] = "smtp" if settings.mail_server else "log"
    response = jsonify(report)
    response.headers["Cache-Control"] = "no-store"
    return response, 503 if report["db"] != "ok" else 200
