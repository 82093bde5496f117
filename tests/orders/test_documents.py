"""Invoice PDFs: built from plain Documents (and transient orders), read back with pypdf."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest
from pypdf import PdfReader

from shop.orders.documents import (
    FOOTER_NOTICE,
    SELLER,
    Document,
    DocumentLine,
    invoice_for,
    pdf_text,
    render_pdf,
)
from shop.orders.models import Allocation, Order, OrderLine

HOSTILE = (
    "Clinic 😀👍🏽🇩🇪 東京都港区 <script>alert(1)</script> مرحبا "
    "{nb} \x00\x07\t\ud800 \u200b\u200d\ufe0f e\u0301 ﬁ Ｆｕｌｌ ≤ → ✓ "
)


def line(
    sku: str = "MI-9P-32G-4MM-20",
    *,
    quantity: int = 2,
    unit_amount: int = 4500,
    description: str = "Multi-injector needle, 9 pins, 32G x 4 mm, 20 per pack",
    lots: tuple[tuple[str, date], ...] = (("L123", date(2029, 3, 31)),),
) -> DocumentLine:
    return DocumentLine(
        sku=sku,
        description=description,
        quantity=quantity,
        unit_amount=unit_amount,
        line_total=unit_amount * quantity,
        lots=lots,
    )


def document(lines: tuple[DocumentLine, ...] | None = None, **changes: object) -> Document:
    if lines is None:
        lines = (
            line(),
            line(
                "MN-32G-4MM-100",
                quantity=3,
                unit_amount=3900,
                description="Meso needle 32G x 4 mm, 100 per pack",
                lots=(("L456", date(2028, 11, 30)), ("L789", date(2029, 6, 30))),
            ),
        )
    subtotal = sum(item.line_total for item in lines)
    fields: dict[str, object] = {
        "title": "Invoice",
        "number": "2026-000123",
        "issued_on": date(2026, 11, 22),
        "currency": "usd",
        "bill_to": ("Clinique Lyon SARL", "Dr. Anne Martin", "12 rue de la Paix", "75002 Paris"),
        "lines": lines,
        "subtotal": subtotal,
        "shipping": 1500,
        "total": subtotal + 1500,
        "status_note": "Paid by card on 2026-11-22.",
        "notes": ("Shipped with DHL Express.",),
    }
    fields.update(changes)
    return Document(**fields)  # type: ignore[arg-type]


def read(pdf: bytes) -> tuple[PdfReader, list[str]]:
    reader = PdfReader(io.BytesIO(pdf))
    return reader, [page.extract_text() for page in reader.pages]


def test_invoice_shows_seller_customer_lines_lots_and_totals() -> None:
    pdf = render_pdf(document())
    assert pdf.startswith(b"%PDF")
    reader, pages = read(pdf)
    assert len(pages) == 1
    text = pages[0]
    for expected in (
        "Meso Needle Works",
        "VAT ID",
        "Invoice",
        "2026-000123",
        "2026-11-22",
        "Clinique Lyon SARL",
        "75002 Paris",
        "MI-9P-32G-4MM-20",
        "Multi-injector needle, 9 pins",
        "MN-32G-4MM-100",
        "Lot L123 · exp. 2029-03-31",
        "Lot L456 · exp. 2028-11-30",
        "Lot L789 · exp. 2029-06-30",
        "$45.00",  # unit price
        "$90.00",  # line total
        "$117.00",
        "$207.00",  # subtotal
        "$15.00",  # shipping
        "$222.00",  # total
        "Paid by card on 2026-11-22.",
        "Shipped with DHL Express.",
        "Page 1 of 1",
        FOOTER_NOTICE,
    ):
        assert expected in text, expected


def test_metadata_is_set_and_output_deterministic() -> None:
    doc = document()
    pdf = render_pdf(doc)
    assert render_pdf(doc) == pdf
    reader, _ = read(pdf)
    meta = reader.metadata
    assert meta is not None
    assert meta.title == "Invoice 2026-000123"
    assert meta.author == SELLER[0]
    assert meta.creation_date is not None
    assert meta.creation_date.date() == date(2026, 11, 22)


def test_euro_amounts_and_typographic_characters_survive() -> None:
    text = read(
        render_pdf(
            document(
                currency="EUR",
                notes=("Valid 30 days – “net” prices, 9 × 4 mm",),
            )
        )
    )[1][0]
    assert "€222.00" in text
    assert "Valid 30 days – “net” prices, 9 × 4 mm" in text


def test_sixty_lines_span_pages_with_the_header_repeated() -> None:
    lines = tuple(
        line(f"SKU-{i:03d}", quantity=i + 1, lots=((f"L{i:03d}", date(2029, 1, 1)),))
        for i in range(60)
    )
    _, pages = read(render_pdf(document(lines)))
    assert len(pages) >= 3
    total = len(pages)
    text = "\n".join(pages)
    assert "Page 2 of" in text
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {total}" in page
        assert "UNIT PRICE" in page  # the table header, on every page with rows
        assert FOOTER_NOTICE in page
    for i in range(60):
        assert f"SKU-{i:03d}" in text
        assert f"Lot L{i:03d} · exp. 2029-01-01" in text
    assert "(continued)" in pages[1]


def test_a_line_with_more_lots_than_a_page_holds_carries_on() -> None:
    lots = tuple((f"LOT{i:04d}", date(2030, 1, 1)) for i in range(150))
    _, pages = read(render_pdf(document((line(lots=lots),))))
    assert len(pages) >= 2
    text = "\n".join(pages)
    assert "LOT0000" in text and "LOT0149" in text


def test_hostile_text_everywhere_does_not_crash() -> None:
    hostile_line = line(
        HOSTILE + "x" * 300, description=HOSTILE * 5, lots=((HOSTILE, date(2029, 1, 1)),)
    )
    doc = document(
        (hostile_line,),
        title=HOSTILE,
        number=HOSTILE,
        bill_to=(HOSTILE, HOSTILE * 3, "", "\n\n"),
        status_note=HOSTILE,
        notes=(HOSTILE, "", "\n"),
    )
    pdf = render_pdf(doc, seller=(HOSTILE, HOSTILE))
    assert pdf.startswith(b"%PDF")
    text = "\n".join(read(pdf)[1])
    assert "<script>alert(1)</script>" in text
    assert "Page 1 of" in text


def test_no_lines_and_no_seller_still_render() -> None:
    pdf = render_pdf(document((), shipping=0, total=0, status_note="", notes=()), seller=())
    assert "No items." in read(pdf)[1][0]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("plain ASCII", "plain ASCII"),
        ("Zoë Łukasik", "Zoë Lukasik"),
        ("e\u0301", "é"),
        ("≤ 5 → ok ✓", "<= 5 -> ok v"),
        ("Ｆｕｌｌ ﬁ", "Full fi"),
        ("€ – — “q” ‘s’ …", "€ – — “q” ‘s’ …"),
        ("東京", "??"),
        ("😀", "?"),
        ("👍🏽", "?"),
        ("a\u200bb\u00adc", "abc"),
        ("tab\tcr\r\nlf", "tab cr\nlf"),
        ("\ud800", "?"),
    ],
)
def test_pdf_text_maps_to_windows_1252(raw: str, expected: str) -> None:
    assert pdf_text(raw) == expected
    pdf_text(raw).encode("windows-1252")


def test_total_must_add_up() -> None:
    with pytest.raises(ValueError, match="total"):
        document(total=1)
    with pytest.raises(ValueError, match="subtotal"):
        document(subtotal=1, total=1 + 1500)


def test_line_total_must_add_up() -> None:
    with pytest.raises(ValueError, match="line_total"):
        DocumentLine(sku="A", description="a", quantity=2, unit_amount=100, line_total=201)


def test_money_must_be_integer_cents() -> None:
    with pytest.raises(TypeError):
        DocumentLine(sku="A", description="a", quantity=1, unit_amount=1.5, line_total=1.5)  # type: ignore[arg-type]


def test_render_checks_a_document_again() -> None:
    doc = document()
    object.__setattr__(doc, "total", doc.total + 1)  # bypassing the frozen dataclass
    with pytest.raises(ValueError):
        render_pdf(doc)


# -- from an order ----------------------------------------------------------------------


def allocation(lot: str, expires: date, state: str, quantity: int = 1) -> Allocation:
    return Allocation(lot_id=1, lot_number=lot, expires_on=expires, quantity=quantity, state=state)


def make_order(**changes: object) -> Order:
    fields: dict[str, object] = {
        "id": 42,
        "number": "2026-000042",
        "token": "t",
        "status": "paid",
        "payment_method": "card",
        "email": "anne@example.com",
        "contact_name": "Dr. Anne Martin",
        "company": "Clinique Lyon SARL",
        "phone": "",
        "shipping_address": "12 rue de la Paix\n\n75002 Paris\n",
        "country": "fr",
        "currency": "eur",
        "subtotal": 4500 * 3 + 3900,
        "shipping_amount": 0,
        "total": 4500 * 3 + 3900,
        "tax_amount": 0,
        "tax_rate": 0,
        "tax_treatment": "reverse_charge",
        "buyer_vat_id": "FR40303265045",
        "amount_refunded": 0,
        "created_at": datetime(2026, 11, 21, 23, 30, tzinfo=UTC),
        "paid_at": datetime(2026, 11, 22, 9, 0, tzinfo=UTC),
        "lines": [
            OrderLine(
                sku="MI-9P-32G-4MM-20",
                name="Multi-injector needle, 9 pins, 32G x 4 mm, 20 per pack",
                pack_size=20,
                quantity=3,
                unit_amount=4500,
                line_total=13500,
                tax_amount=0,
                allocations=[
                    allocation("L100", date(2029, 3, 31), "sold", 2),
                    allocation("L-RELEASED", date(2027, 1, 31), "released"),
                    allocation("L200", date(2029, 6, 30), "sold"),
                ],
            ),
            OrderLine(
                sku="MN-32G-4MM-100",
                name="Meso needle 32G x 4 mm, 100 per pack",
                pack_size=100,
                quantity=1,
                unit_amount=3900,
                line_total=3900,
                tax_amount=0,
                allocations=[allocation("L300", date(2028, 12, 31), "reserved")],
            ),
        ],
    }
    fields.update(changes)
    return Order(**fields)


def test_invoice_for_an_order() -> None:
    doc = invoice_for(make_order())
    assert doc.title == "Invoice"
    assert doc.number == "2026-000042"
    assert doc.issued_on == date(2026, 11, 21)
    assert doc.currency == "eur"
    assert doc.bill_to == (
        "Clinique Lyon SARL",
        "Dr. Anne Martin",
        "12 rue de la Paix",
        "75002 Paris",
        "France",
        "VAT ID FR40303265045",
    )
    assert [(item.sku, item.quantity, item.line_total) for item in doc.lines] == [
        ("MI-9P-32G-4MM-20", 3, 13500),
        ("MN-32G-4MM-100", 1, 3900),
    ]
    assert doc.lines[0].lots == (("L100", date(2029, 3, 31)), ("L200", date(2029, 6, 30)))
    assert doc.lines[1].lots == (("L300", date(2028, 12, 31)),)
    assert (doc.subtotal, doc.shipping, doc.total) == (17400, 0, 17400)
    assert doc.status_note == "Paid by card on 2026-11-22."

    text = read(render_pdf(doc))[1][0]
    assert "Lot L100 · exp. 2029-03-31" in text
    assert "Lot L300 · exp. 2028-12-31" in text
    assert "L-RELEASED" not in text
    assert "€174.00" in text
    assert "Reverse charge" in text and "VAT ID DE136695976" in text


def test_a_reverse_charge_invoice_names_the_article_and_both_vat_ids() -> None:
    doc = invoice_for(make_order())
    assert (doc.subtotal, doc.shipping, doc.tax, doc.total) == (17400, 0, 0, 17400)
    assert doc.tax_label == "Reverse charge"
    text = " ".join(read(render_pdf(doc))[1][0].split())
    assert (
        "Reverse charge: VAT to be accounted for by the recipient (Art. 196 Council "
        "Directive 2006/112/EC). Seller's VAT ID DE136695976; buyer's VAT ID FR40303265045."
    ) in text
    assert "VAT ID FR40303265045" in text  # under the buyer's address too


def test_a_domestic_invoice_shows_net_vat_and_gross() -> None:
    order = make_order(
        country="DE",
        tax_treatment="domestic",
        tax_rate=1900,
        tax_amount=2565 + 741,
        total=17400 + 2565 + 741,
        buyer_vat_id="",
    )
    order.lines[0].tax_amount = 2565
    order.lines[1].tax_amount = 741
    doc = invoice_for(order)
    assert (doc.subtotal, doc.tax, doc.total) == (17400, 3306, 20706)
    text = " ".join(read(render_pdf(doc))[1][0].split())
    assert "Net €174.00" in text
    assert "VAT 19 % (Germany) €33.06" in text
    assert "€207.06" in text
    assert "Reverse charge" not in text and "export" not in text.lower()
    assert "VAT ID DE136695976" in text  # the seller's


def test_an_export_invoice_says_it_is_tax_free() -> None:
    doc = invoice_for(make_order(country="CH", tax_treatment="export", buyer_vat_id=""))
    text = " ".join(read(render_pdf(doc))[1][0].split())
    assert "Export: no VAT €0.00" in text
    assert "Tax-free export delivery (§ 4 No. 1a UStG)." in text


def test_invoice_for_an_unnumbered_order_awaiting_transfer() -> None:
    order = make_order(
        number=None,
        status="awaiting_transfer",
        payment_method="bank_transfer",
        paid_at=None,
        company="",
        country="xk",
        reserved_until=datetime(2026, 11, 28, 12, 0, tzinfo=UTC),
    )
    doc = invoice_for(order, bank_details="IBAN DE00 1234")
    assert doc.number == "ORDER-42"
    assert doc.bill_to[0] == "Dr. Anne Martin"
    assert doc.bill_to[-2] == "XK"  # a code pycountry does not know stays as it is
    assert "€174.00" in doc.status_note
    assert "IBAN DE00 1234" in doc.status_note
    assert "ORDER-42" in doc.status_note
    assert "2026-11-28" in doc.status_note
    assert "ORDER-42" in read(render_pdf(doc))[1][0]


def test_invoice_for_a_shipped_and_refunded_order() -> None:
    order = make_order(
        status="shipped",
        shipped_at=datetime(2026, 11, 23, 8, 0, tzinfo=UTC),
        carrier="DHL",
        tracking_number="JD0001",
        amount_refunded=3900,
    )
    doc = invoice_for(order)
    assert "Paid by card on 2026-11-22." in doc.status_note
    assert "Refunded in part: €39.00." in doc.status_note
    assert doc.notes[1:] == ("Shipped on 2026-11-23 with DHL, tracking number JD0001.",)
