"""Back office: quotes. List by status, open one, price and send it, reissue, decline."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from shop.accounts.auth import actor
from shop.admin.blueprint import bp, section
from shop.errors import ValidationError
from shop.extensions import db
from shop.input_guard import page_number
from shop.money import decimal_amount
from shop.quotes import services
from shop.quotes.forms import BUSINESS_TYPES, AnswerForm, StaffDeclineForm
from shop.quotes.models import Quote, QuoteStatus

section("admin.quotes", "Quotes")

ANSWERABLE = (QuoteStatus.NEW, QuoteStatus.EXPIRED, QuoteStatus.DECLINED)
DECLINABLE = (QuoteStatus.NEW, QuoteStatus.QUOTED)

Page = tuple[str, int]


@bp.get("/quotes", endpoint="quotes")
def quote_list() -> str:
    if services.expire_due():
        db.session.commit()
    statuses = {s.value: s for s in QuoteStatus}
    status = statuses.get(request.args.get("status", ""))
    return render_template(
        "admin/quotes/list.html",
        pagination=services.listing(status, page=page_number()),
        status=status,
        statuses=services.STATUS_LABELS,
        totals=services.totals,
    )


def _quote_or_404(quote_id: int) -> Quote:
    quote = db.session.get(Quote, quote_id)
    if quote is None:
        abort(404)
    return quote


def _answer_form(quote: Quote) -> AnswerForm:
    """The answer form prefilled: set prices, else the catalogue's quantity breaks. Never
    from the request: a refused decline re-renders this form beside its own."""
    prices = []
    for line in quote.lines:
        amount = services.suggested_unit_amount(line)
        prices.append(decimal_amount(amount, quote.currency) if amount is not None else "")
    shipping = quote.shipping_amount
    stock = services.line_stock(quote)
    supplies = [services.suggested_supply(line, stock.get(line.id)) for line in quote.lines]
    return AnswerForm(
        formdata=None,
        data={
            "prices": prices,
            "quantities": [str(line.quantity) for line in quote.lines],
            "supply": [s.supply.value for s in supplies],
            "ships_now": [str(s.ships_now) for s in supplies],
            "rest_ships_on": [
                s.rest_ships_on.isoformat() if s.rest_ships_on else "" for s in supplies
            ],
            "shipping": decimal_amount(shipping, quote.currency) if shipping is not None else "",
            "valid_until": services.default_valid_until(),
            "staff_note": quote.staff_note,
        },
    )


def _render(
    quote: Quote,
    *,
    answer: AnswerForm | None = None,
    decline: StaffDeclineForm | None = None,
    error: str | None = None,
    status: int = 200,
) -> Page:
    html = render_template(
        "admin/quotes/detail.html",
        quote=quote,
        totals=services.totals(quote),
        status_label=services.status_label,
        business_types=BUSINESS_TYPES,
        country_name=services.country_name,
        catalogue_price=lambda line: (
            line.variant.unit_amount_for(line.quantity) if line.variant is not None else None
        ),
        answer=answer or _answer_form(quote),
        stock=services.line_stock(quote),
        supply_labels=services.SUPPLY_LABELS,
        can_answer=quote.status in ANSWERABLE,
        can_revise=services.can_revise(quote),
        revision_asked=services.revision_asked(quote),
        decline=decline or StaffDeclineForm(),
        can_decline=quote.status in DECLINABLE,
        link=services.link(quote),
        error=error,
    )
    return html, status


@bp.get("/quotes/<int:quote_id>")
def quote_detail(quote_id: int) -> Page:
    quote = _quote_or_404(quote_id)
    if services.expire_if_due(quote):
        db.session.commit()
    return _render(quote)


def _place_errors(form: AnswerForm, exc: ValidationError) -> str | None:
    """Put a service's errors next to their fields; what has no field, for the page top."""
    loose: list[str] = []
    for key, message in exc.errors.items():
        if key == "valid_until":
            form.valid_until.errors = [message]
        elif key == "shipping":
            form.shipping.errors = [message]
        elif key.startswith(("supply-", "ships_now-", "rest_ships_on-")):
            entry = form.entry_for(key)
            if entry is None:
                loose.append(message)
            else:
                entry.errors = [message]
        else:
            loose.append(message)
    return " ".join(loose) or None


@bp.post("/quotes/<int:quote_id>/send")
def quote_send(quote_id: int) -> Page | Response:
    quote = _quote_or_404(quote_id)
    form = AnswerForm()
    if len(form.prices.entries) != len(quote.lines):
        return _render(quote, error="The quote's lines changed: reload the page.", status=409)
    if not form.validate_on_submit():
        form.amounts(quote.currency)  # every error at once
        return _render(quote, answer=form, status=422)
    amounts = form.amounts(quote.currency)
    if amounts is None:
        return _render(quote, answer=form, status=422)
    unit_amounts, shipping = amounts
    supplies = form.supplies([line.quantity for line in quote.lines])
    if supplies is None and form.supply.entries:
        return _render(quote, answer=form, status=422)
    try:
        services.send_quote(
            quote,
            unit_amounts=unit_amounts,
            shipping_amount=shipping,
            valid_until=form.valid_until.data,
            note=form.staff_note.data or "",
            actor=actor(),
            supplies=supplies,
        )
    except ValidationError as exc:
        db.session.rollback()
        return _render(quote, answer=form, error=_place_errors(form, exc), status=422)
    except services.QuoteStateError as exc:
        db.session.rollback()
        return _render(quote, error=str(exc), status=409)
    db.session.commit()
    flash(f"Quote {quote.reference} sent to {quote.email}.", "success")
    return redirect(url_for("admin.quote_detail", quote_id=quote.id), code=303)


@bp.post("/quotes/<int:quote_id>/revise")
def quote_revise(quote_id: int) -> Page | Response:
    quote = _quote_or_404(quote_id)
    form = AnswerForm()
    if len(form.prices.entries) != len(quote.lines):
        return _render(quote, error="The quote's lines changed: reload the page.", status=409)
    valid = form.validate_on_submit()
    amounts = form.amounts(quote.currency)  # every error at once
    packs = form.packs(len(quote.lines))
    if not valid or amounts is None or packs is None:
        return _render(quote, answer=form, status=422)
    supplies = form.supplies(packs)
    if supplies is None and form.supply.entries:
        return _render(quote, answer=form, status=422)
    unit_amounts, shipping = amounts
    lines = [
        services.Revision(n, amount, supplies[i] if supplies else None)
        for i, (n, amount) in enumerate(zip(packs, unit_amounts, strict=True))
    ]
    try:
        services.revise_quote(
            quote,
            lines=lines,
            shipping_amount=shipping,
            valid_until=form.valid_until.data,
            note=form.staff_note.data or "",
            actor=actor(),
        )
    except ValidationError as exc:
        db.session.rollback()
        return _render(quote, answer=form, error=_place_errors(form, exc), status=422)
    except services.QuoteStateError as exc:
        db.session.rollback()
        return _render(quote, error=str(exc), status=409)
    db.session.commit()
    flash(
        f"Quote {quote.reference} revised (version {quote.version}), sent to {quote.email}.",
        "success",
    )
    return redirect(url_for("admin.quote_detail", quote_id=quote.id), code=303)


@bp.post("/quotes/<int:quote_id>/decline")
def quote_decline(quote_id: int) -> Page | Response:
    quote = _quote_or_404(quote_id)
    form = StaffDeclineForm()
    if not form.validate_on_submit():
        return _render(quote, decline=form, status=422)
    try:
        services.decline(quote, reason=form.reason.data, actor=actor(), by_staff=True)
    except services.QuoteStateError as exc:
        db.session.rollback()
        return _render(quote, error=str(exc), status=409)
    db.session.commit()
    flash(f"Quote {quote.reference} declined.", "success")
    return redirect(url_for("admin.quote_detail", quote_id=quote.id), code=303)
