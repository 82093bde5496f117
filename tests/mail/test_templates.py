"""Every mail's plain text reads line by line as written, with "1 pack" and "2 packs"."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask, render_template

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "mail"
LINK = "https://shop.example/x/abc"


def _allocation(lot: str, quantity: int, state: str) -> SimpleNamespace:
    return SimpleNamespace(
        lot_number=lot, expires_on=date(2031, 4, 30), quantity=quantity, state=state
    )


def _order(status: str) -> SimpleNamespace:
    lines = [
        SimpleNamespace(
            quantity=1,
            sku="MI5-32G-1.5MM-20",
            name="Multi-Injector 5 Pins",
            line_total=4500,
            allocations=[_allocation("L-ONE", 1, "sold")],
        ),
        SimpleNamespace(
            quantity=3,
            sku="MN-32G-4MM-100",
            name="Meso Needle 32G",
            line_total=9000,
            allocations=[_allocation("L-TWO", 2, "sold"), _allocation("L-THREE", 1, "sold")],
        ),
    ]
    return SimpleNamespace(
        contact_name="Dr Ana Ruiz",
        number="MNW-000042",
        status=status,
        total=15000,
        shipping_amount=1500,
        net_total=15000,
        tax_amount=0,
        tax_label="Reverse charge",
        tax_note="Reverse charge: VAT to be accounted for by the recipient "
        "(Art. 196 Council Directive 2006/112/EC)",
        buyer_vat_id="ESA12345674",
        amount_paid=15000,
        reserved_until=datetime(2026, 12, 8, 12, 0, tzinfo=UTC),
        lines=lines,
        carrier="DHL",
        tracking_number="JD0001",
        company="Clinica Ruiz",
        shipping_address="Calle Mayor 1\n28013 Madrid",
        country="ES",
    )


def _quote() -> SimpleNamespace:
    lines = [
        SimpleNamespace(
            quantity=1,
            sku="MI5-32G-1.5MM-20",
            description="",
            private_label=False,
            note="",
            unit_amount=4500,
        ),
        SimpleNamespace(
            quantity=200,
            sku="",
            description="30G 13 mm needles in our blister",
            private_label=True,
            note="Artwork follows",
            unit_amount=2000,
        ),
    ]
    return SimpleNamespace(
        contact_name="Jana Vogel",
        reference="Q-2026-000007",
        company="Dermadist GmbH",
        valid_until=date(2027, 1, 31),
        staff_note="Prices include the blister tooling.",
        lines=lines,
    )


def _recall() -> SimpleNamespace:
    return SimpleNamespace(lot_number="L2405A", reason="Seal check failed on retained samples.")


def _refund() -> SimpleNamespace:
    return SimpleNamespace(amount=5520, reason="Two packs came back unopened.")


CONTEXTS: dict[str, dict[str, Any]] = {
    "recall_notice": {
        "recall": _recall(),
        "buyer": SimpleNamespace(
            contact_name="Dr Ana Ruiz", order_numbers=("MNW-000042", "MNW-000051")
        ),
    },
    "refund_made": {
        "order": SimpleNamespace(
            **{**vars(_order("paid")), "payment_method": "card", "amount_refunded": 5520}
        ),
        "refund": _refund(),
        "credit_note": LINK + "/credit-notes/7.pdf",
    },
    "order_confirmation": {"order": _order("paid")},
    "order_shipped": {"order": _order("shipped")},
    "payment_unfulfillable": {"order": _order("paid")},
    "quote_received": {"quote": _quote()},
    "quote_revised": {
        "quote": SimpleNamespace(**{**vars(_quote()), "version": 2}),
        "totals": SimpleNamespace(total=406000, shipping=1500, tax=0, tax_label="Export: no VAT"),
    },
    "staff_quote_requested": {
        "quote": SimpleNamespace(**{**vars(_quote()), "email": "jana@dermadist.example"}),
        "staff_link": LINK,
    },
    "staff_accept_failed": {
        "quote": SimpleNamespace(**{**vars(_quote()), "email": "jana@dermadist.example"}),
        "staff_link": LINK,
        "reason": "This quote expired on 31 January 2027 and can no longer be accepted.",
    },
    "staff_stock_short": {
        "quote": _quote(),
        "staff_link": LINK,
        "short": [SimpleNamespace(position=1, sku="MI5-32G-1.5MM-20", wanted=1, available=0)],
    },
    "staff_revision_asked": {
        "quote": SimpleNamespace(**{**vars(_quote()), "email": "jana@dermadist.example"}),
        "staff_link": LINK,
        "message": "",
    },
    "account_confirm": {
        "user": SimpleNamespace(name="Dr Ana Ruiz", email="ana@clinic.example"),
    },
    "account_reset": {
        "user": SimpleNamespace(name="", email="ana@clinic.example"),
    },
    "account_verification": {
        "user": SimpleNamespace(
            name="Dr Ana Ruiz",
            email="ana@clinic.example",
            company="Clinica Ruiz",
            verification_note="the licence number is not in the register",
        ),
        "verified": False,
    },
    "quote_sent": {
        "quote": _quote(),
        "totals": SimpleNamespace(
            total=483140, shipping=1500, tax=77140, tax_label="VAT 19 % (Germany)"
        ),
        "reissue": False,
    },
}
EXPECTED = {
    "account_confirm": [
        "Hello Dr Ana Ruiz,",
        "",
        "please confirm that ana@clinic.example is your address by following this link:",
        "",
        LINK,
        "",
        "The link works once, within two days. Orders you placed here earlier as a guest with "
        "this address join your account when you confirm it.",
        "",
        "If you did not create an account at Meso Needle Works, ignore this email: nothing "
        "happens without the link.",
        "",
        "Meso Needle Works",
    ],
    "account_reset": [
        "Hello ana@clinic.example,",
        "",
        "someone (we hope you) asked to choose a new password for your Meso Needle Works "
        "account. Choose it here:",
        "",
        LINK,
        "",
        "The link works once, within an hour. If you did not ask, ignore this email: your "
        "password stays as it is.",
        "",
        "Meso Needle Works",
    ],
    "account_verification": [
        "Hello Dr Ana Ruiz,",
        "",
        "we could not verify Clinica Ruiz as a healthcare professional buyer: the licence "
        "number is not in the register",
        "",
        "Update your professional registration or licence number on your account page, or "
        "reply to this email, and we will check again.",
        "",
        f"Your account: {LINK}",
        "",
        "Meso Needle Works",
    ],
    "quote_revised": [
        "Hello Jana Vogel,",
        "",
        "we have revised our quote Q-2026-000007 for Dermadist GmbH (version 2): $4,060.00 "
        "including shipping of $15.00 (Export: no VAT), valid until 31 January 2027.",
        "",
        "- 1 x MI5-32G-1.5MM-20 at $45.00: $45.00",
        "- 200 x 30G 13 mm needles in our blister (private label) at $20.00: $4,000.00",
        "",
        "Prices include the blister tooling.",
        "",
        "The earlier version no longer holds. See the new one, and accept and pay it or "
        f"decline it: {LINK}",
        "",
        "Meso Needle Works",
    ],
    "staff_stock_short": [
        "Dermadist GmbH tried to accept quote Q-2026-000007, but the stock promised is not "
        "there any more. Nothing was reserved or charged; the quote is still open.",
        "",
        "- Line 1, MI5-32G-1.5MM-20: 1 pack promised from stock, 0 packs in stock now",
        "",
        f"The buyer was offered to ask for a revised quote. Revise it or get the stock: {LINK}",
    ],
    "recall_notice": [
        "Hello Dr Ana Ruiz,",
        "",
        "we are recalling lot L2405A. Packs of it went to you with",
        "orders MNW-000042, MNW-000051.",
        "",
        "Why: Seal check failed on retained samples.",
        "",
        "Please do not use packs of lot L2405A. Set them apart and reply to",
        "this email: we will tell you how to return them and replace or refund them.",
        "The lot number is printed on every box and pouch, next to the expiry date.",
        "",
        "Meso Needle Works",
    ],
    "refund_made": [
        "Hello Dr Ana Ruiz,",
        "",
        "we have refunded $55.20 for your order MNW-000042.",
        "It goes back to the card you paid with; your bank shows it within a few days.",
        "Refunded for this order in all: $55.20 of $150.00.",
        "Reason: Two packs came back unopened.",
        "",
        f"Your credit note: {LINK}/credit-notes/7.pdf",
        f"Your order and invoice, at any time: {LINK}",
        "",
        "Meso Needle Works",
    ],
    "order_confirmation": [
        "Hello Dr Ana Ruiz,",
        "",
        "thank you for your order MNW-000042: we have received your payment of $150.00.",
        "",
        "- 1 x MI5-32G-1.5MM-20 Multi-Injector 5 Pins: $45.00",
        "    lot L-ONE, expires 2031-04-30, 1 pack",
        "- 3 x MN-32G-4MM-100 Meso Needle 32G: $90.00",
        "    lot L-TWO, expires 2031-04-30, 2 packs",
        "    lot L-THREE, expires 2031-04-30, 1 pack",
        "",
        "Shipping: $15.00",
        "Net: $150.00",
        "Reverse charge: $0.00",
        "Total: $150.00",
        "Your VAT ID: ESA12345674",
        "Reverse charge: VAT to be accounted for by the recipient (Art. 196 Council Directive "
        "2006/112/EC).",
        "",
        f"Your order and invoice, at any time: {LINK}",
        "",
        "Meso Needle Works",
    ],
    "order_shipped": [
        "Hello Dr Ana Ruiz,",
        "",
        "your order MNW-000042 has left our warehouse.",
        "",
        "Carrier: DHL",
        "Tracking number: JD0001",
        "",
        "- 1 x MI5-32G-1.5MM-20 Multi-Injector 5 Pins",
        "    lot L-ONE, expires 2031-04-30, 1 pack",
        "- 3 x MN-32G-4MM-100 Meso Needle 32G",
        "    lot L-TWO, expires 2031-04-30, 2 packs",
        "    lot L-THREE, expires 2031-04-30, 1 pack",
        "",
        "It goes to:",
        "Dr Ana Ruiz, Clinica Ruiz",
        "Calle Mayor 1",
        "28013 Madrid",
        "ES",
        "",
        f"Your order and invoice, at any time: {LINK}",
        "",
        "Meso Needle Works",
    ],
    "quote_received": [
        "Hello Jana Vogel,",
        "",
        "thank you for your request for a quote. Your reference is Q-2026-000007.",
        "",
        "- 1 pack of MI5-32G-1.5MM-20",
        "- 200 packs of 30G 13 mm needles in our blister, private label: Artwork follows",
        "",
        "We answer within two working days with prices, shipping and a validity date. Your "
        f"request, and then your quote, at any time: {LINK}",
        "",
        "Meso Needle Works",
    ],
    "quote_sent": [
        "Hello Jana Vogel,",
        "",
        "here is our quote Q-2026-000007 for Dermadist GmbH: $4,831.40 including shipping of "
        "$15.00 and VAT 19 % (Germany) of $771.40, valid until 31 January 2027.",
        "",
        "- 1 x MI5-32G-1.5MM-20 at $45.00: $45.00",
        "- 200 x 30G 13 mm needles in our blister (private label) at $20.00: $4,000.00",
        "",
        "Prices include the blister tooling.",
        "",
        "See the quote, download its pro-forma invoice, and accept and pay it (card or bank "
        f"transfer) or decline it: {LINK}",
        "",
        "Meso Needle Works",
    ],
}


def test_every_text_mail_template_is_checked_here() -> None:
    assert {p.stem for p in TEMPLATES.glob("*.txt")} == set(CONTEXTS)


@pytest.mark.parametrize("template", sorted(EXPECTED))
def test_a_text_mail_reads_line_by_line_as_written(app: Flask, template: str) -> None:
    with app.test_request_context():
        text = render_template(f"mail/{template}.txt", link=LINK, **CONTEXTS[template])
    assert text.splitlines() == EXPECTED[template]


@pytest.mark.parametrize("template", sorted(CONTEXTS))
def test_no_mail_says_1_packs(app: Flask, template: str) -> None:
    with app.test_request_context():
        for kind in ("txt", "html"):
            body = render_template(f"mail/{template}.{kind}", link=LINK, **CONTEXTS[template])
            assert "1 packs" not in body, kind
            assert "\n\n\n" not in body, kind


def test_the_unfulfillable_payment_mail_keeps_its_paragraphs(app: Flask) -> None:
    with app.test_request_context():
        text = render_template(
            "mail/payment_unfulfillable.txt", link=LINK, **CONTEXTS["payment_unfulfillable"]
        )
    paragraphs = text.strip().split("\n\n")
    assert paragraphs[0] == "Hello Dr Ana Ruiz,"
    assert paragraphs[1].startswith("we have received your payment of $150.00 for order")
    assert paragraphs[-2] == f"Your order, at any time: {LINK}"
    assert paragraphs[-1] == "Meso Needle Works"
    assert all("\n" not in p for p in paragraphs)
