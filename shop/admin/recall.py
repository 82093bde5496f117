"""Recall: every order line that received packs of a lot, with the buyer's contact."""

from __future__ import annotations

import re

from flask import Response, abort, render_template, request
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from shop.admin.blueprint import bp, section
from shop.forms import SubForm
from shop.orders.recall import lots_numbered, recall_csv, recall_lines

section("admin.recall", "Recall")


class RecallForm(SubForm):
    lot = StringField(
        "Lot number",
        filters=[lambda value: value.strip() if value else value],
        validators=[DataRequired("Enter a lot number."), Length(max=40)],
    )


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
