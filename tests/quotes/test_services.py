"""The quote's rules without HTTP: states and their history (money typed by staff is read
by shop.money, tested in tests/test_money.py)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from flask import Flask

from shop.errors import ValidationError
from shop.extensions import db
from shop.orders.models import PaymentMethod
from shop.quotes import services
from shop.quotes.models import BusinessType, Quote, QuoteStatus
from tests.factories import make_product, make_variant


def _request(app: Flask) -> Quote:
    variant = make_variant(product=make_product(), sku="MN-1", prices=((1, 3000), (50, 2500)))
    draft = services.RequestDraft(
        company="Clinics United",
        contact_name="Ana",
        email="Ana@Clinics.example",
        phone="1",
        country="ES",
        business_type=BusinessType.CLINIC_CHAIN,
        vat_number="",
        message="",
        lines=[
            services.LineDraft(0, "MN-1", "", 60, False, ""),
            services.LineDraft(1, "", "Custom 30G 13 mm", 10, True, ""),
        ],
    )
    quote = services.request_quote(draft)
    assert quote.lines[0].variant_id == variant.id
    return quote


def _send(quote: Quote, *, valid_until: date | None = None) -> None:
    services.send_quote(
        quote,
        unit_amounts=[2500, 900],
        shipping_amount=0,
        valid_until=valid_until or date.today() + timedelta(days=10),
        note="",
        actor="staff@shop.example",
    )


def test_prices_are_suggested_from_the_quantity_breaks(app: Flask) -> None:
    with app.test_request_context():
        quote = _request(app)
        assert [services.suggested_unit_amount(x) for x in quote.lines] == [2500, None]
        assert services.totals(quote) is None
        _send(quote)
        assert services.totals(quote) == services.Totals(
            2500 * 60 + 900 * 10, 0, 159000 + 33390, tax=31500 + 1890, tax_label="VAT 21 % (Spain)"
        )


def test_illegal_transitions_are_refused(app: Flask) -> None:
    with app.test_request_context():
        quote = _request(app)
        with pytest.raises(services.QuoteStateError):
            services.accept(quote, method=PaymentMethod.BANK_TRANSFER, shipping_address="x" * 12)
        with pytest.raises(services.QuoteStateError):
            services.decline(quote, reason="no", actor="ana@clinics.example")  # not quoted yet
        _send(quote)
        with pytest.raises(services.QuoteStateError):
            _send(quote)  # only new, expired or declined quotes are sent
        quote.status = QuoteStatus.PAID.value
        for target in QuoteStatus:
            with pytest.raises(services.QuoteStateError):
                services._move(quote, target, actor="tests")
        assert quote.history[-1].to_status == "quoted"


def test_send_refuses_dates_and_prices_that_cannot_stand(app: Flask) -> None:
    with app.test_request_context():
        quote = _request(app)
        with pytest.raises(ValidationError) as past:
            _send(quote, valid_until=date.today() - timedelta(days=1))
        assert "valid_until" in past.value.errors
        with pytest.raises(ValidationError):
            services.send_quote(
                quote,
                unit_amounts=[2500, 0],
                shipping_amount=0,
                valid_until=date.today(),
                note="",
                actor="staff",
            )


def test_expiry_sweeps_quoted_quotes_past_their_date(app: Flask) -> None:
    with app.test_request_context():
        quote = _request(app)
        _send(quote, valid_until=date.today())
        assert services.expire_due() == 0  # valid through its last day
        assert services.expire_due(date.today() + timedelta(days=1)) == 1
        assert quote.status == "expired"
        event = quote.history[-1]
        assert (event.actor, event.from_status, event.to_status) == ("shop", "quoted", "expired")
        db.session.rollback()


def test_the_worker_expires_quotes_past_their_date(app: Flask) -> None:
    from shop.mail.worker import run_once

    with app.app_context():
        quote = _request(app)
        _send(quote)
        quote.valid_until = date.today() - timedelta(days=1)
        db.session.commit()
        quote_id = quote.id
    with app.app_context():
        run_once()
    with app.app_context():
        assert db.session.get(Quote, quote_id).status == "expired"
