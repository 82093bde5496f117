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
from flask import current_app
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import func, select, update
from sqlalchemy.orm import selectinload

from shop import tax
from shop.cart.models import Cart
from shop.cart.services import priced, variant_by_sku
from shop.config import grouped_iban
from shop.errors import ShopError, ValidationError
from shop.extensions import db
from shop.input_guard import whole_number
from shop.inventory import services as inventory
from shop.mail.services import queue_mail
from shop.money import MAX_AMOUNT, format_money
from shop.orders import services as orders
from shop.orders.documents import Document, DocumentLine
from shop.orders.models import OPEN_STATUSES, Order, OrderStatus, PaymentMethod
from shop.quotes.models import BusinessType, Quote, QuoteEvent, QuoteLine, QuoteStatus, Supply
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
class LineStock:
    """A catalogue line's stock as staff answer: packs for sale now, packs held for open
    orders, and the earliest expiry a sale would ship."""

    available: int
    reserved: int
    next_expiry: date | None


@dataclass(frozen=True)
class LineSupply:
    """What staff promise for a line: packs shipped from stock, and when the rest follow."""

    supply: Supply
    ships_now: int
    rest_ships_on: date | None = None


SUPPLY_LABELS = {
    Supply.IN_STOCK: "In stock",
    Supply.BACKORDERED: "Partly backordered",
    Supply.MADE_TO_ORDER: "Made to order",
}


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


def staff_link(quote: Quote) -> str:
    return external_url("admin.quote_detail", quote_id=quote.id)


def _tell_staff(quote: Quote, *, subject: str, template: str, **context: object) -> None:
    """Queue an email about this quote to the staff's address (SHOP_STAFF_EMAIL)."""
    queue_mail(
        to=current_app.config["SHOP_SETTINGS"].staff_email,
        subject=f"{subject}: {quote.reference} from {quote.company}",
        template=template,
        quote=quote,
        staff_link=staff_link(quote),
        **context,
    )


def _record(quote: Quote, note: str, *, actor: str) -> None:
    """A history row for something that happened to the quote without changing its state."""
    quote.history.append(
        QuoteEvent(actor=actor[:254], from_status=quote.status, to_status=quote.status, note=note)
    )


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
    _tell_staff(quote, subject="New quote request", template="staff_quote_requested")
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


def line_stock(quote: Quote) -> dict[int, LineStock]:
    """The stock of every catalogue line, by line id, counted by the inventory in one query
    for availability and one for reservations, whatever the number of lines."""
    variants = {line.variant.id: line.variant for line in quote.lines if line.variant is not None}
    available = inventory.availability(variants.values(), today=today())
    reserved = inventory.reserved_packs(variants)
    return {
        line.id: LineStock(
            available[line.variant.id].available,
            reserved[line.variant.id],
            available[line.variant.id].next_expiry,
        )
        for line in quote.lines
        if line.variant is not None
    }


def suggested_supply(line: QuoteLine, stock: LineStock | None) -> LineSupply:
    """What to promise: what staff promised already, else what the stock allows now (a
    free-text line is made to order)."""
    if line.supply is not None:
        return LineSupply(Supply(line.supply), line.ships_now or 0, line.rest_ships_on)
    if stock is None or stock.available == 0:
        return LineSupply(Supply.MADE_TO_ORDER, 0)
    if stock.available >= line.quantity:
        return LineSupply(Supply.IN_STOCK, line.quantity)
    return LineSupply(Supply.BACKORDERED, stock.available)


def _checked_supply(line: QuoteLine, supply: LineSupply, position: int) -> dict[str, str]:
    """Errors, keyed by form field, of a promise that cannot stand for this line."""
    key = f"supply-{position}"
    if line.variant is None and supply.supply is not Supply.MADE_TO_ORDER:
        return {key: "A free-text item is not in stock: make it to order."}
    if supply.supply is Supply.IN_STOCK:
        return {}
    if supply.supply is Supply.BACKORDERED and not 0 < supply.ships_now < line.quantity:
        return {
            f"ships_now-{position}": "Packs shipped from stock: from 1 to "
            f"{line.quantity - 1} (all of them is in stock, none is made to order)."
        }
    if supply.rest_ships_on is None:
        return {f"rest_ships_on-{position}": "Give the date the other packs ship."}
    if not today() < supply.rest_ships_on <= today() + 2 * MAX_VALIDITY:
        return {f"rest_ships_on-{position}": "Choose a date after today, up to two years ahead."}
    return {}


def _promise(quote: Quote, supplies: list[LineSupply] | None) -> None:
    """Store what ships now and later on every line (None: nothing promised, the order
    takes every catalogue pack from stock). Raises ValidationError keyed by form field for
    promises that cannot stand."""
    if supplies is None:
        return
    if len(supplies) != len(quote.lines):
        raise ValidationError({"prices": "The quote's lines changed: reload the page."})
    errors: dict[str, str] = {}
    for position, (line, supply) in enumerate(zip(quote.lines, supplies, strict=True)):
        errors.update(_checked_supply(line, supply, position))
    if errors:
        raise ValidationError(errors)
    for line, supply in zip(quote.lines, supplies, strict=True):
        line.supply = supply.supply.value
        line.ships_now = {
            Supply.IN_STOCK: line.quantity,
            Supply.BACKORDERED: supply.ships_now,
            Supply.MADE_TO_ORDER: 0,
        }[supply.supply]
        line.rest_ships_on = None if supply.supply is Supply.IN_STOCK else supply.rest_ships_on


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


def payment_reference(quote: Quote) -> str:
    """What a transfer for this quote quotes so staff can match it: the order's number once
    the quote was accepted into an order that is still alive, the quote's reference
    (Q-...) before."""
    order: Order | None = quote.order
    if order is not None and order.number and _order_alive(order):
        return order.number
    return quote.reference or ""


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
    bank = current_app.config["SHOP_SETTINGS"]
    notes = [
        "This pro-forma invoice is not a tax invoice: the invoice follows payment. "
        "Accept the quote online to pay by card or bank transfer.",
        f"Bank transfer to: account holder {bank.bank_account_holder}, "
        f"IBAN {grouped_iban(bank.bank_iban)}, BIC {bank.bank_bic}, {bank.bank_name}.",
        f"Payment reference: {payment_reference(quote)} (please quote it on your transfer).",
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


def _price(
    quote: Quote,
    *,
    unit_amounts: list[int],
    shipping_amount: int,
    valid_until: date,
    note: str,
    supplies: list[LineSupply] | None,
) -> None:
    """Set the prices, shipping, validity, note and promises of the quote's lines, or raise
    ValidationError (keyed by form field) changing nothing the caller keeps."""
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
    _promise(quote, supplies)
    for line, amount in zip(quote.lines, unit_amounts, strict=True):
        line.unit_amount = amount
    quote.shipping_amount = shipping_amount
    quote.valid_until = valid_until
    quote.staff_note = note
    quote.decline_reason = ""
    quote.quoted_at = datetime.now(UTC)


def send_quote(
    quote: Quote,
    *,
    unit_amounts: list[int],
    shipping_amount: int,
    valid_until: date,
    note: str,
    actor: str,
    supplies: list[LineSupply] | None = None,
) -> None:
    """Price a new request (or reissue an expired or declined quote) and email the link.

    `supplies` says per line what ships from stock now and when the rest follows (None:
    leave what the lines say). Raises
    ValidationError for prices, dates or promises that cannot stand, QuoteStateError when
    the quote is not new, expired or declined.
    """
    _lock(quote)
    reissue = quote.status in (QuoteStatus.EXPIRED, QuoteStatus.DECLINED)
    if quote.status not in (QuoteStatus.NEW, QuoteStatus.EXPIRED, QuoteStatus.DECLINED):
        raise QuoteStateError(
            f"Quote {quote.reference} is {status_label(quote.status).lower()}: "
            "only new, expired or declined quotes can be sent."
        )
    _price(
        quote,
        unit_amounts=unit_amounts,
        shipping_amount=shipping_amount,
        valid_until=valid_until,
        note=note,
        supplies=supplies,
    )
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


@dataclass(frozen=True)
class Revision:
    """A line of a revised quote: its packs and price, and what ships now and later."""

    quantity: int
    unit_amount: int
    supply: LineSupply | None = None


class QuoteRevised(QuoteStateError):
    """The buyer pressed accept on an older version of the quote than the one stored."""


def _version_said(quote: Quote) -> str:
    """What the current version says, for the history: per line packs, price and amount,
    then shipping and total."""

    def money(cents: int) -> str:
        return format_money(cents, quote.currency)

    parts = [
        f"{x.sku or x.description[:60]}: {x.quantity} x {money(x.unit_amount or 0)} = "
        f"{money((x.unit_amount or 0) * x.quantity)}"
        for x in quote.lines
    ]
    amounts = totals(quote)
    if amounts is not None:
        parts += [
            f"shipping {money(amounts.shipping)}",
            f"{amounts.tax_label} {money(amounts.tax)}",
            f"total {money(amounts.total)}",
        ]
    return f"version {quote.version} said: " + "; ".join(parts)


def can_revise(quote: Quote) -> bool:
    """A sent quote no one accepted yet (no payment of it open) can be revised."""
    return quote.status == QuoteStatus.QUOTED and not (
        quote.order is not None and quote.order.status in OPEN_STATUSES
    )


def revise_quote(
    quote: Quote,
    *,
    lines: list[Revision],
    shipping_amount: int,
    valid_until: date,
    note: str,
    actor: str,
) -> None:
    """A new version of a sent quote behind the same link: its lines replaced (same items,
    new packs, prices and promises), validity renewed; the history keeps what the previous
    version said, and the distributor gets the "quote revised" email. An accept sent from
    the previous version is refused from now on. Raises ValidationError, QuoteStateError.
    """
    _lock(quote)
    if not can_revise(quote):
        raise QuoteStateError(
            f"Quote {quote.reference} is {status_label(quote.status).lower()}"
            f"{' with a payment open' if quote.status == QuoteStatus.QUOTED else ''}: "
            "only a sent quote not yet accepted can be revised."
        )
    if len(lines) != len(quote.lines):
        raise ValidationError({"prices": "The quote's lines changed: reload the page."})
    if any(x.quantity <= 0 for x in lines):
        raise ValidationError({"prices": "Every line needs at least one pack."})
    before = _version_said(quote)
    quote.lines = [
        QuoteLine(
            variant_id=old.variant_id,
            variant=old.variant,
            sku=old.sku,
            description=old.description,
            quantity=new.quantity,
            private_label=old.private_label,
            note=old.note,
        )
        for old, new in zip(quote.lines, lines, strict=True)
    ]
    promised = [x.supply for x in lines if x.supply is not None]
    _price(
        quote,
        unit_amounts=[x.unit_amount for x in lines],
        shipping_amount=shipping_amount,
        valid_until=valid_until,
        note=note,
        supplies=promised if len(promised) == len(lines) else None,
    )
    quote.version += 1
    quote.revised_at = datetime.now(UTC)
    _record(
        quote,
        f"revised to version {quote.version}, valid until {valid_until:%Y-%m-%d}; {before}",
        actor=actor,
    )
    queue_mail(
        to=quote.email,
        subject=f"Your quote {quote.reference} was revised (version {quote.version})",
        template="quote_revised",
        quote=quote,
        link=link(quote),
        totals=totals(quote),
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


def order_requests(quote: Quote) -> list[orders.LineRequest]:
    """The order lines of a quote: a catalogue line's packs from stock (reserved), and the
    packs that follow later as a line of their own with its date (nothing reserved); a
    free-text item as it reads on the quote."""
    requests: list[orders.LineRequest] = []
    for index, line in enumerate(quote.lines, start=1):
        amount = line.unit_amount or 0
        if line.variant is None:
            name = item_name(line)
            requests.append(
                orders.LineRequest(
                    None, line.quantity, amount, sku=custom_sku(quote, index), name=name
                )
            )
            continue
        now = line.quantity if line.ships_now is None else line.ships_now
        if now:
            requests.append(orders.LineRequest(line.variant, now, amount))
        if line.quantity - now:
            requests.append(
                orders.LineRequest(
                    None,
                    line.quantity - now,
                    amount,
                    sku=f"{line.sku}-LATER"[:64],
                    name=later_name(line),
                )
            )
    return requests


def later_name(line: QuoteLine) -> str:
    """How the packs that follow later read on the order."""
    when = (
        f"ships by {line.rest_ships_on:%d %B %Y}" if line.rest_ships_on else "date to be confirmed"
    )
    kind = "made to order" if line.supply == Supply.MADE_TO_ORDER else "backordered"
    suffix = f" ({kind}, {when})"
    return item_name(line)[: STRIPE_NAME_LENGTH - len(suffix)] + suffix


def accept(
    quote: Quote, *, method: PaymentMethod, shipping_address: str, version: int | None = None
) -> Order:
    """The order for this quote at its stored prices, with catalogue stock reserved.

    Accepting again while the order is open (or paid) gives that same order. Bank
    transfer accepts the quote at once; card leaves it quoted until the Checkout Session
    exists (`card_checkout_started`), so a failure at Stripe leaves it as it was.
    `version` is the version the buyer saw: an older one raises QuoteRevised (checked under
    the quote's row lock). Raises QuoteExpired (flushed: commit it), QuoteStateError,
    PaymentInProgress or InsufficientStock (roll back).
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
    if version is not None and version != quote.version:
        revised = f" on {quote.revised_at:%d %B %Y}" if quote.revised_at else ""
        raise QuoteRevised(
            f"We revised this quote{revised} (version {quote.version}) after you opened it, "
            "so nothing was accepted. Review the new version below and accept it if it suits "
            "you."
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
    requests = order_requests(quote)
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


@dataclass(frozen=True)
class ShortLine:
    """A catalogue line the stock cannot serve now: packs promised from stock, packs that
    can be had now."""

    position: int
    sku: str
    name: str
    wanted: int
    available: int


REVISION_ASKED = "revision asked"
STOCK_SHORT = "stock short at accept"


def short_lines(quote: Quote, shortages: dict[str, int]) -> list[ShortLine]:
    """The lines an accept could not reserve, with what each can have now (a SKU on several
    lines shares its packs in the quote's order)."""
    left = dict(shortages)
    found: list[ShortLine] = []
    for position, line in enumerate(quote.lines, start=1):
        if line.variant is None or line.sku not in left:
            continue
        wanted = line.quantity if line.ships_now is None else line.ships_now
        if not wanted:
            continue
        have = min(wanted, left[line.sku])
        left[line.sku] -= have
        found.append(ShortLine(position, line.sku, item_name(line), wanted, have))
    return [x for x in found if x.available < x.wanted]


def stock_short(quote: Quote, shortages: dict[str, int]) -> list[ShortLine]:
    """An accept found the stock short (and was rolled back): the history says so and staff
    are emailed the lines and the numbers. The short lines, for the buyer's page."""
    short = short_lines(quote, shortages)
    summary = "; ".join(f"{x.sku}: {x.wanted} promised, {x.available} in stock" for x in short)
    _record(quote, f"{STOCK_SHORT}: {summary}", actor=quote.email)
    _tell_staff(quote, subject="Stock short at accept", template="staff_stock_short", short=short)
    db.session.flush()
    return short


def accept_failed(quote: Quote, *, reason: str) -> None:
    """The distributor tried to accept and could not (the quote had expired): staff are
    emailed, so they can reissue it."""
    _tell_staff(quote, subject="Accept failed", template="staff_accept_failed", reason=reason)
    db.session.flush()


def ask_revision(quote: Quote, *, message: str) -> None:
    """The distributor asks staff to revise a quote it cannot accept as it stands (stock
    went short): kept in the history, staff emailed. Raises QuoteStateError unless quoted."""
    _lock(quote)
    if quote.status != QuoteStatus.QUOTED:
        raise QuoteStateError(
            f"This quote is {status_label(quote.status).lower()}: it cannot be revised now."
        )
    _record(quote, f"{REVISION_ASKED}: {message}" if message else REVISION_ASKED, actor=quote.email)
    _tell_staff(
        quote, subject="Please revise quote", template="staff_revision_asked", message=message
    )
    db.session.flush()


def revision_asked(quote: Quote) -> QuoteEvent | None:
    """The distributor's request to revise, while the quote has not been answered since."""
    for event in reversed(quote.history):
        if event.note.startswith(REVISION_ASKED):
            return event
        if event.from_status != event.to_status or event.note.startswith("revised"):
            return None
    return None


def waiting_count() -> int:
    """Quote requests no one answered yet."""
    return int(
        db.session.scalar(
            select(func.count()).select_from(Quote).where(Quote.status == QuoteStatus.NEW.value)
        )
        or 0
    )


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
