"""`/quote` (ask for a quote) and `/quotes/<token>` (the distributor's quote: read it,
download the pro-forma, accept and pay, or decline)."""

from __future__ import annotations

import logging

from flask import (
    Blueprint,
    Response,
    abort,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from shop.accounts.services import ordering_blocker
from shop.cart.session import current_cart
from shop.errors import ValidationError
from shop.extensions import db, limiter
from shop.input_guard import whole_number
from shop.inventory.services import InsufficientStock
from shop.orders.documents import render_pdf
from shop.orders.models import PaymentMethod
from shop.payments import services as payments
from shop.payments import stripe_client
from shop.quotes import services
from shop.quotes.forms import (
    BUSINESS_TYPES,
    AcceptForm,
    DeclineForm,
    QuoteLineForm,
    QuoteRequestForm,
    RevisionRequestForm,
)
from shop.quotes.models import BusinessType, Quote

bp = Blueprint("quotes", __name__)
log = logging.getLogger(__name__)

SENT_KEY = "quote_sent"
# Per client address: requests stored (or taken for spam) a hour, and every POST (adding
# a line re-renders the form) a hour.
SUBMIT_LIMIT = "5 per hour"
POST_LIMIT = "60 per hour"

Page = tuple[str, int]


def _submitted(response: Response) -> bool:
    return response.status_code == 303


@bp.route("/quote", methods=["GET", "POST"])
@limiter.limit(POST_LIMIT, methods=["POST"])
@limiter.limit(SUBMIT_LIMIT, methods=["POST"], deduct_when=_submitted)
def request_form() -> Page | BaseResponse:
    if request.method == "GET":
        cart = current_cart() if request.args.get("from") == "cart" else None
        lines = services.prefill_lines(
            sku=request.args.get("sku"), quantity=request.args.get("quantity"), cart=cart
        )
        return _render_request(QuoteRequestForm(data={"lines": lines} if lines else None))
    form = QuoteRequestForm()
    if "add_line" in request.form:
        form.add_line()
        return _render_request(form)
    if form.website.data:  # the honeypot: answered like a success, nothing stored
        log.info("quote request from %s taken for spam (honeypot)", request.remote_addr)
        session[SENT_KEY] = {"reference": None}
        return redirect(url_for("quotes.sent"), code=303)
    if not form.validate_on_submit():
        return _render_request(form, status=422)
    try:
        quote = services.request_quote(_draft(form))
    except ValidationError as exc:
        db.session.rollback()
        for key, message in exc.errors.items():
            if key == "lines":
                form.lines_error = message
            else:
                form.field_for(key).errors = [message]
        return _render_request(form, status=422)
    db.session.commit()
    session[SENT_KEY] = {"reference": quote.reference, "token": quote.token, "email": quote.email}
    return redirect(url_for("quotes.sent"), code=303)


def _draft(form: QuoteRequestForm) -> services.RequestDraft:
    lines: list[tuple[int, QuoteLineForm]] = [
        (i, e.form) for i, e in enumerate(form.lines.entries) if not e.form.is_blank()
    ]
    return services.RequestDraft(
        company=form.company.data,
        contact_name=form.contact_name.data,
        email=form.email.data,
        phone=form.phone.data,
        country=form.country.data,
        business_type=BusinessType(form.business_type.data),
        vat_number=form.vat_number.data or "",
        message=form.message.data or "",
        lines=[
            services.LineDraft(
                position=position,
                sku=line.sku.data or "",
                description=line.description.data or "",
                quantity=line.packs() or 0,
                private_label=bool(line.private_label.data),
                note=line.note.data or "",
            )
            for position, line in lines
        ],
    )


def _render_request(form: QuoteRequestForm, *, status: int = 200) -> Page:
    errors = status != 200 and (bool(form.errors) or form.lines_error is not None)
    return render_template("quotes/request.html", form=form, has_errors=errors), status


@bp.get("/quote/sent")
def sent() -> str | BaseResponse:
    sent = session.get(SENT_KEY)
    if not isinstance(sent, dict):
        return redirect(url_for("quotes.request_form"), code=303)
    return render_template("quotes/sent.html", sent=sent)


def _quote_or_404(token: str) -> Quote:
    quote = services.by_token(token)
    if quote is None:
        abort(404)
    return quote


def _render_quote(
    quote: Quote,
    *,
    accept_form: AcceptForm | None = None,
    decline_form: DeclineForm | None = None,
    revision_form: RevisionRequestForm | None = None,
    short: list[services.ShortLine] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Page:
    if accept_form is None:
        accept_form = AcceptForm()
        if not stripe_client.configured():
            accept_form.payment_method.data = PaymentMethod.BANK_TRANSFER.value
    accept_form.version.data = str(quote.version)  # the version this page shows
    html = render_template(
        "quotes/quote.html",
        quote=quote,
        totals=services.totals(quote),
        status_label=services.status_label(quote.status),
        business_types=BUSINESS_TYPES,
        country_name=services.country_name,
        accept_form=accept_form,
        decline_form=decline_form or DeclineForm(),
        revision_form=revision_form or RevisionRequestForm(formdata=None),
        short=short,
        revision_asked=services.revision_asked(quote),
        card_configured=stripe_client.configured(),
        error=error,
        today=services.today(),
    )
    return html, status


def _private(response: Response) -> Response:
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.get("/quotes/<token>")
def show(token: str) -> Response:
    quote = _quote_or_404(token)
    if services.expire_if_due(quote):
        db.session.commit()
    html, status = _render_quote(quote)
    return _private(Response(html, status=status))


@bp.get("/quotes/<token>/proforma.pdf")
def proforma(token: str) -> Response:
    quote = _quote_or_404(token)
    document = services.proforma(quote)
    if document is None:
        abort(404)
    response = Response(render_pdf(document), mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="proforma-{quote.reference}.pdf"'
    return _private(response)


@bp.post("/quotes/<token>/accept")
def accept(token: str) -> Page | BaseResponse:
    quote = _quote_or_404(token)
    form = AcceptForm()
    if not form.validate_on_submit():
        return _render_quote(quote, accept_form=form, status=422)
    blocker = ordering_blocker()
    if blocker is not None:  # professional buyers only, and this one is not verified yet
        return _render_quote(quote, accept_form=form, error=blocker, status=403)
    method = PaymentMethod(form.payment_method.data)
    if method is PaymentMethod.CARD and not stripe_client.configured():
        form.payment_method.errors = [
            "Card payment is not configured in this shop yet. Choose bank transfer."
        ]
        return _render_quote(quote, accept_form=form, status=422)
    try:
        order = services.accept(
            quote,
            method=method,
            shipping_address=form.shipping_address.data,
            version=whole_number(form.version.data, low=1) or 0,
        )
    except services.QuoteExpired as exc:
        services.accept_failed(quote, reason=str(exc))
        db.session.commit()  # the quote is marked expired, staff are told
        return _render_quote(quote, accept_form=form, error=str(exc), status=409)
    except (services.PaymentInProgress, services.QuoteRevised) as exc:
        db.session.rollback()
        return _render_quote(quote, accept_form=form, error=str(exc), status=409)
    except services.QuoteStateError as exc:
        db.session.rollback()
        return _render_quote(quote, error=str(exc), status=409)
    except InsufficientStock as exc:
        db.session.rollback()
        short = services.stock_short(quote, exc.shortages)
        db.session.commit()  # the history and the staff's email
        error = (
            "Some packs this quote promised from stock are no longer there, so nothing was "
            "reserved or charged. The lines below say how many can ship now."
        )
        return _render_quote(quote, accept_form=form, short=short, error=error, status=409)
    db.session.commit()  # the reservation stands before Stripe is called
    if method is PaymentMethod.BANK_TRANSFER:
        return redirect(url_for("quotes.show", token=quote.token), code=303)
    url = order.stripe_checkout_url
    if url is None:
        try:
            url = payments.start_or_release(
                order, after_release=lambda released: services.card_unavailable(quote, released)
            )
        except stripe_client.StripeError as exc:
            if stripe_client.key_in_use(exc):
                return redirect(url_for("quotes.show", token=quote.token), code=303)
            form.payment_method.errors = [
                "Card payment is unavailable right now, so nothing was reserved or charged. "
                "Please try again in a few minutes or choose bank transfer."
            ]
            return _render_quote(quote, accept_form=form, status=503)
    services.card_checkout_started(quote)
    db.session.commit()
    return redirect(url, code=303)


@bp.post("/quotes/<token>/decline")
def decline(token: str) -> Page | BaseResponse:
    quote = _quote_or_404(token)
    form = DeclineForm()
    if not form.validate_on_submit():
        return _render_quote(quote, decline_form=form, status=422)
    try:
        services.decline(quote, reason=form.reason.data, actor=quote.email)
    except services.QuoteStateError as exc:
        db.session.commit()  # an expiry found on the way stands
        return _render_quote(quote, error=str(exc), status=409)
    db.session.commit()
    return redirect(url_for("quotes.show", token=quote.token), code=303)


@bp.post("/quotes/<token>/revision")
def ask_revision(token: str) -> Page | BaseResponse:
    quote = _quote_or_404(token)
    form = RevisionRequestForm()
    if not form.validate_on_submit():
        return _render_quote(quote, revision_form=form, status=422)
    try:
        services.ask_revision(quote, message=form.message.data or "")
    except services.QuoteStateError as exc:
        db.session.rollback()
        return _render_quote(quote, error=str(exc), status=409)
    db.session.commit()
    return redirect(url_for("quotes.show", token=quote.token), code=303)
