"""The UDI packing slip: what goes in the box, lot by lot, each with the GS1 DataMatrix that
the box labels of medical devices carry: (01) GTIN, (17) expiry YYMMDD, (10) lot.

`packing_slip_for` decides what the slip shows from an order (the packs sold to it, as
allocated to lots); `render_packing_slip` draws it. A receiving clinic scans a code and gets
the device identifier and the production identifiers of the packs in hand.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

import zxingcpp
from fpdf import FPDF
from fpdf.enums import Align, XPos, YPos
from sqlalchemy import select

from shop.catalog.models import Variant
from shop.countries import country_name
from shop.extensions import db
from shop.orders.documents import (
    ACCENT,
    ENCODING,
    FOOTER_NOTICE,
    INK,
    MARGIN,
    MUTED,
    RULE,
    SELLER,
    pdf_text,
)
from shop.orders.models import AllocationState, Order
from shop.wording import packs


@dataclass(frozen=True)
class SlipLine:
    """Packs of one lot of one order line."""

    sku: str
    name: str
    pack_size: int
    lot_number: str
    expires_on: date
    packs: int
    gtin: str | None

    @property
    def udi(self) -> str | None:
        """The GS1 element string of the packs' UDI in human-readable form, or None when the
        variant has no GTIN (no device identifier to print)."""
        if not self.gtin:
            return None
        return f"(01){self.gtin.zfill(14)}(17){self.expires_on:%y%m%d}(10){self.lot_number}"


@dataclass(frozen=True)
class PackingSlip:
    number: str
    issued_on: date
    ship_to: tuple[str, ...]
    carrier: str
    tracking_number: str
    lines: tuple[SlipLine, ...]


def packing_slip_for(order: Order, *, today: date | None = None) -> PackingSlip:
    """The slip of an order: every pack sold to it, by line and lot, with the variants'
    GTINs as they are now (a GTIN identifies the product, not the sale)."""
    variant_ids = {line.variant_id for line in order.lines if line.variant_id is not None}
    gtins: dict[int, str | None] = {
        variant_id: gtin
        for variant_id, gtin in db.session.execute(
            select(Variant.id, Variant.gtin).where(Variant.id.in_(variant_ids))
        )
    }
    lines = tuple(
        SlipLine(
            sku=line.sku,
            name=line.name,
            pack_size=line.pack_size,
            lot_number=allocation.lot_number,
            expires_on=allocation.expires_on,
            packs=allocation.quantity,
            gtin=gtins.get(line.variant_id) if line.variant_id is not None else None,
        )
        for line in order.lines
        for allocation in line.allocations
        if allocation.state == AllocationState.SOLD
    )
    address = [order.company, order.contact_name, *order.shipping_address.splitlines()]
    address.append(country_name(order.country) if order.country else "")
    return PackingSlip(
        number=order.number or str(order.id),
        issued_on=today or date.today(),
        ship_to=tuple(part.strip() for part in address if part and part.strip()),
        carrier=order.carrier or "",
        tracking_number=order.tracking_number or "",
        lines=lines,
    )


def datamatrix_svg(element_string: str) -> bytes:
    """A square GS1 DataMatrix of an element string written as "(01)...(17)...(10)..."."""
    # Square symbols only: the rectangular ones zxing-cpp picks for some data (DMRE) are
    # not read by every scanner, and the slip prints every code the same square size.
    code = zxingcpp.create_barcode(
        element_string, zxingcpp.BarcodeFormat.DataMatrix, gs1=True, force_square=True
    )
    svg = _DESC.sub("", zxingcpp.write_barcode_to_svg(code))  # fpdf2 warns on <desc>
    # Scaled to any printed size by its viewBox, which zxing-cpp leaves out.
    return _SIZE.sub(r'<svg width="\1" height="\2" viewBox="0 0 \1 \2"', svg, count=1).encode()


_SIZE = re.compile(r'<svg width="(\d+)" height="(\d+)"')
_DESC = re.compile(r"<desc>.*?</desc>", re.DOTALL)


CODE_MM = 20.0  # the printed DataMatrix, square
ROW_MM = CODE_MM + 8.0
# (heading, width in mm); the widths fill the 180 mm between the margins
COLUMNS = (("Product", 62.0), ("Lot", 30.0), ("Expiry", 22.0), ("Packs", 16.0), ("UDI", 50.0))


class _SlipPDF(FPDF):
    def __init__(self, slip: PackingSlip) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.slip = slip
        self.core_fonts_encoding = ENCODING
        self.str_alias_nb_pages = ""
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(True, margin=MARGIN + 10)
        self.c_margin = 1.5

    def normalize_text(self, text: str) -> str:
        return super().normalize_text(pdf_text(text))

    def style(self, size: float, bold: bool = False, color: tuple[int, int, int] = INK) -> None:
        self.set_font("Helvetica", "B" if bold else "", size)
        self.set_text_color(*color)

    def footer(self) -> None:
        self.set_y(-MARGIN - 4)
        self.style(7.5, color=MUTED)
        self.cell(0, 4, FOOTER_NOTICE, align=Align.L)

    def heading(self) -> None:
        slip = self.slip
        self.style(14, bold=True, color=ACCENT)
        self.cell(100, 7, SELLER[0], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.style(8.5, color=MUTED)
        for line in SELLER[1:2]:
            self.cell(100, 4.2, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_xy(self.w - MARGIN - 80, MARGIN)
        self.style(20, bold=True)
        self.cell(80, 9, "Packing slip", align=Align.R, new_x=XPos.LEFT, new_y=YPos.NEXT)
        self.style(9)
        self.cell(80, 5, f"Order {slip.number}", align=Align.R, new_x=XPos.LEFT, new_y=YPos.NEXT)
        self.cell(80, 5, f"{slip.issued_on:%Y-%m-%d}", align=Align.R)
        self.set_xy(MARGIN, MARGIN + 26)
        self.style(8.5, bold=True, color=MUTED)
        self.cell(90, 5, "Ship to", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.style(9.5)
        for line in slip.ship_to:
            self.cell(90, 4.6, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        if slip.tracking_number:
            self.ln(1)
            self.style(8.5, color=MUTED)
            shipped = " ".join(p for p in (slip.carrier, slip.tracking_number) if p)
            self.cell(90, 4.6, f"Tracking: {shipped}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(4)

    def table_header(self) -> None:
        self.style(8.5, bold=True, color=MUTED)
        for title, width in COLUMNS:
            self.cell(width, 6, title, align=Align.L)
        self.ln(6)
        self.set_draw_color(*RULE)
        self.line(MARGIN, self.get_y(), self.w - MARGIN, self.get_y())

    def row(self, line: SlipLine) -> None:
        if self.will_page_break(ROW_MM):
            self.add_page()
            self.table_header()
        top = self.get_y() + 2
        x = MARGIN
        widths = [w for _, w in COLUMNS]
        self.set_xy(x, top)
        self.style(9, bold=True)
        self.multi_cell(widths[0], 4.4, line.sku, new_x=XPos.LEFT, new_y=YPos.NEXT)
        self.style(8.5)
        self.multi_cell(widths[0], 4.2, line.name, new_x=XPos.LEFT, new_y=YPos.NEXT)
        self.style(8, color=MUTED)
        self.multi_cell(widths[0], 4.2, f"{line.pack_size} needles per pack")
        x += widths[0]
        for width, text in zip(
            widths[1:4],
            (line.lot_number, f"{line.expires_on:%Y-%m-%d}", str(line.packs)),
            strict=True,
        ):
            self.set_xy(x, top)
            self.style(9.5, bold=True)
            self.cell(width, 5, text)
            x += width
        self.set_xy(x, top)
        udi = line.udi
        if udi is None:
            self.style(8, color=MUTED)
            self.multi_cell(widths[4], 4.2, "No GTIN on file for this product: no UDI code.")
        else:
            self.image(io.BytesIO(datamatrix_svg(udi)), x=x + 1.5, y=top, w=CODE_MM, h=CODE_MM)
            self.set_xy(x, top + CODE_MM + 0.5)
            self.style(6.5, color=MUTED)
            self.multi_cell(widths[4], 3, udi)
        self.set_y(top + ROW_MM - 2)
        self.set_draw_color(*RULE)
        self.line(MARGIN, self.get_y(), self.w - MARGIN, self.get_y())

    def build(self) -> None:
        self.add_page()
        self.heading()
        self.table_header()
        if not self.slip.lines:
            self.ln(4)
            self.style(9.5, color=MUTED)
            self.cell(0, 5, "Nothing has been sold to this order yet: no packs to pack.")
        for line in self.slip.lines:
            self.row(line)
        self.ln(4)
        self.style(9)
        total = sum(line.packs for line in self.slip.lines)
        self.cell(0, 5, f"{packs(total)} in all.")


def render_packing_slip(slip: PackingSlip) -> bytes:
    """The slip as PDF bytes."""
    pdf = _SlipPDF(slip)
    # The same slip gives the same bytes: the PDF's creation date is the slip's date.
    pdf.set_creation_date(datetime.combine(slip.issued_on, time(0, 0), tzinfo=UTC))
    pdf.build()
    return bytes(pdf.output())
