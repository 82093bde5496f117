"""`/admin/orders`: find orders, read one, and ship, cancel, refund or mark it paid.

Views parse the form, call a service (shop.orders.services, shop.payments.services),
commit and redirect; every action lands in the order's history with the staff's email.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, time, timedelta

from flask import abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response
from wtforms import (
    BooleanField,
    Field,
    HiddenField,
    IntegerField,
    SearchField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp

from shop.accounts.auth import actor
from shop.admin.blueprint import bp, section
from shop.errors import ValidationError
from shop.extensions import db
from shop.forms import DateInput, MoneyField, ShopForm, strip
from shop.input_guard import page_number
from shop.money import format_money
from shop.orders import services as orders
from shop.orders.models import (
    OPEN_STATUSES,
    Allocation,
    AllocationState,
    Order,
    OrderLine,
    OrderStatus,
    PaymentMethod,
)
from shop.orders.packing_slip import packing_slip_for, render_packing_slip
from shop.payments import services as payments
from shop.payments import stripe_client

section("admin.orders", "Orders")

PER_PAGE = 50
STRIPE_DOWN = (
    "Stripe could not be reached, so nothing was refunded, restocked or cancelled yet. "
    "The refund is held and sent again automatically within minutes; sending this form "
    "again is safe too, it never refunds twice."
)
STRIPE_DOWN_CLOSING = (
    "Stripe could not be reached, so the card payment page could not be closed and "
    "nothing was cancelled. Try again in a minute."
)


# ---- Forms ------------------------------------------------------------------------------


def _nonce() -> str:
    return secrets.token_urlsafe(16)


NONCE_RULES = [InputRequired(), Regexp(r"^[A-Za-z0-9_-]{16,64}$")]


# The status filter's value for every order still waiting for its money.
AWAITING_PAYMENT = "awaiting-payment"


class OrderFilterForm(ShopForm):
    class Meta:
        csrf = False

    q = SearchField("Number or email", validators=[Optional(), Length(max=254)])
    status = SelectField(
        "Status",
        choices=[
            SelectChoice("", "Any status"),
            SelectChoice(AWAITING_PAYMENT, "Awaiting payment (any way)"),
            *(SelectChoice(s.value, s.label) for s in OrderStatus),
        ],
        validators=[Optional()],
    )
    method = SelectField(
        "Payment",
        choices=[
            SelectChoice("", "Any payment"),
            SelectChoice(PaymentMethod.CARD.value, "Card"),
            SelectChoice(PaymentMethod.BANK_TRANSFER.value, "Bank transfer"),
        ],
        validators=[Optional()],
    )
    attention = BooleanField("Needs attention only")
    created_from = DateInput("Created from", validators=[Optional()])
    created_to = DateInput("Created until", validators=[Optional()])


class ShipForm(ShopForm):
    carrier = StringField(
        "Carrier",
        filters=[strip],
        validators=[DataRequired("Enter the carrier."), Length(max=80)],
    )
    tracking_number = StringField(
        "Tracking number",
        filters=[strip],
        validators=[DataRequired("Enter the tracking number."), Length(max=120)],
    )


class MarkPaidForm(ShopForm):
    amount_received = MoneyField(
        "Amount received",
        validators=[InputRequired("Enter the amount received.")],
        render_kw={"inputmode": "decimal", "autocomplete": "off"},
    )


class ShortfallForm(ShopForm):
    shortfall_reason = TextAreaField(
        "Why accept the shortfall",
        filters=[strip],
        validators=[DataRequired("Say why the shortfall is accepted."), Length(max=300)],
    )


class AttentionForm(ShopForm):
    attention_note = TextAreaField(
        "What was done about it",
        filters=[strip],
        validators=[DataRequired("Say what was done about it."), Length(max=500)],
    )


class CancelForm(ShopForm):
    cancel_reason = StringField("Reason", validators=[Optional(), Length(max=300)])
    restock_all = BooleanField("Put every sold pack back into stock", default=True)
    nonce = HiddenField(default=_nonce, validators=NONCE_RULES)


class RefundForm(ShopForm):
    """Amount and reason; one `restock_<allocation id>` field per lot sold is added per order."""

    refund_amount = MoneyField(
        "Amount to refund",
        validators=[Optional()],
        render_kw={"inputmode": "decimal", "autocomplete": "off"},
    )
    refund_reason = StringField("Reason", validators=[Optional(), Length(max=300)])
    nonce = HiddenField(default=_nonce, validators=NONCE_RULES)

    def restock(self) -> dict[int, int]:
        """Packs to put back, by allocation id (lots with a number above zero)."""
        return {
            int(field.name.removeprefix("restock_")): field.data
            for field in self
            if field.name.startswith("restock_") and field.data
        }


def refund_form(
    sold: list[Allocation], left: dict[int, int], *, submitted: bool = False
) -> RefundForm:
    """The refund form of an order: a number of packs to restock for every lot it sold.

    Reads the request's form only when `submitted`, so another action's POST leaves it empty.
    """

    class OrderRefundForm(RefundForm):
        pass

    for allocation in sold:
        most = left.get(allocation.id, 0)
        setattr(
            OrderRefundForm,
            f"restock_{allocation.id}",
            IntegerField(
                f"Packs of {allocation.line.sku} lot {allocation.lot_number} back into stock",
                validators=[
                    Optional(),
                    NumberRange(0, most, f"Enter a number from 0 to {most}."),
                ],
                default=0,
                # The page works out the amount from these as they are typed (refund.js).
                render_kw={
                    "min": 0,
                    "max": most,
                    "data-unit-amount": allocation.line.unit_amount,
                    "data-line": allocation.line.id,
                    "data-line-tax": allocation.line.tax_amount,
                    "data-line-quantity": allocation.line.quantity,
                },
            ),
        )
    return OrderRefundForm() if submitted else OrderRefundForm(formdata=None)


def _sold(order: Order) -> list[Allocation]:
    return [
        a for line in order.lines for a in line.allocations if a.state == AllocationState.SOLD.value
    ]


# ---- Queries ----------------------------------------------------------------------------


def _filtered(form: OrderFilterForm) -> Select[Order]:
    query = select(Order)
    if form.q.data and not form.q.errors:
        text = form.q.data.strip().lower()
        query = query.where(
            or_(
                Order.number.contains(text, autoescape=True),
                func.lower(Order.email).contains(text, autoescape=True),
            )
        )
    if form.status.data == AWAITING_PAYMENT and not form.status.errors:
        query = query.where(Order.status.in_([s.value for s in OPEN_STATUSES]))
    elif form.status.data and not form.status.errors:
        query = query.where(Order.status == form.status.data)
    if form.method.data and not form.method.errors:
        query = query.where(Order.payment_method == form.method.data)
    if form.attention.data:
        query = query.where(Order.needs_attention.is_(True))
    if form.created_from.data and not form.created_from.errors:
        since = datetime.combine(form.created_from.data, time(), tzinfo=UTC)
        query = query.where(Order.created_at >= since)
    if form.created_to.data and not form.created_to.errors:
        until = datetime.combine(form.created_to.data + timedelta(days=1), time(), tzinfo=UTC)
        query = query.where(Order.created_at < until)
    return query.order_by(Order.id.desc())


def _order_or_404(number: str) -> Order:
    order = db.session.scalar(
        select(Order)
        .where(Order.number == number[:20])
        .options(
            selectinload(Order.lines).selectinload(OrderLine.allocations),
            selectinload(Order.history),
        )
    )
    if order is None:
        abort(404)
    return order


# ---- Views ------------------------------------------------------------------------------


@bp.get("/orders", endpoint="orders")
def order_list() -> str:
    form = OrderFilterForm(request.args)
    form.validate()
    for day in (form.created_from, form.created_to):
        if day.errors:  # shown with its message, not echoed into a date input
            day.raw_data, day.data = [], None
    found = db.paginate(_filtered(form), page=page_number(), per_page=PER_PAGE, error_out=False)
    filters = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template("admin/orders/list.html", form=form, page=found, filters=filters)


def _page(order: Order, status: int = 200, **forms: FlaskForm) -> tuple[str, int]:
    """The order page with its action forms; `forms` replaces some with submitted ones."""
    sold = _sold(order)
    left = orders.restockable(order)
    refund = forms.pop("refund", None) or refund_form(sold, left)
    context = {
        "ship": ShipForm(formdata=None),
        "mark_paid": MarkPaidForm(formdata=None, amount_received=order.total),
        "attention": AttentionForm(formdata=None),
        "shortfall": ShortfallForm(formdata=None),
        "cancel": CancelForm(formdata=None),
        **forms,
    }
    return (
        render_template(
            "admin/orders/order.html",
            order=order,
            refund=refund,
            sold=sold,
            restockable=left,
            remaining=order.refundable,
            stripe_ready=stripe_client.configured(),
            **context,
        ),
        status,
    )


def _back(order: Order) -> Response:
    return redirect(url_for("admin.order", number=order.number), code=303)


def _refused(order: Order, exc: Exception) -> Response:
    db.session.rollback()
    flash(str(exc), "error")
    return _back(order)


def _show_errors(form: FlaskForm, errors: dict[str, str], names: dict[str, str]) -> None:
    """Put a service's errors on the form's fields (`names` maps service keys to fields)."""
    for key, message in errors.items():
        name = names.get(key, key)
        if name in form:
            field: Field = form[name]
            field.errors = [*field.errors, message]
        else:
            flash(message, "error")


@bp.get("/orders/<number>", endpoint="order")
def order_detail(number: str) -> tuple[str, int]:
    return _page(_order_or_404(number))


@bp.get("/orders/<number>/packing-slip.pdf")
def order_packing_slip(number: str) -> Response:
    """What goes in the box, lot by lot, with each lot's GS1 DataMatrix (GTIN, expiry, lot)."""
    order = _order_or_404(number)
    response = Response(render_packing_slip(packing_slip_for(order)), mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="packing-slip-{order.number}.pdf"'
    return response  # never stored: the back office's pages all say no-store


@bp.post("/orders/<number>/ship")
def order_ship(number: str) -> Response | tuple[str, int]:
    order = _order_or_404(number)
    form = ShipForm()
    if not form.validate_on_submit():
        return _page(order, 422, ship=form)
    try:
        orders.ship(
            order,
            carrier=form.carrier.data,
            tracking_number=form.tracking_number.data,
            actor=actor(),
        )
    except ValidationError as exc:
        db.session.rollback()
        _show_errors(form, exc.errors, {})
        return _page(_order_or_404(number), 422, ship=form)
    except orders.ActionRefused as exc:
        return _refused(order, exc)
    db.session.commit()
    flash(f"Order {order.number} is shipped; the buyer is emailed the tracking number.", "success")
    return _back(order)


@bp.post("/orders/<number>/mark-paid")
def order_mark_paid(number: str) -> Response | tuple[str, int]:
    order = _order_or_404(number)
    form = MarkPaidForm()
    if not form.validate_on_submit():
        return _page(order, 422, mark_paid=form)
    try:
        made = orders.record_transfer(order, amount=form.amount_received.cents, actor=actor())
    except ValidationError as exc:
        db.session.rollback()
        _show_errors(form, exc.errors, {"amount": "amount_received"})
        return _page(_order_or_404(number), 422, mark_paid=form)
    except orders.ActionRefused as exc:
        return _refused(order, exc)
    db.session.commit()
    if made is orders.PaymentOutcome.PAID:
        flash(
            f"Order {order.number} is paid: its stock is sold and the buyer is emailed.", "success"
        )
    elif made is orders.PaymentOutcome.ALREADY_PAID:
        flash(f"Order {order.number} was paid already.", "info")
    elif made is orders.PaymentOutcome.SHORT:
        received = format_money(order.transfer_received, order.currency)
        flash(
            f"Not marked paid: {order.attention_reason}. {received} is recorded as received "
            "and the order is flagged for attention.",
            "error",
        )
    else:
        flash(
            f"Not marked paid: {order.attention_reason}. The order is flagged for attention.",
            "error",
        )
    return _back(order)


@bp.post("/orders/<number>/accept-shortfall")
def order_accept_shortfall(number: str) -> Response | tuple[str, int]:
    order = _order_or_404(number)
    form = ShortfallForm()
    if not form.validate_on_submit():
        return _page(order, 422, shortfall=form)
    try:
        made = orders.accept_shortfall(order, reason=form.shortfall_reason.data, actor=actor())
    except ValidationError as exc:
        db.session.rollback()
        _show_errors(form, exc.errors, {"reason": "shortfall_reason"})
        return _page(_order_or_404(number), 422, shortfall=form)
    except orders.ActionRefused as exc:
        return _refused(order, exc)
    db.session.commit()
    if made is orders.PaymentOutcome.PAID:
        paid = format_money(order.amount_paid, order.currency)
        flash(f"Order {order.number} is paid with {paid}: the shortfall is accepted.", "success")
    else:
        flash(f"Shortfall accepted, but: {order.attention_reason}.", "error")
    return _back(order)


@bp.post("/orders/<number>/attention")
def order_clear_attention(number: str) -> Response | tuple[str, int]:
    order = _order_or_404(number)
    form = AttentionForm()
    if not form.validate_on_submit():
        return _page(order, 422, attention=form)
    try:
        orders.clear_attention(order, actor=actor(), text=form.attention_note.data)
    except ValidationError as exc:
        db.session.rollback()
        _show_errors(form, exc.errors, {"note": "attention_note"})
        return _page(_order_or_404(number), 422, attention=form)
    except orders.ActionRefused as exc:
        return _refused(order, exc)
    db.session.commit()
    flash(f"Order {order.number} no longer needs attention.", "success")
    return _back(order)


@bp.post("/orders/<number>/cancel")
def order_cancel(number: str) -> Response | tuple[str, int]:
    order = _order_or_404(number)
    form = CancelForm()
    if not form.validate_on_submit():
        return _page(order, 422, cancel=form)
    try:
        outcome = payments.cancel_order(
            order,
            actor=actor(),
            reason=form.cancel_reason.data or "",
            restock_all=form.restock_all.data,
            nonce=form.nonce.data,
        )
    except ValidationError as exc:
        db.session.rollback()
        _show_errors(form, exc.errors, {})
        return _page(_order_or_404(number), 422, cancel=form)
    except (orders.ActionRefused, stripe_client.RefundRefused) as exc:
        db.session.commit()  # a refused refund is kept as failed, with its history
        flash(str(exc), "error")
        return _back(order)
    except stripe_client.StripeError:
        db.session.rollback()
        paid = order.status == OrderStatus.PAID
        form.cancel_reason.errors = [STRIPE_DOWN if paid else STRIPE_DOWN_CLOSING]
        return _page(_order_or_404(number), 503, cancel=form)
    db.session.commit()
    if outcome is payments.CancelOutcome.PAID_MEANWHILE:
        flash(
            f"The buyer's payment reached Stripe first: order {order.number} is now "
            f"{order.status_label.lower()} and was not cancelled.",
            "error",
        )
    else:
        flash(f"Order {order.number} is cancelled.", "success")
    return _back(order)


@bp.post("/orders/<number>/refund")
def order_refund(number: str) -> Response | tuple[str, int]:
    order = _order_or_404(number)
    form = refund_form(_sold(order), orders.restockable(order), submitted=True)
    if not form.validate_on_submit():
        return _page(order, 422, refund=form)
    # Left empty, the amount is what the packs going back were sold for, VAT included.
    amount = form.refund_amount.cents or orders.value_of_packs(order, form.restock())
    if amount <= 0:
        form.refund_amount.errors = [
            "Enter the amount to refund, or the packs going back (their price is refunded)."
        ]
        return _page(order, 422, refund=form)
    try:
        refund = orders.request_refund(
            order,
            amount=amount,
            restock=form.restock(),
            request_key=payments.refund_key(order, form.nonce.data),
            actor=actor(),
            reason=form.refund_reason.data or "",
        )
        booked = payments.send_refund(refund, actor=actor())
    except ValidationError as exc:
        db.session.rollback()
        _show_errors(form, exc.errors, {"amount": "refund_amount"})
        return _page(_order_or_404(number), 422, refund=form)
    except stripe_client.RefundRefused as exc:
        db.session.commit()  # kept as a failed refund, with its history
        form.refund_amount.errors = [f"Stripe made no refund: {exc}"]
        return _page(_order_or_404(number), 422, refund=form)
    except orders.ActionRefused as exc:
        return _refused(order, exc)
    except stripe_client.StripeError:
        db.session.rollback()
        form.refund_amount.errors = [STRIPE_DOWN]
        return _page(_order_or_404(number), 503, refund=form)
    db.session.commit()
    if booked:
        refunded = format_money(order.amount_refunded, order.currency)
        paid = format_money(order.amount_paid, order.currency)
        if refund.status == "succeeded":
            flash(f"Refund made: {refunded} of {paid} refunded in all.", "success")
        else:
            flash(
                f"Refund of {format_money(refund.amount, order.currency)} is {refund.status} "
                f"at Stripe: {refunded} of {paid} refunded so far. Its outcome shows here "
                "when Stripe reports it.",
                "success",
            )
    else:
        flash("That refund was made and booked already: nothing was done twice.", "info")
    return _back(order)
