"""Invoices (and, later, pro-forma invoices) as PDF: plain data in, bytes out.

`Document` holds everything a printed document shows, already decided: amounts in integer
minor units, lines, lots, notes. `invoice_for` builds one from an `Order`; a quote can build
its own. `render_pdf` knows nothing about the database and gives the same bytes for the
same document (the PDF's creation date is the document's date).

The PDF uses the core Helvetica font, which draws Windows-1252 only (Latin-1 plus the euro
sign, typographic quotes and dashes). `pdf_text` maps anything else to something close
(ł → l, ≤ → <=, fullwidth letters → ASCII) or to "?", so no customer input can break a
document.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from functools import lru_cache
from typing import cast

from fpdf import FPDF
from fpdf.enums import Align, MethodReturnValue, XPos, YPos

from shop import tax
from shop.config import Settings
from shop.money import format_money
from shop.orders.models import AllocationState, Order, OrderStatus, PaymentMethod, Refund


def seller_lines(vat_id: str) -> tuple[str, ...]:
    """The seller's block at the top of every document, with its VAT ID."""
    return (
        "Meso Needle Works",
        "Unit 4, 12 Harbour Road, 20457 Hamburg, Germany",
        f"VAT ID {vat_id}",
        "billing@meso-needles.example.com",
    )


SELLER: tuple[str, ...] = seller_lines(Settings.seller_vat_id)


def shop_seller() -> tuple[str, ...]:
    """The seller's block with the VAT ID of the shop's settings (SHOP_SELLER_VAT_ID)."""
    from flask import current_app, has_app_context

    settings = current_app.config.get("SHOP_SETTINGS") if has_app_context() else None
    return seller_lines(settings.seller_vat_id) if settings is not None else SELLER


FOOTER_NOTICE = "Sterile single-use medical devices. Keep lot numbers for traceability."

# --------------------------------------------------------------------------------------
# Plain data
# --------------------------------------------------------------------------------------


def _check_int(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} is integer minor units, got {type(value).__name__}")


@dataclass(frozen=True)
class DocumentLine:
    sku: str
    description: str
    quantity: int
    unit_amount: int
    line_total: int
    lots: tuple[tuple[str, date], ...] = ()  # (lot number, expiry), may be empty

    def __post_init__(self) -> None:
        object.__setattr__(self, "lots", tuple((str(n), d) for n, d in self.lots))
        self.check()

    def check(self) -> None:
        """Raise ValueError unless the line adds up (TypeError for non-integer money)."""
        for name in ("quantity", "unit_amount", "line_total"):
            _check_int(name, getattr(self, name))
        if self.line_total != self.unit_amount * self.quantity:
            raise ValueError(
                f"line {self.sku!r}: line_total {self.line_total} != "
                f"unit_amount {self.unit_amount} x quantity {self.quantity}"
            )


@dataclass(frozen=True)
class Document:
    title: str  # "Invoice" or "Pro-forma invoice"
    number: str  # e.g. "2026-000123"
    issued_on: date
    currency: str  # ISO 4217 code, lower case
    bill_to: tuple[str, ...]  # company, contact, address lines, country
    lines: tuple[DocumentLine, ...]
    subtotal: int
    shipping: int
    total: int  # gross: subtotal + shipping + tax
    status_note: str = ""  # e.g. "Paid by card on 2026-11-22", transfer instructions
    notes: tuple[str, ...] = ()  # free paragraphs, e.g. how long a quote is valid
    tax: int = 0  # VAT on lines and shipping
    tax_label: str = ""  # "VAT 19 % (Germany)", "Reverse charge", "Export: no VAT"

    def __post_init__(self) -> None:
        object.__setattr__(self, "currency", str(self.currency).lower())
        object.__setattr__(self, "bill_to", tuple(self.bill_to))
        object.__setattr__(self, "lines", tuple(self.lines))
        object.__setattr__(self, "notes", tuple(self.notes))
        self.check()

    def check(self) -> None:
        """Raise ValueError unless lines, subtotal, shipping and total add up."""
        for name in ("subtotal", "shipping", "total", "tax"):
            _check_int(name, getattr(self, name))
        for line in self.lines:
            line.check()
        if self.total != self.subtotal + self.shipping + self.tax:
            raise ValueError(
                f"total {self.total} != subtotal {self.subtotal} + shipping {self.shipping}"
                f" + tax {self.tax}"
            )
        lines_sum = sum(line.line_total for line in self.lines)
        if lines_sum != self.subtotal:
            raise ValueError(f"subtotal {self.subtotal} != sum of line totals {lines_sum}")


# --------------------------------------------------------------------------------------
# From an order
# --------------------------------------------------------------------------------------


def _day(moment: datetime | None) -> date | None:
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.date()


def _default_bank_details() -> str:
    from flask import current_app, has_app_context

    from shop.config import Settings

    if has_app_context():
        settings = current_app.config.get("SHOP_SETTINGS")
        if settings is not None:
            return str(getattr(settings, "bank_details", ""))
    return str(getattr(Settings, "bank_details", ""))


def _country_name(code: str | None) -> str:
    """ "fr" → "France"; the code itself when pycountry does not know it."""
    code = (code or "").strip().upper()
    try:
        import pycountry
    except ImportError:  # pragma: no cover - pycountry is a dependency
        return code
    country = pycountry.countries.get(alpha_2=code) if len(code) == 2 else None
    if country is None:
        return code
    return str(getattr(country, "common_name", None) or country.name)


def _unique(pairs: Iterable[tuple[str, date]]) -> tuple[tuple[str, date], ...]:
    return tuple(dict.fromkeys(pairs))


def _status_note(order: Order, number: str, bank_details: str | None) -> str:
    try:
        status = OrderStatus(order.status)
    except ValueError:
        return ""
    method = "card" if order.payment_method == PaymentMethod.CARD.value else "bank transfer"
    paid_on = _day(order.paid_at)
    paid = f"Paid by {method}" + (f" on {paid_on:%Y-%m-%d}." if paid_on else ".")
    total = format_money(order.total, order.currency)
    if status in (OrderStatus.PAID, OrderStatus.SHIPPED):
        note = paid
    elif status is OrderStatus.PAYMENT_PROCESSING:
        note = f"Payment by {method} received and being processed; nothing more to do."
    elif status is OrderStatus.PENDING_PAYMENT:
        note = f"Awaiting card payment of {total}."
    elif status is OrderStatus.AWAITING_TRANSFER:
        details = _default_bank_details() if bank_details is None else bank_details
        note = f"Please pay {total} by bank transfer"
        note += f" to {details}" if details else ""
        note += f", quoting {number} as the payment reference."
        reserved = _day(order.reserved_until)
        if reserved:
            note += f" Your goods are reserved until {reserved:%Y-%m-%d}."
    elif status is OrderStatus.EXPIRED:
        note = "This order expired unpaid; nothing is due."
    else:
        note = (paid + " " if paid_on else "") + "This order was cancelled."
    refunded = order.amount_refunded or 0
    if refunded > 0:
        amount = format_money(refunded, order.currency)
        full = refunded >= order.total
        note += f" Refunded {'in full' if full else 'in part'}: {amount}."
    return note


def invoice_for(order: Order, *, bank_details: str | None = None) -> Document:
    """The invoice of an order, as a Document for `render_pdf`.

    Lots come from the lines' allocations that were not released. `bank_details` defaults
    to the shop's settings (SHOP_BANK_DETAILS) and only shows for orders awaiting a transfer.
    """
    number = order.number or f"ORDER-{order.id}"
    issued_on = _day(order.created_at) or datetime.now(UTC).date()
    address = [part.strip() for part in (order.shipping_address or "").splitlines()]
    vat_id = f"VAT ID {order.buyer_vat_id}" if order.buyer_vat_id else ""
    bill_to = tuple(
        part
        for part in (
            order.company,
            order.contact_name,
            *address,
            _country_name(order.country),
            vat_id,
        )
        if part and part.strip()
    )
    lines = tuple(
        DocumentLine(
            sku=line.sku,
            description=line.name,
            quantity=line.quantity,
            unit_amount=line.unit_amount,
            line_total=line.line_total,
            lots=_unique(
                (a.lot_number, a.expires_on)
                for a in line.allocations
                if a.state != AllocationState.RELEASED.value
            ),
        )
        for line in order.lines
    )
    notes: list[str] = _tax_notes(order)
    shipped_on = _day(order.shipped_at)
    if order.status == OrderStatus.SHIPPED.value and shipped_on:
        shipped = f"Shipped on {shipped_on:%Y-%m-%d}"
        if order.carrier:
            shipped += f" with {order.carrier}"
        if order.tracking_number:
            shipped += f", tracking number {order.tracking_number}"
        notes.append(shipped + ".")
    for position, refund in enumerate(order.refunds, start=1):
        if refund.status == "succeeded":
            made_on = _day(refund.updated_at) or issued_on
            notes.append(
                f"Refunded {format_money(refund.amount, order.currency)} on {made_on:%Y-%m-%d}: "
                f"credit note {number}-C{position}."
            )
    return Document(
        title="Invoice",
        number=number,
        issued_on=issued_on,
        currency=order.currency,
        bill_to=bill_to,
        lines=lines,
        subtotal=order.subtotal,
        shipping=order.shipping_amount,
        total=order.total,
        status_note=_status_note(order, number, bank_details),
        notes=tuple(notes),
        tax=order.tax_amount,
        tax_label=order.tax_label,
    )


def _tax_notes(order: Order) -> list[str]:
    """The reverse-charge or export note, with both VAT IDs where the law asks for them."""
    text = tax.note(order.tax_treatment)
    if not text:
        return []
    if order.tax_treatment == tax.Treatment.REVERSE_CHARGE:
        seller_vat_id = shop_seller()[2].removeprefix("VAT ID ")
        text += f". Seller's VAT ID {seller_vat_id}; buyer's VAT ID {order.buyer_vat_id}."
    else:
        text += "."
    return [text]


def credit_note_for(order: Order, refund: Refund) -> Document:
    """The credit note of one refund of an order: the packs that went back at the prices
    they were sold for, and the rest of the amount (or what was kept) as one line."""
    number = order.number or f"ORDER-{order.id}"
    position = [r.id for r in order.refunds].index(refund.id) + 1
    restock = {int(k): n for k, n in (refund.restock or {}).items() if n}
    lines = [
        DocumentLine(
            sku=line.sku,
            description=f"Returned: {line.name}",
            quantity=restock[allocation.id],
            unit_amount=line.unit_amount,
            line_total=restock[allocation.id] * line.unit_amount,
            lots=((allocation.lot_number, allocation.expires_on),),
        )
        for line in order.lines
        for allocation in line.allocations
        if allocation.id in restock
    ]
    vat = order.packs_tax(restock)
    rest = refund.amount - sum(line.line_total for line in lines) - vat
    if rest:
        # The rest is gross, like the refund: its net part and its VAT at the order's rate.
        rest_net = _net_of(rest, order.tax_rate)
        vat += rest - rest_net
        lines.append(
            DocumentLine(
                sku="",
                description="Refund" if rest > 0 else "Kept (not refunded)",
                quantity=1,
                unit_amount=rest_net,
                line_total=rest_net,
            )
        )
    made_on = _day(refund.updated_at) or datetime.now(UTC).date()
    how = "to the card paid with" if order.payment_method == PaymentMethod.CARD else "by bank"
    notes = [f"Refers to invoice {number}."]
    if refund.reason:
        notes.append(f"Reason: {refund.reason}")
    return Document(
        title="Credit note",
        number=f"{number}-C{position}",
        issued_on=made_on,
        currency=order.currency,
        bill_to=invoice_for(order).bill_to,
        lines=tuple(lines),
        subtotal=refund.amount - vat,
        shipping=0,
        total=refund.amount,
        status_note=f"Refunded {how} on {made_on:%Y-%m-%d}.",
        notes=tuple(notes + _tax_notes(order)),
        tax=vat,
        tax_label=order.tax_label,
    )


def _net_of(gross: int, rate: int) -> int:
    """The net part of a gross amount at `rate` basis points, rounded half up."""
    return (2 * gross * 10_000 + 10_000 + rate) // (2 * (10_000 + rate))


# --------------------------------------------------------------------------------------
# Text the core fonts can draw
# --------------------------------------------------------------------------------------

ENCODING = "windows-1252"  # what fpdf2's core fonts declare (WinAnsiEncoding)

_REPLACEMENTS = {
    "\u2010": "-",  # hyphen
    "\u2011": "-",  # non-breaking hyphen
    "\u2012": "-",  # figure dash
    "\u2015": "-",  # horizontal bar
    "\u2043": "-",  # hyphen bullet
    "\u2212": "-",  # minus sign
    "\u2032": "'",  # prime
    "\u2033": '"',  # double prime
    "\u2035": "'",
    "\u2219": "\u00b7",  # bullet operator
    "\u22c5": "\u00b7",  # dot operator
    "\u2190": "<-",
    "\u2192": "->",
    "\u2194": "<->",
    "\u21d0": "<=",
    "\u21d2": "=>",
    "\u2264": "<=",
    "\u2265": ">=",
    "\u2260": "!=",
    "\u2248": "~",
    "\u221e": "infinity",
    "\u2713": "v",
    "\u2714": "v",
    "\u2715": "x",
    "\u2716": "x",
    "\u2717": "x",
    "\u2718": "x",
    "\u0110": "D",
    "\u0111": "d",
    "\u0126": "H",
    "\u0127": "h",
    "\u0131": "i",
    "\u0141": "L",
    "\u0142": "l",
    "\u0166": "T",
    "\u0167": "t",
    "\u20b9": "Rs",
    "\u20bd": "RUB",
    "\u20ba": "TRY",
    "\u20a9": "KRW",
}


@lru_cache(maxsize=4096)
def _safe_char(ch: str) -> str:
    if ch == "\n":
        return ch
    if ch in _REPLACEMENTS:
        return _REPLACEMENTS[ch]
    category = unicodedata.category(ch)
    if category in ("Zl", "Zp"):
        return "\n"
    if category in ("Zs", "Cc"):
        return " "
    if category in ("Mn", "Me", "Cf") or "\U0001f3fb" <= ch <= "\U0001f3ff":
        return ""  # combining marks, zero-width joiners, variation selectors, skin tones
    if category in ("Cs", "Co", "Cn"):
        return "?"
    try:
        ch.encode(ENCODING)
        return ch
    except UnicodeEncodeError:
        pass
    folded = "".join(
        c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c)
    ).strip()
    try:
        folded.encode(ENCODING)
    except UnicodeEncodeError:
        return "?"
    return folded or "?"


def pdf_text(value: object) -> str:
    """`value` as text the core fonts can draw: never raises, keeps what it can."""
    text = str(value).replace("\r\n", "\n").replace("\r", "\n")
    text = unicodedata.normalize("NFC", text)
    return "".join(_safe_char(ch) for ch in text)


def _one_line(value: object) -> str:
    return " ".join(pdf_text(value).split())


def _paragraph(value: object) -> str:
    """Drawable text with its line breaks kept and runs of blanks made one space."""
    lines = (" ".join(line.split()) for line in pdf_text(value).split("\n"))
    return "\n".join(lines).strip()


# --------------------------------------------------------------------------------------
# Layout
# --------------------------------------------------------------------------------------

MARGIN = 15.0
FOOTER_SPACE = 10.0  # between the page's content and the bottom margin
INK = (33, 37, 41)
MUTED = (108, 117, 125)
ACCENT = (22, 64, 110)
RULE = (222, 226, 230)
SHADE = (241, 244, 247)

# (heading, width in mm, alignment); the widths fill the 180 mm between the margins
COLUMNS = (
    ("SKU", 36.0, Align.L),
    ("Description", 76.0, Align.L),
    ("Qty", 14.0, Align.R),
    ("Unit price", 27.0, Align.R),
    ("Amount", 27.0, Align.R),
)
ROW_PAD = 1.8
LINE_H = 4.4
LOT_H = 3.6
HEADER_H = 7.0


class _DocumentPDF(FPDF):
    def __init__(self, doc: Document, seller: tuple[str, ...], page_count: int | None) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.doc = doc
        self.seller = seller
        self.page_count = page_count
        self.in_table = False
        self.core_fonts_encoding = ENCODING
        self.str_alias_nb_pages = ""  # customer text could contain "{nb}": no alias
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(True, margin=MARGIN + FOOTER_SPACE)
        self.c_margin = 1.5
        self.set_text_color(*INK)

    # Safety net: whatever reaches fpdf2 is drawable.
    def normalize_text(self, text: str) -> str:
        return super().normalize_text(pdf_text(text))

    def style(self, size: float, bold: bool = False, color: tuple[int, int, int] = INK) -> None:
        self.set_font("Helvetica", "B" if bold else "", size)
        self.set_text_color(*color)

    def wrap(self, text: str, width: float) -> list[str]:
        """`text` broken into the lines that fit `width` in the current font."""
        if not text.strip():
            return [""]
        lines = self.multi_cell(
            width, LINE_H, text, align=Align.L, dry_run=True, output=MethodReturnValue.LINES
        )
        # fpdf2 hands the lines back encoded (cp1252 bytes as latin-1 characters): undo it,
        # or the next cell would see control characters where the dashes and quotes were.
        return [
            line.encode("latin-1").decode(ENCODING, errors="replace")
            for line in cast(list[str], lines)
        ]

    def fit_cell(
        self, w: float, h: float, text: str, align: Align, size: float, bold: bool
    ) -> None:
        """One line in `w`: the font shrinks a little, then the text is cut short with "…"."""
        self.set_font("Helvetica", "B" if bold else "", size)
        room = w - 2 * self.c_margin
        smallest = max(5.0, size * 0.55)
        while size > smallest and self.get_string_width(text) > room:
            size = max(smallest, size - 0.5)
            self.set_font_size(size)
        if self.get_string_width(text) > room:
            while text and self.get_string_width(text + "\u2026") > room:
                text = text[:-1]
            text = text.rstrip() + "\u2026"
        self.cell(w, h, text, align=align, new_x=XPos.RIGHT, new_y=YPos.TOP)

    # -- page furniture ---------------------------------------------------------------

    def header(self) -> None:
        if self.page_no() > 1:
            self.style(7.5, color=MUTED)
            self.set_xy(MARGIN, MARGIN - 6)
            label = f"{_one_line(self.doc.title)} {_one_line(self.doc.number)} (continued)"
            self.cell(0, 4, label, align=Align.R)
            self.set_xy(MARGIN, MARGIN)
        if self.in_table:
            self.table_header()

    def footer(self) -> None:
        top = self.h - MARGIN - 6
        self.set_draw_color(*RULE)
        self.set_line_width(0.2)
        self.line(MARGIN, top, self.w - MARGIN, top)
        self.style(7.5, color=MUTED)
        self.set_xy(MARGIN, top + 1.5)
        self.cell(120, 4, FOOTER_NOTICE, align=Align.L)
        total = self.page_count if self.page_count is not None else self.pages_count
        self.set_xy(self.w - MARGIN - 60, top + 1.5)
        self.cell(60, 4, f"Page {self.page_no()} of {total}", align=Align.R)

    # -- blocks -----------------------------------------------------------------------

    def top(self) -> None:
        doc = self.doc
        left_w, right_w = 100.0, 75.0
        right_x = self.w - MARGIN - right_w

        self.set_xy(MARGIN, MARGIN)
        if self.seller:
            self.style(14, bold=True, color=ACCENT)
            self.multi_cell(
                left_w,
                6.5,
                _one_line(self.seller[0]),
                align=Align.L,
                new_x=XPos.LMARGIN,
                new_y=YPos.NEXT,
            )
            self.ln(0.8)
        self.style(8.5, color=MUTED)
        for line in self.seller[1:]:
            self.multi_cell(
                left_w, 4.2, _one_line(line), align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT
            )
        left_bottom = self.get_y()

        self.set_xy(right_x, MARGIN - 1)
        self.set_text_color(*INK)
        self.fit_cell(right_w, 10, _one_line(doc.title), Align.R, 22, bold=True)
        y = MARGIN + 12
        for label, value in (
            ("Number", _one_line(doc.number)),
            ("Date", f"{doc.issued_on:%Y-%m-%d}"),
        ):
            self.set_xy(right_x, y)
            self.style(8.5, color=MUTED)
            self.cell(24, 5, label, align=Align.R)
            self.set_text_color(*INK)
            self.fit_cell(right_w - 24, 5, value, Align.R, 9.5, bold=True)
            y += 5.2
        self.set_y(max(left_bottom, y) + 5)
        self.rule(ACCENT, 0.5)
        self.ln(6)

    def rule(self, color: tuple[int, int, int], width: float) -> None:
        self.set_draw_color(*color)
        self.set_line_width(width)
        self.line(MARGIN, self.get_y(), self.w - MARGIN, self.get_y())

    def bill_to(self) -> None:
        doc = self.doc
        start = self.get_y()
        self.style(7.5, bold=True, color=MUTED)
        self.cell(100, 4, "BILL TO", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(1)
        for i, line in enumerate(doc.bill_to):
            self.style(10 if i == 0 else 9.5, bold=i == 0)
            self.multi_cell(
                100, 4.8, _one_line(line), align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT
            )
        left_bottom = self.get_y()

        # The total, boxed on the right, for whoever only looks for one number.
        box_w, box_h = 62.0, 20.0
        box_x = self.w - MARGIN - box_w
        self.set_fill_color(*SHADE)
        self.rect(box_x, start, box_w, box_h, style="F")
        self.set_fill_color(*ACCENT)
        self.rect(box_x, start, 1.2, box_h, style="F")
        self.set_xy(box_x + 3, start + 3)
        self.style(7.5, bold=True, color=MUTED)
        self.cell(box_w - 6, 4, f"TOTAL ({doc.currency.upper()})", align=Align.R)
        self.set_xy(box_x + 3, start + 8.5)
        self.set_text_color(*ACCENT)
        self.fit_cell(box_w - 6, 8, format_money(doc.total, doc.currency), Align.R, 16, True)
        self.set_text_color(*INK)
        self.set_xy(MARGIN, max(left_bottom, start + box_h) + 8)

    def table_header(self) -> None:
        self.set_fill_color(*SHADE)
        self.style(8, bold=True, color=MUTED)
        self.set_x(MARGIN)
        for heading, width, align in COLUMNS:
            self.cell(width, HEADER_H, heading.upper(), align=align, fill=True)
        self.ln(HEADER_H)
        self.rule(ACCENT, 0.3)
        self.ln(0.3)
        self.set_text_color(*INK)

    def lines_table(self) -> None:
        self.in_table = True
        self.table_header()
        if not self.doc.lines:
            self.style(9, color=MUTED)
            self.cell(0, 10, "No items.", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        for line in self.doc.lines:
            self.row(line)
        self.in_table = False

    def row(self, line: DocumentLine) -> None:
        sku_w, desc_w = COLUMNS[0][1], COLUMNS[1][1]
        text_w = desc_w - 2 * self.c_margin

        self.set_font("Helvetica", "B", 8.5)
        sku_lines = self.wrap(_one_line(line.sku), sku_w)
        # (text, size, height, muted) for each line of the description column
        desc: list[tuple[str, float, float, bool]] = []
        self.set_font("Helvetica", "", 9)
        for text in self.wrap(_paragraph(line.description), desc_w):
            desc.append((text, 9, LINE_H, False))
        self.set_font("Helvetica", "", 7.5)
        for lot, expires in line.lots:
            label = f"Lot {_one_line(lot)} \u00b7 exp. {expires:%Y-%m-%d}"
            for text in self.wrap(label, text_w + 2 * self.c_margin):
                desc.append((text, 7.5, LOT_H, True))
        slots = max(len(sku_lines), len(desc))
        heights = [desc[i][2] if i < len(desc) else LINE_H for i in range(slots)]

        room = self.page_break_trigger - self.get_y()
        full_page = self.page_break_trigger - (MARGIN + HEADER_H + 0.6)
        needed = sum(heights) + 2 * ROW_PAD
        if needed > room and needed <= full_page:
            self.add_page()  # keep the row whole when it fits on one page

        x = MARGIN
        self.set_y(self.get_y() + ROW_PAD)
        for i in range(slots):
            h = heights[i]
            if self.get_y() + h > self.page_break_trigger:
                self.add_page()  # a row longer than a page: it goes on, under a new header
                self.set_y(self.get_y() + ROW_PAD)
            y = self.get_y()
            if i < len(sku_lines):
                self.set_xy(x, y)
                self.style(8.5, bold=True)
                self.cell(sku_w, LINE_H, sku_lines[i])
            if i < len(desc):
                text, size, _, muted = desc[i]
                self.set_xy(x + sku_w, y)
                self.style(size, color=MUTED if muted else INK)
                self.cell(desc_w, h, text)
            if i == 0:
                self.set_xy(x + sku_w + desc_w, y)
                self.set_text_color(*INK)
                amounts = (
                    f"{line.quantity:,}",
                    format_money(line.unit_amount, self.doc.currency),
                    format_money(line.line_total, self.doc.currency),
                )
                for (_, width, align), text, bold in zip(
                    COLUMNS[2:], amounts, (False, False, True), strict=True
                ):
                    self.fit_cell(width, LINE_H, text, align, 9, bold)
            self.set_y(y + h)
        self.set_y(self.get_y() + ROW_PAD)
        self.rule(RULE, 0.2)

    def totals(self) -> None:
        doc = self.doc
        rows: tuple[tuple[str, str], ...] = (
            ("Subtotal", format_money(doc.subtotal, doc.currency)),
            ("Shipping", format_money(doc.shipping, doc.currency)),
        )
        if doc.tax_label:
            rows += (
                ("Net", format_money(doc.subtotal + doc.shipping, doc.currency)),
                (doc.tax_label, format_money(doc.tax, doc.currency)),
            )
        block_h = 2 + 6 * len(rows) + 10
        if self.get_y() + block_h > self.page_break_trigger:
            self.add_page()
        self.ln(2)
        label_w, value_w = 60.0, 35.0
        x = self.w - MARGIN - label_w - value_w
        for label, value in rows:
            self.set_x(x)
            self.style(9, color=MUTED)
            self.cell(label_w, 6, label, align=Align.R)
            self.set_text_color(*INK)
            self.fit_cell(value_w, 6, value, Align.R, 9.5, False)
            self.ln(6)
        self.set_draw_color(*ACCENT)
        self.set_line_width(0.4)
        self.line(x + 10, self.get_y() + 0.8, self.w - MARGIN, self.get_y() + 0.8)
        self.ln(2)
        self.set_x(x)
        self.style(10.5, bold=True)
        self.cell(label_w, 8, f"Total ({doc.currency.upper()})", align=Align.R)
        self.set_text_color(*ACCENT)
        self.fit_cell(value_w, 8, format_money(doc.total, doc.currency), Align.R, 12, True)
        self.ln(14)
        self.set_text_color(*INK)

    def status_and_notes(self) -> None:
        doc = self.doc
        note = _paragraph(doc.status_note)
        if note:
            self.style(9.5, bold=True)
            lines = self.wrap(note, 180 - 8)
            height = 5 + 4.8 * len(lines) + 6
            if self.get_y() + min(height, 40) > self.page_break_trigger:
                self.add_page()
            start, page = self.get_y(), self.page_no()
            self.set_x(MARGIN + 4)
            self.style(7.5, bold=True, color=MUTED)
            self.cell(0, 4, "PAYMENT", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            self.ln(1)
            self.set_x(MARGIN + 4)
            self.style(9.5)
            self.multi_cell(180 - 8, 4.8, note, align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            if self.page_no() == page:  # a bar beside the note, unless it broke pages
                self.set_fill_color(*ACCENT)
                self.rect(MARGIN, start, 1.2, self.get_y() - start, style="F")
            self.ln(6)
        for paragraph in doc.notes:
            text = _paragraph(paragraph)
            if not text:
                continue
            self.style(8.5, color=MUTED)
            self.multi_cell(0, 4.4, text, align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            self.ln(2.5)

    def build(self) -> None:
        doc = self.doc
        title = _one_line(f"{doc.title} {doc.number}")
        self.set_title(title)
        self.set_subject(title)
        if self.seller:
            self.set_author(_one_line(self.seller[0]))
            self.set_creator(_one_line(self.seller[0]))
        self.set_lang("en")
        self.set_creation_date(datetime.combine(doc.issued_on, time(0, 0), tzinfo=UTC))
        self.add_page()
        self.top()
        self.bill_to()
        self.lines_table()
        self.totals()
        self.status_and_notes()


def render_pdf(doc: Document, *, seller: tuple[str, ...] | None = None) -> bytes:
    """The document as PDF bytes; the same document always gives the same bytes. The seller
    is the shop's (with SHOP_SELLER_VAT_ID) unless given.

    Raises ValueError when its amounts do not add up.
    """
    doc.check()
    seller = tuple(shop_seller() if seller is None else seller)
    # Drawn twice: the first pass counts the pages for "Page n of N".
    draft = _DocumentPDF(doc, seller, page_count=None)
    draft.build()
    final = _DocumentPDF(doc, seller, page_count=draft.pages_count)
    final.build()
    return bytes(final.output())
