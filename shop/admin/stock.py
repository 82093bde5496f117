"""Stock by lot: the lot list, receiving, adjusting and writing off, and the movement ledger."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import contains_eager
from werkzeug.wrappers import Response
from wtforms import Form, IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from shop.accounts.auth import actor
from shop.admin.blueprint import bp, section
from shop.catalog.models import Product, Variant
from shop.errors import ValidationError as DomainError
from shop.extensions import db
from shop.forms import DateInput, ShopForm, SubForm, show_errors
from shop.input_guard import page_number
from shop.inventory import services as inventory
from shop.inventory.models import Lot, MovementKind, StockMovement
from shop.wording import count, packs

section("admin.stock", "Stock")
section("admin.stock_movements", "Stock movements")

PER_PAGE = 50
MAX_PACKS = 1_000_000


# Forms ---------------------------------------------------------------------------------


class ReceiveForm(ShopForm):
    sku = StringField(
        "SKU", validators=[InputRequired("Enter the SKU on the box."), Length(max=64)]
    )
    lot_number = StringField(
        "Lot number",
        validators=[InputRequired("Enter the lot number printed on the box."), Length(max=40)],
    )
    made_on = DateInput("Made on", validators=[InputRequired("Enter the date the lot was made.")])
    expires_on = DateInput("Expires on", validators=[InputRequired("Enter the lot's expiry date.")])
    quantity = IntegerField(
        "Packs received",
        validators=[
            InputRequired("Enter the number of packs received."),
            NumberRange(1, MAX_PACKS, "Enter a number of packs from 1 to 1,000,000."),
        ],
    )
    reason = StringField(
        "Note (optional)",
        validators=[Optional(), Length(max=200, message="Keep the note under 200 characters.")],
    )

    def validate_made_on(self, field: DateInput) -> None:
        if field.data and field.data > date.today():
            raise ValidationError("The date made cannot be in the future.")

    def validate_expires_on(self, field: DateInput) -> None:
        if field.data and field.data <= date.today():
            raise ValidationError("This lot has expired: expired stock is not booked in.")


class AdjustForm(ShopForm):
    delta = IntegerField(
        "Change in packs",
        validators=[
            InputRequired("Enter the change, for example 5 or -3."),
            NumberRange(-MAX_PACKS, MAX_PACKS, "Enter a change between -1,000,000 and 1,000,000."),
        ],
    )
    reason = StringField(
        "Reason",
        validators=[
            InputRequired("Say why, for the stock ledger."),
            Length(
                max=inventory.REASON_MAX_LENGTH, message="Keep the reason under 300 characters."
            ),
        ],
    )


WRITE_OFF_CAUSES = {"expired": "Expired", "damaged": "Damaged", "other": "Other"}


class WriteOffExpiredForm(ShopForm):
    """Write off every expired pack on hand in one go, with one reason."""

    note = StringField(
        "Details (optional)",
        validators=[Length(max=200, message="Keep the details under 200 characters.")],
    )

    @property
    def reason(self) -> str:
        note = (self.note.data or "").strip()
        return f"Expired: {note}" if note else "Expired"


class WriteOffForm(ShopForm):
    quantity = IntegerField(
        "Packs to write off",
        validators=[
            InputRequired("Enter the number of packs to write off."),
            NumberRange(1, MAX_PACKS, "Enter a number of packs from 1 to 1,000,000."),
        ],
    )
    cause = SelectField(
        "Why",
        choices=[
            SelectChoice("expired", "Expired"),
            SelectChoice("damaged", "Damaged"),
            SelectChoice("other", "Other (say below)"),
        ],
    )
    note = StringField(
        "Details",
        validators=[Length(max=200, message="Keep the details under 200 characters.")],
    )

    def validate_note(self, field: StringField) -> None:
        if self.cause.data == "other" and not (field.data or "").strip():
            raise ValidationError("Say what happened to the packs.")

    @property
    def reason(self) -> str:
        cause = WRITE_OFF_CAUSES.get(self.cause.data or "", "Other")
        note = (self.note.data or "").strip()
        return f"{cause}: {note}" if note else cause


STATE_CHOICES = [
    SelectChoice("", "Any state"),
    SelectChoice(inventory.LotState.SELLABLE, "Sellable online"),
    SelectChoice(inventory.LotState.SHORT_DATED, "Short-dated (not sold online)"),
    SelectChoice(inventory.LotState.EXPIRED, "Expired"),
    SelectChoice(inventory.LotState.RECALLED, "Recalled (blocked from sale)"),
]


class LotFilterForm(SubForm):
    q = StringField("SKU or product", validators=[Optional(), Length(max=100)])
    lot = StringField("Lot number", validators=[Optional(), Length(max=40)])
    expires_from = DateInput("Expires from", validators=[Optional()])
    expires_to = DateInput("Expires by", validators=[Optional()])
    state = SelectField("State", choices=STATE_CHOICES, default="", validators=[Optional()])
    stock = SelectField(
        "Packs on hand",
        choices=[
            SelectChoice("", "Lots with packs on hand"),
            SelectChoice("all", "Also empty lots"),
        ],
        default="",
        validators=[Optional()],
    )


KIND_CHOICES = [
    SelectChoice("", "Any kind"),
    *(SelectChoice(k.value, k.value.replace("-", " ")) for k in MovementKind),
]


class MovementFilterForm(SubForm):
    sku = StringField("SKU", validators=[Optional(), Length(max=64)])
    lot = StringField("Lot number", validators=[Optional(), Length(max=40)])
    kind = SelectField("Kind", choices=KIND_CHOICES, default="", validators=[Optional()])
    since = DateInput("From", validators=[Optional()])
    until = DateInput("To", validators=[Optional()])


def _text(field: StringField) -> str:
    """A filter field's value, stripped; empty when it failed validation."""
    return "" if field.errors else (field.data or "").strip()


def _choice(field: SelectField) -> str:
    return "" if field.errors else (field.data or "")


# Queries -------------------------------------------------------------------------------


def _lots_with_variant() -> Select[Any]:
    return (
        select(Lot)
        .join(Lot.variant)
        .join(Variant.product)
        .options(contains_eager(Lot.variant).contains_eager(Variant.product))
    )


def filtered_lots(form: LotFilterForm, *, today: date) -> Select[Any]:
    """Lots matching the valid filters, soonest expiry first."""
    stmt = _lots_with_variant()
    if q := _text(form.q):
        stmt = stmt.where(
            or_(
                Variant.sku.icontains(q, autoescape=True),
                Product.name.icontains(q, autoescape=True),
            )
        )
    if lot := _text(form.lot):
        stmt = stmt.where(Lot.lot_number.icontains(lot, autoescape=True))
    if form.expires_from.data and not form.expires_from.errors:
        stmt = stmt.where(Lot.expires_on >= form.expires_from.data)
    if form.expires_to.data and not form.expires_to.errors:
        stmt = stmt.where(Lot.expires_on <= form.expires_to.data)
    state = _choice(form.state)
    if state == inventory.LotState.EXPIRED:
        stmt = stmt.where(Lot.expires_on < today)
    elif state == inventory.LotState.SELLABLE:
        stmt = stmt.where(inventory.sellable_lot_condition(today))
    elif state == inventory.LotState.SHORT_DATED:
        stmt = stmt.where(
            Lot.expires_on >= today,
            Lot.recalled_at.is_(None),
            ~inventory.sellable_lot_condition(today),
        )
    elif state == inventory.LotState.RECALLED:
        stmt = stmt.where(Lot.recalled_at.is_not(None))
    if _choice(form.stock) != "all":
        stmt = stmt.where(Lot.quantity > 0)
    return stmt.order_by(Lot.expires_on, Variant.sku, Lot.id)


def filtered_movements(form: MovementFilterForm) -> Select[Any]:
    """Movements matching the valid filters, newest first."""
    stmt = (
        select(StockMovement)
        .join(StockMovement.lot)
        .join(Lot.variant)
        .options(contains_eager(StockMovement.lot).contains_eager(Lot.variant))
    )
    if sku := _text(form.sku):
        stmt = stmt.where(func.lower(Variant.sku) == sku.lower())
    if lot := _text(form.lot):
        stmt = stmt.where(func.lower(Lot.lot_number) == lot.lower())
    if kind := _choice(form.kind):
        stmt = stmt.where(StockMovement.kind == kind)
    if form.since.data and not form.since.errors:
        stmt = stmt.where(StockMovement.created_at >= _start_of(form.since.data))
    if form.until.data and not form.until.errors:
        stmt = stmt.where(StockMovement.created_at < _start_of(form.until.data + timedelta(days=1)))
    return stmt.order_by(StockMovement.created_at.desc(), StockMovement.id.desc())


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def variant_by_sku(sku: str) -> Variant | None:
    """The variant with this SKU, matched exactly or else case-insensitively."""
    sku = sku.strip()
    found = db.session.scalar(select(Variant).where(Variant.sku == sku))
    if found is not None:
        return found
    matches = db.session.scalars(
        select(Variant).where(func.upper(Variant.sku) == sku.upper()).limit(2)
    ).all()
    return matches[0] if len(matches) == 1 else None


def lot_or_404(lot_id: int) -> Lot:
    lot: Lot | None = db.session.scalar(_lots_with_variant().where(Lot.id == lot_id))
    if lot is None:
        abort(404)
    return lot


@dataclass(frozen=True)
class LotRow:
    lot: Lot
    state: inventory.LotState


def _paginate(stmt: Select[Any]) -> Pagination:
    return db.paginate(
        stmt, page=page_number(), per_page=PER_PAGE, max_per_page=PER_PAGE, error_out=False
    )


def _filter_args() -> dict[str, str]:
    """The query string without the page: what pager links carry on."""
    return {k: v for k, v in request.args.items() if k != "page" and v}


def _status(form: Form) -> int:
    return 422 if form.errors or form.form_errors else 200


# Views ---------------------------------------------------------------------------------


@bp.get("/stock")
def stock() -> tuple[str, int]:
    form = LotFilterForm(request.args)
    form.validate()
    today = date.today()
    months = inventory.shop_min_shelf_life_months()
    page = _paginate(filtered_lots(form, today=today))
    rows = [LotRow(lot, inventory.lot_state(lot, today, months=months)) for lot in page.items]
    return (
        render_template(
            "admin/stock/list.html",
            form=form,
            page=page,
            rows=rows,
            args=_filter_args(),
            min_shelf_life_months=months,
        ),
        _status(form),
    )


@bp.route("/stock/receive", methods=["GET", "POST"])
def stock_receive() -> Response | tuple[str, int]:
    form = ReceiveForm(sku=request.args.get("sku", "")[:64])
    if form.validate_on_submit():
        variant = variant_by_sku(form.sku.data)
        try:
            if variant is None:
                raise DomainError({"sku": f"No variant has the SKU {form.sku.data.strip()}."})
            inventory.lock_stock()
            lot = inventory.receive_lot(
                variant,
                lot_number=form.lot_number.data,
                made_on=form.made_on.data,
                expires_on=form.expires_on.data,
                quantity=form.quantity.data,
                actor=actor(),
                reason=(form.reason.data or "").strip() or "received",
            )
        except DomainError as exc:
            db.session.rollback()
            show_errors(form, exc.errors)
        else:
            db.session.commit()
            flash(
                f"Received {packs(form.quantity.data)} of {variant.sku}, lot {lot.lot_number}.",
                "success",
            )
            return redirect(url_for("admin.stock_lot", lot_id=lot.id), code=303)
    status = 422 if request.method == "POST" else 200
    return render_template("admin/stock/receive.html", form=form), status


LOT_MOVEMENTS_SHOWN = 20


def _render_lot(
    lot: Lot, *, adjust_form: AdjustForm, write_off_form: WriteOffForm, status: int = 200
) -> tuple[str, int]:
    today = date.today()
    months = inventory.shop_min_shelf_life_months()
    movements = db.session.scalars(
        select(StockMovement)
        .where(StockMovement.lot_id == lot.id)
        .order_by(StockMovement.created_at.desc(), StockMovement.id.desc())
        .limit(LOT_MOVEMENTS_SHOWN + 1)
    ).all()
    return (
        render_template(
            "admin/stock/lot.html",
            row=LotRow(lot, inventory.lot_state(lot, today, months=months)),
            adjust_form=adjust_form,
            write_off_form=write_off_form,
            movements=movements[:LOT_MOVEMENTS_SHOWN],
            more_movements=len(movements) > LOT_MOVEMENTS_SHOWN,
        ),
        status,
    )


def _fresh_write_off_form(lot: Lot) -> WriteOffForm:
    expired = lot.expires_on < date.today()
    return WriteOffForm(
        formdata=None,
        quantity=lot.free if expired and lot.free else None,
        cause="expired" if expired else "damaged",
    )


@bp.get("/stock/lots/<int:lot_id>")
def stock_lot(lot_id: int) -> tuple[str, int]:
    lot = lot_or_404(lot_id)
    return _render_lot(
        lot, adjust_form=AdjustForm(formdata=None), write_off_form=_fresh_write_off_form(lot)
    )


@bp.post("/stock/lots/<int:lot_id>/adjust")
def stock_adjust(lot_id: int) -> Response | tuple[str, int]:
    lot = lot_or_404(lot_id)
    form = AdjustForm()
    if form.validate_on_submit():
        try:
            inventory.adjust(lot, form.delta.data, actor=actor(), reason=form.reason.data)
        except DomainError as exc:
            db.session.rollback()
            show_errors(form, exc.errors)
        else:
            db.session.commit()
            flash(f"Lot {lot.lot_number} now has {lot.quantity} packs on hand.", "success")
            return redirect(url_for("admin.stock_lot", lot_id=lot.id), code=303)
    lot = lot_or_404(lot_id)
    return _render_lot(lot, adjust_form=form, write_off_form=_fresh_write_off_form(lot), status=422)


@bp.post("/stock/lots/<int:lot_id>/write-off")
def stock_write_off(lot_id: int) -> Response | tuple[str, int]:
    lot = lot_or_404(lot_id)
    form = WriteOffForm()
    if form.validate_on_submit():
        try:
            inventory.write_off(lot, form.quantity.data, actor=actor(), reason=form.reason)
        except DomainError as exc:
            db.session.rollback()
            show_errors(form, exc.errors, aliases={"reason": "note"})
        else:
            db.session.commit()
            flash(
                f"Wrote off {packs(form.quantity.data)} "
                f"of lot {lot.lot_number}; {lot.quantity} left on hand.",
                "success",
            )
            return redirect(url_for("admin.stock_lot", lot_id=lot.id), code=303)
    lot = lot_or_404(lot_id)
    return _render_lot(lot, adjust_form=AdjustForm(formdata=None), write_off_form=form, status=422)


@bp.post("/stock/write-off-expired")
def stock_write_off_expired() -> Response:
    """Write off all expired packs that are not reserved (from the dashboard)."""
    form = WriteOffExpiredForm()
    if not form.validate_on_submit():
        flash(" ".join(e for errors in form.errors.values() for e in errors), "error")
        return redirect(url_for("admin.dashboard"), code=303)
    done = inventory.write_off_expired(date.today(), actor=actor(), reason=form.reason)
    db.session.commit()
    total = sum(n for _, n in done)
    if done:
        flash(f"Wrote off {packs(total)} from {count(len(done), 'expired lot')}.", "success")
    else:
        flash("No expired packs to write off.", "info")
    return redirect(url_for("admin.dashboard"), code=303)


@bp.get("/stock/movements")
def stock_movements() -> tuple[str, int]:
    form = MovementFilterForm(request.args)
    form.validate()
    page = _paginate(filtered_movements(form))
    return (
        render_template("admin/stock/movements.html", form=form, page=page, args=_filter_args()),
        _status(form),
    )
