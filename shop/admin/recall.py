"""Recall: every order line that received packs of a lot, with the buyer's contact; block
the lot from sale, and tell each buyer once."""

from __future__ import annotations

import re

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from shop.accounts.auth import actor
from shop.admin.blueprint import bp, section
from shop.errors import ValidationError
from shop.extensions import db
from shop.forms import ShopForm, SubForm, strip
from shop.orders.recall import (
    buyers,
    lots_numbered,
    notify_buyers,
    recall_csv,
    recall_lines,
    recall_of,
    start_recall,
)
from shop.wording import count

section("admin.recall", "Recall")


class RecallForm(SubForm):
    lot = StringField(
        "Lot number",
        filters=[lambda value: value.strip() if value else value],
        validators=[DataRequired("Enter a lot number."), Length(max=40)],
    )


class StartRecallForm(ShopForm):
    lot = HiddenField()
    reason = TextAreaField(
        "Why (the buyers read this)",
        filters=[strip],
        validators=[
            DataRequired("Say why the lot is recalled (the buyers read it)."),
            Length(max=1000, message="Keep the reason under 1,000 characters."),
        ],
    )


class NotifyForm(ShopForm):
    lot = HiddenField()


def _lot_number() -> tuple[RecallForm, str]:
    form = RecallForm(request.args)
    if "lot" not in request.args:
        return form, ""
    form.validate()
    return form, "" if form.errors else form.lot.data


@bp.get("/recall")
def recall() -> tuple[str, int]:
    form, lot_number = _lot_number()
    return _page(form, lot_number, StartRecallForm(formdata=None, lot=lot_number))


def _page(form: RecallForm, lot_number: str, start: StartRecallForm) -> tuple[str, int]:
    lots = lots_numbered(lot_number) if lot_number else []
    lines = recall_lines(lot_number) if lots else []
    status = 422 if form.errors or start.errors else 200
    return (
        render_template(
            "admin/recall/recall.html",
            form=form,
            lot_number=lot_number,
            lots=lots,
            lines=lines,
            total_packs=sum(line.packs for line in lines),
            orders=len({line.order_number for line in lines}),
            recall=recall_of(lot_number) if lots else None,
            buyers=buyers(lines),
            start=start,
            notify=NotifyForm(formdata=None, lot=lot_number),
        ),
        status,
    )


@bp.post("/recall/start")
def recall_start() -> ResponseReturnValue:
    """Block the lot from sale now and flag the orders that hold packs of it."""
    start = StartRecallForm()
    lot_number = (start.lot.data or "").strip()[:40]
    if start.validate_on_submit():
        try:
            _, flagged = start_recall(lot_number, reason=start.reason.data, actor=actor())
        except ValidationError as exc:
            db.session.rollback()
            start.reason.errors = list(exc.errors.values())
        else:
            db.session.commit()
            held = (
                f" {count(len(flagged), 'order')} holding its packs "
                f"({', '.join(flagged)}) can no longer ship until staff clear them."
                if flagged
                else ""
            )
            flash(f"Lot {lot_number} is recalled: it is no longer sold.{held}", "success")
            return redirect(url_for("admin.recall", lot=lot_number), code=303)
    form = RecallForm(formdata=None, lot=lot_number)
    return _page(form, lot_number, start)


@bp.post("/recall/notify")
def recall_notify() -> ResponseReturnValue:
    """Queue a notice to every buyer of the recalled lot who has not had one."""
    form = NotifyForm()
    lot_number = (form.lot.data or "").strip()[:40]
    found = recall_of(lot_number) if form.validate_on_submit() else None
    if found is None:
        abort(404)
    queued = notify_buyers(found, actor=actor())
    db.session.commit()
    if queued:
        flash(f"Recall notice queued for {count(queued, 'buyer')}.", "success")
    else:
        flash("Every buyer of this lot has been told already.", "info")
    return redirect(url_for("admin.recall", lot=lot_number), code=303)


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
