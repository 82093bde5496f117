"""The life of a quote: requested, answered, accepted (an order), paid; or declined, expired.

States move new → quoted → accepted → paid, or to declined / expired, and staff can
reissue an expired or declined quote (back to quoted). Every change is a QuoteEvent with
who made it and when; anything else is refused with QuoteStateError. Functions flush and
never commit: the request owns the transaction.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pycountry
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from shop import tax
from shop.cart.models import Cart
from shop.cart.services import priced, variant_by_sku
from shop.errors import ShopError, ValidationError
from shop.extensions import db
from shop.input_guard import whole_number
from shop.mail.services import queue_mail
from shop.money import MAX_AMOUNT, format_money
from shop.orders import services as orders
from shop.orders.documents import Document, DocumentLine
from shop.orders.models import OPEN_STATUSES, Order, OrderStatus, PaymentMethod
from shop.quotes.models import BusinessType, Quote, QuoteEvent, QuoteLine, QuoteStatus
from shop.urls import external_url

log = logging.getLogger(__name__)

SHOP_ACTOR = "shop"  # who history names for changes nobody made by hand (expiry)
DEFAULT_VALIDITY = timedelta(days=30)
MAX_VALIDITY = timedelta(days=366)
STRIPE_NAME_LENGTH = 250  # Stripe refuses longer product names

TRANSITIONS: dict[QuoteStatus, frozenset[QuoteStatus]] = {
    QuoteStatus.NEW: frozenset({QuoteStatus.QUOTED, QuoteStatus.DECLINED}),
    QuoteStatus.QUOTED: frozenset(
        {QuoteStatus.ACCEPTED, QuoteStatus.DECLINED, QuoteStatus.EXPIRED}
    ),
    # An accepted quote whose order lapsed unpaid expires with its validity date; a late
    # payment of that order still makes it paid.
    QuoteStatus.ACCEPTED: frozenset({QuoteStatus.PAID, QuoteStatus.EXPIRED}),
    QuoteStatus.EXPIRED: frozenset({QuoteStatus.QUOTED, QuoteStatus.PAID}),
    QuoteStatus.DECLINED: frozenset({QuoteStatus.QUOTED}),
    QuoteStatus.PAID: frozenset(),
}

STATUS_LABELS = {
    QuoteStatus.NEW: "New request",
    QuoteStatus.QUOTED: "Quoted",
    QuoteStatus.ACCEPTED: "Accepted",
    QuoteStatus.PAID: "Paid",
    QuoteStatus.DECLINED: "Declined",
    QuoteStatus.EXPIRED: "Expired",
}


class QuoteStateError(ShopError):
    """The quote is not in a state that allows this; the message says so in plain words."""


class QuoteExpired(QuoteStateError):
    """Past its validity date: it was marked expired (flushed; the caller commits that)."""


class PaymentInProgress(QuoteStateError):
    """A card payment of this quote is open: finish or cancel it before choosing again."""

    def __init__(self, order: Order):
        super().__init__(
            "A card payment of this quote is already open. Continue it, or cancel it on the "
            "payment page, before choosing bank transfer."
        )
        self.order = order


@dataclass(frozen=True)
class LineDraft:
    """A line as typed; `position` is its place in the form, for errors."""

    position: int
    sku: str
    description: str
    quantity: int
    private_label: bool
    note: str


@dataclass(frozen=True)
class RequestDraft:
    company: str
    contact_name: str
    email: str
    phone: str
    country: str
    business_type: BusinessType
    vat_number: str
    message: str
    lines: list[LineDraft]


@dataclass(frozen=True)
class Totals:
    """A priced quote's net subtotal and shipping, its VAT (as the order will carry it) and
    the gross total the buyer pays."""

    subtotal: int
    shipping: int
    total: int
    tax: int = 0
    tax_label: str = ""


def today() -> date:
    return datetime.now(UTC).date()


def country_name(code: str) -> str:
    country = pycountry.countries.get(alpha_2=code)
    return str(getattr(country, "name", code))


def status_label(status: str) -> str:
    return STATUS_LABELS[QuoteStatus(status)]


def _move(quote: Quote, to: QuoteStatus, *, actor: str, note: str = "") -> None:
    current = QuoteStatus(quote.status)
    if to not in TRANSITIONS[current]:
        raise QuoteStateError(
            f"Quote {quote.reference} is {status_label(current).lower()}: "
            f"it cannot become {status_label(to).lower()}."
        )
    quote.history.append(
        QuoteEvent(actor=actor[:254], from_status=current.value, to_status=to.value, note=note)
    )
    quote.status = to.value


def _lock(quote: Quote) -> None:
    """Take the quote's row for this transaction (a write, so SQLite serialises too) and
    read it afresh. Callers that also lock stock take that lock first."""
    db.session.execute(
        update(Quote).where(Quote.id == quote.id).values(status=Quote.status),
        execution_options={"synchronize_session": False},
    )
    db.session.refresh(quote)


def link(quote: Quote) -> str:
    return external_url("quotes.show", token=quote.token)


# --------------------------------------------------------------------------------------
# The request
# --------------------------------------------------------------------------------------


def prefill_lines(
    *, sku: str | None = None, quantity: str | None = None, cart: Cart | None = None
) -> list[dict[str, str]]:
    """Lines to start the form with: the cart's, or one SKU from a product page."""
    if cart is not None:
        return [{"sku": p.variant.sku, "quantity": str(p.quantity)} for p in priced(cart).lines]
    if sku:
        packs = whole_number(quantity, low=1)
        return [{"sku": sku.strip()[:64], "quantity": "" if packs is None else str(packs)}]
    return []


def request_quote(draft: RequestDraft) -> Quote:
    """Store a request for a quote and queue its acknowledgement to the distributor.

    Raises ValidationError keyed by form field (`lines-<i>-sku`) for unknown SKUs; the
    caller rolls back.
    """
    errors: dict[str, str] = {}
    lines: list[QuoteLine] = []
    for line in draft.lines:
        variant = None
        if line.sku:
            variant = variant_by_sku(line.sku)
            if variant is None or not (variant.is_active and variant.product.is_active):
                errors[f"lines-{line.position}-sku"] = (
                    f"We have no product with the SKU {line.sku}. Check it, or leave it "
                    "empty and describe the item."
                )
                continue
        lines.append(
            QuoteLine(
                variant_id=variant.id if variant else None,
                sku=variant.sku if variant else "",
                description=line.description,
                quantity=line.quantity,
                private_label=line.private_label,
                note=line.note,
            )
        )
    if errors:
        raise ValidationError(errors)
    if not lines:
        raise ValidationError({"lines": "Add at least one line."})
    quote = Quote(
        token=secrets.token_urlsafe(32),
        status=QuoteStatus.NEW.value,
        company=draft.company,
        contact_name=draft.contact_name,
        email=draft.email.lower(),
        phone=draft.phone,
        country=draft.country,
        business_type=draft.business_type.value,
        vat_number=draft.vat_number,
        message=draft.message,
        currency=orders.settings_currency(),
        lines=lines,
    )
    quote.history.append(
        QuoteEvent(actor=quote.email, from_status="", to_status=QuoteStatus.NEW.value)
    )
    db.session.add(quote)
    db.session.flush()
    quote.reference = f"Q-{datetime.now(UTC):%Y}-{quote.id:06d}"
    queue_mail(
        to=quote.email,
        subject=f"Your request for a quote {quote.reference}",
        template="quote_received",
        quote=quote,
        link=link(quote),
    )
    db.session.flush()
    return quote


# --------------------------------------------------------------------------------------
# Finding and reading
# --------------------------------------------------------------------------------------


def by_token(token: str) -> Quote | None:
    if not token or len(token) > 64:
        return None
    return db.session.scalar(select(Quote).where(Quote.token == token))


def listing(status: QuoteStatus | None, *, page: int, per_page: int = 50) -> Pagination:
    """Quotes newest first, optionally of one status: a Flask-SQLAlchemy pagination."""
    query = select(Quote).options(selectinload(Quote.lines)).order_by(Quote.id.desc())
    if status is not None:
        query = query.where(Quote.status == status.value)
    return db.paginate(query, page=page, per_page=per_page, error_out=False)


def totals(quote: Quote) -> Totals | None:
    """What the quote costs, once every line has a price and shipping is set."""
    if quote.shipping_amount is None or any(x.unit_amount is None for x in quote.lines):
        return None
    nets = [(x.unit_amount or 0) * x.quantity for x in quote.lines]
    subtotal = sum(nets)
    vat = orders.tax_for(quote.country, _vat_id(quote), nets, quote.shipping_amount)
    return Totals(
        subtotal,
        quote.shipping_amount,
        subtotal + quote.shipping_amount + vat.amount,
        tax=vat.amount,
        tax_label=vat.label,
    )


def suggested_unit_amount(line: QuoteLine) -> int | None:
    """The price to offer: the one already set, else the catalogue's quantity break."""
    if line.unit_amount is not None:
        return line.unit_amount
    if line.variant is not None:
        return int(line.variant.unit_amount_for(line.quantity))
    return None


def item_name(line: QuoteLine) -> str:
    """How the line reads on the quote, the pro-forma and a free-text order line."""
    if line.variant is not None:
        variant = line.variant
        name = (
            f"{variant.product.name}, {variant.gauge}G x {variant.length_mm:g} mm, "
            f"{variant.pack_size} per pack"
        )
        if line.description:
            name += f": {line.description}"
    else:
        name = line.description
    suffix = " (private label)" if line.private_label else ""
    return name[: STRIPE_NAME_LENGTH - len(suffix)] + suffix


def custom_sku(quote: Quote, index: int) -> str:
    return f"CUSTOM-{quote.reference}-{index}"


def proforma(quote: Quote) -> Document | None:
    """The pro-forma invoice of a priced quote (None until it has prices)."""
    amounts = totals(quote)
    if amounts is None or quote.reference is None:
        return None
    bill_to = (
        quote.company,
        quote.contact_name,
        f"VAT / tax number {quote.vat_number}" if quote.vat_number else "",
        country_name(quote.country),
    )
    lines = tuple(
        DocumentLine(
            sku=x.sku or custom_sku(quote, i),
            description=item_name(x) + (f" - {x.note}" if x.note else ""),
            quantity=x.quantity,
            unit_amount=x.unit_amount or 0,
            line_total=(x.unit_amount or 0) * x.quantity,
        )
        for i, x in enumerate(quote.lines, start=1)
    )
    valid = f"Valid until {quote.valid_until:%d %B %Y}." if quote.valid_until else ""
    issued = quote.quoted_at.date() if quote.quoted_at else today()
    notes = [
        "This pro-forma invoice is not a tax invoice: the invoice follows payment. "
        "Accept the quote online to pay by card or bank transfer.",
    ]
    if quote.staff_note:
        notes.append(quote.staff_note)
    return Document(
        title="Pro-forma invoice",
        number=quote.reference,
        issued_on=issued,
        currency=quote.currency,
        bill_to=tuple(part for part in bill_to if part),
        lines=lines,
        subtotal=amounts.subtotal,
        shipping=amounts.shipping,
        total=amounts.total,
        status_note=f"Quote {quote.reference}. {valid}".strip(),
        notes=tuple(notes),
        tax=amounts.tax,
        tax_label=amounts.tax_label,
    )


# --------------------------------------------------------------------------------------
# Staff
# --------------------------------------------------------------------------------------


def send_quote(
    quote: Quote,
    *,
    unit_amounts: list[int],
    shipping_amount: int,
    valid_until: date,
    note: str,
    actor: str,
) -> None:
    """Price a new request (or reissue an expired or declined quote) and email the link.

    Raises ValidationError for prices or dates that cannot stand, QuoteStateError when the
    quote is not new, expired or declined.
    """
    _lock(quote)
    reissue = quote.status in (QuoteStatus.EXPIRED, QuoteStatus.DECLINED)
    if quote.status not in (QuoteStatus.NEW, QuoteStatus.EXPIRED, QuoteStatus.DECLINED):
        raise QuoteStateError(
            f"Quote {quote.reference} is {status_label(quote.status).lower()}: "
            "only new, expired or declined quotes can be sent."
        )
    if len(unit_amounts) != len(quote.lines):
        raise ValidationError({"prices": "The quote's lines changed: reload the page."})
    if any(amount <= 0 for amount in unit_amounts):
        raise ValidationError({"prices": "Every line needs a price per pack above zero."})
    if shipping_amount < 0:
        raise ValidationError({"shipping": "Shipping cannot be negative."})
    if not today() <= valid_until <= today() + MAX_VALIDITY:
        raise ValidationError({"valid_until": "Choose a date from today to a year ahead."})
    nets = [line.quantity * amount for line, amount in zip(quote.lines, unit_amounts, strict=True)]
    vat = orders.tax_for(quote.country, _vat_id(quote), nets, shipping_amount)
    total = shipping_amount + sum(nets) + vat.amount
    if total > MAX_AMOUNT:
        # An order, and a card payment, can come to no more than that.
        raise ValidationError(
            {
                "prices": f"These prices come to {format_money(total, quote.currency)}: "
                f"a quote can total at most {format_money(MAX_AMOUNT, quote.currency)}. "
                "Split the request into several quotes."
            }
        )
    for line, amount in zip(quote.lines, unit_amounts, strict=True):
        line.unit_amount = amount
    quote.shipping_amount = shipping_amount
    quote.valid_until = valid_until
    quote.staff_note = note
    quote.decline_reason = ""
    quote.quoted_at = datetime.now(UTC)
    _move(
        quote,
        QuoteStatus.QUOTED,
        actor=actor,
        note=f"{'reissued' if reissue else 'sent'}, valid until {valid_until:%Y-%m-%d}",
    )
    queue_mail(
        to=quote.email,
        subject=f"Your quote {quote.reference} from Meso Needle Works",
        template="quote_sent",
        quote=quote,
        link=link(quote),
        totals=totals(quote),
        reissue=reissue,
    )
    db.session.flush()


def default_valid_until() -> date:
    return today() + DEFAULT_VALIDITY


def expire_due(now: date | None = None) -> int:
    """Mark every quote past its validity date expired; how many changed."""
    now = now or today()
    due = db.session.scalars(
        select(Quote)
        .where(
            Quote.status.in_([QuoteStatus.QUOTED.value, QuoteStatus.ACCEPTED.value]),
            Quote.valid_until < now,
        )
        .order_by(Quote.id)
    ).all()
    return sum(1 for quote in due if expire_if_due(quote, now=now))


def expire_if_due(quote: Quote, *, now: date | None = None) -> bool:
    """Expire a quoted quote past its validity date, or an accepted one whose order lapsed
    unpaid by then. True when this call changed it."""
    now = now or today()
    if quote.valid_until is None or quote.valid_until >= now:
        return False
    if quote.status == QuoteStatus.ACCEPTED and _order_alive(quote.order):
        return False
    if quote.status not in (QuoteStatus.QUOTED, QuoteStatus.ACCEPTED):
        return False
    _lock(quote)
    if quote.status not in (QuoteStatus.QUOTED, QuoteStatus.ACCEPTED):
        return False
    _move(
        quote,
        QuoteStatus.EXPIRED,
        actor=SHOP_ACTOR,
        note=f"validity ended on {quote.valid_until:%Y-%m-%d}",
    )
    db.session.flush()
    return True


def _order_alive(order: Order | None) -> bool:
    """Open, or paid: anything but an order that lapsed or was cancelled."""
    return order is not None and order.status not in (
        OrderStatus.EXPIRED,
        OrderStatus.CANCELLED,
    )


def decline(quote: Quote, *, reason: str, actor: str, by_staff: bool = False) -> None:
    """The distributor declines a quote, or staff decline a request or withdraw a quote."""
    _lock(quote)
    if not by_staff:
        expire_if_due(quote)
    allowed = (QuoteStatus.NEW, QuoteStatus.QUOTED) if by_staff else (QuoteStatus.QUOTED,)
    if quote.status not in allowed:
        raise QuoteStateError(
            f"This quote is {status_label(quote.status).lower()}: it can no longer be declined."
        )
    quote.decline_reason = reason
    _move(quote, QuoteStatus.DECLINED, actor=actor, note=reason)
    db.session.flush()


# --------------------------------------------------------------------------------------
# Accepting and paying
# --------------------------------------------------------------------------------------


def accept(quote: Quote, *, method: PaymentMethod, shipping_address: str) -> Order:
    """The order for this quote at its stored prices, with catalogue stock reserved.

    Accepting again while the order is open (or paid) gives that same order. Bank
    transfer accepts the quote at once; card leaves it quoted until the Checkout Session
    exists (`card_checkout_started`), so a failure at Stripe leaves it as it was.
    Raises QuoteExpired (flushed: commit it), QuoteStateError, PaymentInProgress or
    InsufficientStock (roll back).
    """
    orders.lock()
    _lock(quote)
    if expire_if_due(quote):
        raise QuoteExpired(
            f"This quote expired on {quote.valid_until:%d %B %Y} and can no longer be accepted."
        )
    if quote.status not in (QuoteStatus.QUOTED, QuoteStatus.ACCEPTED):
        raise QuoteStateError(
            f"This quote is {status_label(quote.status).lower()}: it cannot be accepted."
        )
    existing: Order | None = quote.order
    if existing is not None and existing.status in (OrderStatus.PAID, OrderStatus.SHIPPED):
        raise QuoteStateError("This quote is paid already.")
    if existing is not None and existing.status in OPEN_STATUSES:
        if existing.payment_method == method.value:
            return existing
        if existing.payment_method == PaymentMethod.CARD.value:
            raise PaymentInProgress(existing)
        orders.release(
            existing,
            status=OrderStatus.CANCELLED,
            actor=quote.email,
            reason=f"quote {quote.reference}: paying by card instead",
        )
    amounts = totals(quote)
    if amounts is None:
        raise QuoteStateError("This quote has no prices yet.")
    requests = [
        orders.LineRequest(line.variant, line.quantity, line.unit_amount or 0)
        if line.variant is not None
        else orders.LineRequest(
            None,
            line.quantity,
            line.unit_amount or 0,
            sku=custom_sku(quote, index),
            name=item_name(line),
        )
        for index, line in enumerate(quote.lines, start=1)
    ]
    order = orders.create_order(
        requests,
        contact=orders.Contact(
            email=quote.email,
            contact_name=quote.contact_name,
            company=quote.company,
            phone=quote.phone,
            shipping_address=shipping_address,
            country=quote.country,
        ),
        method=method,
        shipping_amount=amounts.shipping,
        currency=quote.currency,
        reserved_until=orders.reservation_end(method, datetime.now(UTC)),
        actor=quote.email,
        vat_id=_vat_id(quote),
    )
    orders.note(order, "from quote", actor=quote.email, text=quote.reference or "")
    quote.order_id = order.id
    quote.order = order
    if method is PaymentMethod.BANK_TRANSFER:
        if quote.status == QuoteStatus.QUOTED:
            _move(quote, QuoteStatus.ACCEPTED, actor=quote.email, note="bank transfer")
        orders.queue_confirmation(order)
    db.session.flush()
    return order


def _vat_id(quote: Quote) -> str:
    """The VAT ID the request gave, when it is one of the country the quote ships to (then an
    EU business is reverse charged); otherwise the order is taxed as for a consumer."""
    try:
        return tax.check_vat_id(quote.vat_number or "", quote.country)
    except tax.InvalidVatId:
        return ""


def card_checkout_started(quote: Quote) -> None:
    """The Checkout Session for the quote's order exists: the quote is accepted."""
    _lock(quote)
    if quote.status == QuoteStatus.QUOTED:
        _move(quote, QuoteStatus.ACCEPTED, actor=quote.email, note="card payment")
        db.session.flush()


def card_unavailable(quote: Quote, order: Order) -> None:
    """Stripe could not start the payment and the order was released: the quote is left as
    it was, to be accepted again."""
    _lock(quote)
    if quote.order_id == order.id and quote.status == QuoteStatus.QUOTED:
        quote.order_id = None
    db.session.flush()


def order_paid(order: Order, actor: str) -> None:
    """Registered with orders: the quote whose order this is becomes paid."""
    quote = db.session.scalar(select(Quote).where(Quote.order_id == order.id))
    if quote is None or quote.status == QuoteStatus.PAID:
        return
    _lock(quote)
    if quote.status == QuoteStatus.QUOTED:  # paid before the acceptance was committed
        _move(quote, QuoteStatus.ACCEPTED, actor=quote.email, note="card payment")
    if quote.status not in (QuoteStatus.ACCEPTED, QuoteStatus.EXPIRED):
        log.warning(
            "quote %s is %s but its order %s was paid", quote.reference, quote.status, order.number
        )
        return
    _move(quote, QuoteStatus.PAID, actor=actor, note=f"order {order.number}")
    db.session.flush()


orders.on_paid(order_paid)


def expire_due_task() -> int:
    """The worker's task: expire quotes past their validity date, in a transaction of its
    own."""
    expired = expire_due()
    db.session.commit()
    return expired
