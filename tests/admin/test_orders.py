"""The back office's orders: find, read, ship, cancel, refund (through the Stripe stand-in),
mark bank transfers paid; every action in the order's history."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, func, select

from shop import audit
from shop.extensions import db
from shop.inventory import services as inventory
from shop.inventory.models import StockMovement
from shop.mail.models import OutboxEmail
from shop.orders import services as orders
from shop.orders.models import Allocation, Order, OrderEvent, PaymentMethod
from tests.conftest import WEBHOOK_SECRET, csrf_token
from tests.factories import make_lot, make_product, make_variant
from tests.flows import CONTACT as BUYER
from tests.flows import add_to_cart, checkout, lots
from tests.flows import order as only_order
from tests.stripe_standin import StripeStandIn

STAFF = "staff@shop.example"
CONTACT = {k: v for k, v in BUYER.items() if k != "payment_method"}


# ---- helpers ----------------------------------------------------------------------------


@pytest.fixture
def stocked(stripe_app: Flask) -> Flask:
    """Card payment through the Stripe stand-in, and one variant at $30 a pack (10+ at
    $27.60) in two sellable lots."""
    app = stripe_app
    with app.app_context():
        variant = make_variant(
            product=make_product(slug="meso-32", name="Meso Needle 32G"),
            sku="MN-32G-4MM-100",
            prices=((1, 3000), (10, 2760)),
        )
        make_lot(variant, quantity=5, expires_in_days=600, lot_number="EARLY")
        make_lot(variant, quantity=30, expires_in_days=1200, lot_number="LATE")
        db.session.commit()
    return app


def _buy(client: FlaskClient, quantity: int, method: str = "card", **changes: str):  # type: ignore[no-untyped-def]
    assert add_to_cart(client, quantity).status_code == 303
    return checkout(client, payment_method=method, **changes)


def _paid_card_order(app: Flask, standin: StripeStandIn, quantity: int = 12) -> Order:
    """A buyer pays by card through the HTTP flow: 12 packs are EARLY x 5 and LATE x 7."""
    buyer = app.test_client()
    assert _buy(buyer, quantity).status_code == 303
    order = only_order(app)
    standin.complete(order.stripe_session_id)
    assert buyer.get(f"/checkout/success?session_id={order.stripe_session_id}").status_code == 303
    paid = only_order(app)
    assert paid.status == "paid" and paid.stripe_payment_intent
    return paid


def _allocation_ids(app: Flask) -> dict[str, int]:
    with app.app_context():
        return {
            a.lot_number: a.id
            for a in db.session.scalars(select(Allocation).where(Allocation.state == "sold"))
        }


def _returned(app: Flask) -> list[tuple[str, int, str, str]]:
    with app.app_context():
        return [
            (m.lot.lot_number, m.quantity, m.actor, m.reason)
            for m in db.session.scalars(
                select(StockMovement)
                .where(StockMovement.kind == "returned")
                .order_by(StockMovement.id)
            )
        ]


def _history(app: Flask) -> list[tuple[str, str, str]]:
    with app.app_context():
        return [
            (e.actor, e.action, e.note)
            for e in db.session.scalars(select(OrderEvent).order_by(OrderEvent.id))
        ]


def _form(client: FlaskClient, order: Order, action: str) -> dict[str, str]:
    """The hidden fields of one form on the order page (csrf_token, nonce), as a browser
    would send them."""
    html = client.get(f"/admin/orders/{order.number}").get_data(as_text=True)
    match = re.search(
        rf'<form[^>]*action="/admin/orders/{order.number}/{action}".*?</form>', html, re.S
    )
    assert match, f"no {action} form on the order page"
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', match[0]))


def _post(client: FlaskClient, order: Order, action: str, **fields: object):  # type: ignore[no-untyped-def]
    data = {**_form(client, order, action), **fields}
    return client.post(f"/admin/orders/{order.number}/{action}", data=data)


def _send(client: FlaskClient, event: dict):  # type: ignore[no-untyped-def]
    body, headers = StripeStandIn.webhook_request(event, WEBHOOK_SECRET)
    return client.post("/stripe/webhook", data=body, headers=headers)


@contextmanager
def counting(app: Flask) -> Iterator[list[str]]:
    """The SQL statements run while inside the block."""
    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _make_order(
    email: str,
    *,
    method: PaymentMethod = PaymentMethod.BANK_TRANSFER,
    created: datetime | None = None,
    lines: int = 1,
) -> Order:
    """An order made the way checkout makes one (stock reserved), inside an app context."""
    variants = [make_variant() for _ in range(lines)]
    for variant in variants:
        make_lot(variant, quantity=10)
    inventory.lock_stock()
    order = orders.create_order(
        [orders.LineRequest(v, 2, 3000) for v in variants],
        contact=orders.Contact(**{**CONTACT, "email": email}),
        method=method,
        shipping_amount=1500,
        currency="usd",
        reserved_until=datetime.now(UTC) + timedelta(days=7),
        actor="tests",
    )
    if created:
        order.created_at = created
    db.session.flush()
    return order


# ---- list -------------------------------------------------------------------------------


def test_list_filters_by_status_method_attention_dates_and_search(
    app: Flask, staff_client: FlaskClient
) -> None:
    with app.app_context():
        a = _make_order(
            "ana@a-clinic.example",
            method=PaymentMethod.CARD,
            created=datetime(2024, 1, 10, 9, tzinfo=UTC),
        )
        b = _make_order("ben@b-clinic.example", created=datetime(2024, 2, 10, 9, tzinfo=UTC))
        c = _make_order("cai@c-clinic.example", created=datetime(2024, 3, 10, 23, 30, tzinfo=UTC))
        orders.mark_paid(c, amount=c.total, currency="usd", actor="tests")
        c.needs_attention, c.attention_reason = True, "check the address"
        db.session.commit()
        numbers = {"a": a.number, "b": b.number, "c": c.number}

    def shown(query: str) -> set[str]:
        response = staff_client.get(f"/admin/orders?{query}")
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        return {k for k, n in numbers.items() if f">{n}</a>" in html}

    assert shown("") == {"a", "b", "c"}
    assert shown("status=paid") == {"c"}
    assert shown("method=bank_transfer") == {"b", "c"}
    assert shown("method=card") == {"a"}
    assert shown("attention=y") == {"c"}
    assert shown("created_from=2024-02-01&created_to=2024-03-10") == {"b", "c"}
    assert shown("created_to=2024-02-10") == {"a", "b"}
    assert shown("q=BEN@b-clinic") == {"b"}
    assert shown(f"q={numbers['a']}") == {"a"}
    assert shown("q=%25") == set()  # a LIKE wildcard is taken literally
    html = staff_client.get("/admin/orders?created_from=yesterday").get_data(as_text=True)
    assert "Not a valid date value." in html and 'aria-invalid="true"' in html
    assert shown("status=nonsense&method=card") == {"a"}


def test_list_is_paginated_with_a_fixed_number_of_queries(
    app: Flask, staff_client: FlaskClient
) -> None:
    with app.app_context():
        _make_order("first@clinic.example")
        db.session.commit()
    with counting(app) as few:
        assert staff_client.get("/admin/orders").status_code == 200
    with app.app_context():
        for i in range(60):
            _make_order(f"buyer{i}@clinic.example")
        db.session.commit()
    with counting(app) as many:
        page = staff_client.get("/admin/orders?method=bank_transfer")
    assert len(many) == len(few)
    html = page.get_data(as_text=True)
    assert "61 orders, page 1 of 2" in html and "Older orders" in html
    second = staff_client.get("/admin/orders?method=bank_transfer&page=2").get_data(as_text=True)
    assert "page 2 of 2" in second and "first@clinic.example" in second


def test_order_page_queries_do_not_grow_with_lines(app: Flask, staff_client: FlaskClient) -> None:
    with app.app_context():
        one = _make_order("one@clinic.example").number
        three = _make_order("three@clinic.example", lines=3).number
        db.session.commit()
    with counting(app) as small:
        assert staff_client.get(f"/admin/orders/{one}").status_code == 200
    with counting(app) as large:
        assert staff_client.get(f"/admin/orders/{three}").status_code == 200
    assert len(small) == len(large)
    assert staff_client.get("/admin/orders/1999-999999").status_code == 404


# ---- the order page ---------------------------------------------------------------------


def test_order_page_shows_lines_lots_payment_contact_and_history(
    stocked: Flask, stripe_standin: StripeStandIn, staff_client: FlaskClient
) -> None:
    order = _paid_card_order(stocked, stripe_standin)
    html = staff_client.get(f"/admin/orders/{order.number}").get_data(as_text=True)
    assert f"<h1>Order {order.number}</h1>" in html
    assert "EARLY (" in html and "LATE (" in html and "5 sold" in html and "7 sold" in html
    assert order.stripe_session_id in html and order.stripe_payment_intent in html
    assert "$418.90" in html and "Calle Mayor 1" in html and "buyer@clinic.example" in html
    assert "checkout session" in html and "return page" in html  # history: what and who
    assert "Mark shipped" in html and "Refund through Stripe" in html
    assert "VAT 21 % (Spain)" in html and "$72.70" in html
    assert "Cancel and refund $418.90" in html
    assert "Bank transfer received" not in html


# ---- ship -------------------------------------------------------------------------------


def test_ship_emails_the_buyer_and_records_history(
    stocked: Flask, stripe_standin: StripeStandIn, staff_client: FlaskClient
) -> None:
    order = _paid_card_order(stocked, stripe_standin)
    response = _post(
        staff_client, order, "ship", carrier="DHL Express", tracking_number="JD0146 0012"
    )
    assert response.status_code == 303
    shipped = only_order(stocked)
    assert shipped.status == "shipped" and shipped.shipped_at is not None
    assert (shipped.carrier, shipped.tracking_number) == ("DHL Express", "JD0146 0012")
    with stocked.app_context():
        mail = db.session.scalars(
            select(OutboxEmail).where(OutboxEmail.subject.contains("shipped"))
        ).one()
        assert mail.to == "buyer@clinic.example"
        assert "DHL Express" in mail.body_text and "JD0146 0012" in mail.body_text
        assert f"/orders/{order.token}" in mail.body_text and "lot EARLY" in mail.body_text
        assert "JD0146 0012" in mail.body_html
    assert (STAFF, "shipped", "DHL Express, tracking number JD0146 0012") in _history(stocked)
    page = staff_client.get(response.location).get_data(as_text=True)
    assert "is shipped" in page and "Mark shipped" not in page
    # Shipping twice is refused, with a reason, and sends nothing more.
    again = staff_client.post(
        f"/admin/orders/{order.number}/ship",
        data={
            "carrier": "UPS",
            "tracking_number": "1Z",
            "csrf_token": csrf_token(staff_client, "/admin/"),
        },
    )
    assert "Only a paid order can be shipped" in staff_client.get(again.location).get_data(
        as_text=True
    )
    with stocked.app_context():
        assert db.session.scalar(select(func.count()).select_from(OutboxEmail)) == 2


def test_ship_needs_carrier_and_tracking_and_a_paid_order(
    app: Flask, staff_client: FlaskClient
) -> None:
    with app.app_context():
        unpaid = _make_order("unpaid@clinic.example").number
        paid = _make_order("paid@clinic.example")
        orders.mark_paid(paid, amount=paid.total, currency="usd", actor="tests")
        paid = paid.number
        db.session.commit()
    token = csrf_token(staff_client, "/admin/")
    response = staff_client.post(
        f"/admin/orders/{paid}/ship",
        data={"carrier": "", "tracking_number": " ", "csrf_token": token},
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Enter the carrier." in html and 'aria-describedby="carrier-error"' in html
    assert "Enter the tracking number." in html
    refused = staff_client.post(
        f"/admin/orders/{unpaid}/ship",
        data={"carrier": "DHL", "tracking_number": "1", "csrf_token": token},
    )
    assert refused.status_code == 303
    page = staff_client.get(refused.location).get_data(as_text=True)
    assert "Only a paid order can be shipped" in page
    with app.app_context():
        statuses = dict(db.session.execute(select(Order.number, Order.status)).all())
    assert statuses == {unpaid: "awaiting_transfer", paid: "paid"}


# ---- cancel -----------------------------------------------------------------------------


def test_cancel_open_card_order_closes_the_session_and_releases_stock(
    stocked: Flask, stripe_standin: StripeStandIn, staff_client: FlaskClient
) -> None:
    _buy(stocked.test_client(), 7)
    order = only_order(stocked)
    assert lots(stocked) == {"EARLY": (5, 5), "LATE": (30, 2)}
    response = _post(staff_client, order, "cancel", cancel_reason="buyer phoned: wrong gauge")
    assert response.status_code == 303
    assert only_order(stocked).status == "cancelled"
    assert lots(stocked) == {"EARLY": (5, 0), "LATE": (30, 0)}
    assert stripe_standin.sessions[order.stripe_session_id]["status"] == "expired"
    assert (STAFF, "cancelled", "buyer phoned: wrong gauge") in _history(stocked)


def test_cancel_with_stripe_down_changes_nothing(
    stocked: Flask, stripe_standin: StripeStandIn, staff_client: FlaskClient
) -> None:
    _buy(stocked.test_client(), 3)
    order = only_order(stocked)
    stripe_standin.down = True
    response = _post(staff_client, order, "cancel", cancel_reason="buyer asked")
    assert response.status_code == 503
    assert "Stripe could not be reached" in response.get_data(as_text=True)
    assert only_order(stocked).status == "pending_payment"
    assert lots(stocked)["EARLY"] == (5, 3)
    stripe_standin.down = False
    assert stripe_standin.sessions[order.stripe_session_id]["status"] == "open"


def test_cancel_bank_transfer_order_releases_stock(
    stocked: Flask, staff_client: FlaskClient
) -> None:
    _buy(stocked.test_client(), 3, method="bank_transfer")
    order = only_order(stocked)
    assert lots(stocked)["EARLY"] == (5, 3)
    assert _post(staff_client, order, "cancel", cancel_reason="").status_code == 303
    assert only_order(stocked).status == "cancelled"
    assert lots(stocked)["EARLY"] == (5, 0)
    assert (STAFF, "cancelled", "cancelled by staff") in _history(stocked)


def test_cancel_open_order_that_was_paid_meanwhile_keeps_the_payment(
    stocked: Flask, stripe_standin: StripeStandIn, staff_client: FlaskClient
) -> None:
    _buy(stocked.test_client(), 3)
    order = only_order(stocked)
    stripe_standin.complete(order.stripe_session_id)  # no webhook yet
    response = _post(staff_client, order, "cancel")
    assert "reached Stripe first" in staff_client.get(response.location).get_data(as_text=True)
    assert only_order(stocked).status == "paid"
    assert lots(stocked)["EARLY"] == (2, 0)


def test_cancel_paid_order_refunds_in_full_and_restocks(
    stocked: Flask, stripe_standin: StripeStandIn, staff_client: FlaskClient
) -> None:
    order = _paid_card_order(stocked, stripe_standin)
    assert lots(stocked) == {"EARLY": (0, 0), "LATE": (23, 0)}
    response = _post(staff_client, order, "cancel", cancel_reason="clinic closed", restock_all="y")
    assert response.status_code == 303
    cancelled = only_order(stocked)
    assert cancelled.status == "cancelled" and cancelled.amount_refunded == 41890
    charge = stripe_standin.charge_object(order.stripe_session_id)
    assert charge["amount_refunded"] == 41890 and charge["refunded"] is True
    assert lots(stocked) == {"EARLY": (5, 0), "LATE": (30, 0)}
    assert sorted(r[:2] for r in _returned(stocked)) == [("EARLY", 5), ("LATE", 7)]
    actions = [a for who, a, _ in _history(stocked) if who == STAFF]
    assert actions == ["refund requested", "refunded", "cancelled"]


def test_shipped_order_cannot_be_cancelled(
    stocked: Flask, stripe_standin: StripeStandIn, staff_client: FlaskClient
) -> None:
    order = _paid_card_order(stocked, stripe_standin)
    _post(staff_client, order, "ship", carrier="DHL", tracking_number="1")
    response = staff_client.post(
        f"/admin/orders/{order.number}/cancel",
        data={"nonce": "n" * 22, "csrf_token": csrf_token(staff_client, "/admin/")},
    )
    assert "cannot be cancelled" in staff_client.get(response.location).get_data(as_text=True)
    assert only_order(stocked).status == "shipped" and stripe_standin.refunds == {}


# ---- refunds ----------------------------------------------------------------------------


def test_full_refund_with_restock_then_webhooks_find_nothing_new(
    stocked: Flask, stripe_standin: StripeStandIn, staff_client: FlaskClient
) -> None:
    order = _paid_card_order(stocked, stripe_standin)
    ids = _allocation_ids(stocked)
    response = _post(
        staff_client,
        order,
        "refund",
        refund_amount="418.90",
        refund_reason="wrong needles sent",
        **{f"restock_{ids['EARLY']}": "5", f"restock_{ids['LATE']}": "7"},
    )
    assert response.status_code == 303
    refunded = only_order(stocked)
    assert refunded.amount_refunded == 41890 and refunded.status == "paid"
    (refund,) = stripe_standin.refunds.values()
    assert refund["amount"] == 41890 and refund["payment_intent"] == order.stripe_payment_intent
    assert refund["metadata"] == {
        "order_id": str(order.id),
        "order_number": order.number,
        "refund_request": refund["metadata"]["refund_request"],
    }
    assert refund["metadata"]["refund_request"].startswith(f"refund-{order.id}-")
    assert stripe_standin.charge_object(order.stripe_session_id)["amount_refunded"] == 41890
    assert lots(stocked) == {"EARLY": (5, 0), "LATE": (30, 0)}
    reason = f"order {order.number} returned"
    assert sorted(_returned(stocked)) == [("EARLY", 5, STAFF, reason), ("LATE", 7, STAFF, reason)]
    ((who, action, note),) = [e for e in _history(stocked) if e[1] == "refunded"]
    assert who == STAFF and note.startswith(f"{refund['id']}: $418.90 refunded")
    assert "wrong needles sent" in note and "5 × MN-32G-4MM-100 lot EARLY" in note
    page = staff_client.get(response.location).get_data(as_text=True)
    assert "Refund made: $418.90 of $418.90 refunded in all." in page
    assert "Refund through Stripe" not in page  # nothing remains to refund
    # Stripe's events about the same refund change nothing.
    assert (
        _send(staff_client, stripe_standin.event("refund.created", refund)).get_json()["outcome"]
        == "no change"
    )
    charge = stripe_standin.charge_object(order.stripe_session_id)
    assert (
        _send(staff_client, stripe_standin.event("charge.refunded", charge)).get_json()["outcome"]
        == "no change"
    )
    assert only_order(stocked).amount_refunded == 41890


def test_partial_refund_restocks_the_chosen_packs_and_never_more_than_remains(
    stocked: Flask, stripe_standin: StripeStandIn, staff_client: FlaskClient
) -> None:
    order = _paid_card_order(stocked, stripe_standin)
    ids = _allocation_ids(stocked)
    late = f"restock_{ids['LATE']}"
    response = _post(staff_client, order, "refund", refund_amount="55,20", **{late: "2"})
    assert response.status_code == 303
    assert only_order(stocked).amount_refunded == 5520
    assert lots(stocked) == {"EARLY": (0, 0), "LATE": (25, 0)}
    assert [r[:2] for r in _returned(stocked)] == [("LATE", 2)]
    html = staff_client.get(f"/admin/orders/{order.number}").get_data(as_text=True)
    assert "7 sold, 2 back in stock" in html and "7 sold, 5 can go back" in html
    # More packs than are left of the lot, or more money than remains: refused, nothing sent.
    too_many = _post(staff_client, order, "refund", refund_amount="1.00", **{late: "6"})
    assert too_many.status_code == 422
    assert "Enter a number from 0 to 5." in too_many.get_data(as_text=True)
    too_much = _post(staff_client, order, "refund", refund_amount="363.71")
    assert too_much.status_code == 422
    assert "At most $363.70 remains to be refunded" in too_much.get_data(as_text=True)
    for bad, message in (
        ("12.505", "“12.505” could be read two ways"),
        ("1e3", "Enter an amount like 45.00."),
        ("-5", "Enter an amount above zero."),
        ("twelve", "Enter an amount like 45.00."),
    ):
        bad_amount = _post(staff_client, order, "refund", refund_amount=bad)
        assert bad_amount.status_code == 422
        assert message in bad_amount.get_data(as_text=True)
    assert len(stripe_standin.refunds) == 1
    # The rest, in a second refund.
    assert _post(staff_client, order, "refund", refund_amount="363.70").status_code == 303
    assert only_order(stocked).amount_refunded == 41890
    assert stripe_standin.charge_object(order.stripe_session_id)["amount_refunded"] == 41890


def test_a_refund_of_packs_going_back_works_out_its_amount_and_tells_the_buyer(
    stocked: Flask, stripe_standin: StripeStandIn, staff_client: FlaskClient
) -> None:
    order = _paid_card_order(stocked, stripe_standin)  # 12 packs at $27.60
    ids = _allocation_ids(stocked)
    nothing = _post(staff_client, order, "refund", refund_amount="")
    assert nothing.status_code == 422
    assert "Enter the amount to refund, or the packs going back" in nothing.get_data(as_text=True)
    page = staff_client.get(f"/admin/orders/{order.number}").get_data(as_text=True)
    assert 'data-unit-amount="2760"' in page and "/static/js/refund.js" in page

    response = _post(
        staff_client,
        order,
        "refund",
        refund_amount="",
        refund_reason="two packs came back unopened",
        **{f"restock_{ids['LATE']}": "2"},
    )
    assert response.status_code == 303
    paid = only_order(stocked)
    # The packs' net price and their share of the line's VAT (21 % of 12 packs: $69.55).
    assert paid.amount_refunded == 2 * 2760 + 1159
    with stocked.app_context():
        mail = db.session.scalars(
            select(OutboxEmail).where(OutboxEmail.subject.contains("refunded"))
        ).all()
    assert [m.to for m in mail] == [BUYER["email"]]
    text = mail[0].body_text
    assert f"we have refunded $66.79 for your order {order.number}" in text
    assert "Refunded for this order in all: $66.79 of $418.90." in text
    link = re.search(r"Your credit note: (\S+)", text)
    assert link
    path = link.group(1).removeprefix("http://127.0.0.1:5000")
    buyer = stocked.test_client()
    note = buyer.get(path)
    assert note.status_code == 200 and note.mimetype == "application/pdf"
    assert f"credit-note-{order.number}-C1.pdf" in note.headers["Content-Disposition"]
    pdf_text = _pdf_text(note.data)
    assert "Credit note" in pdf_text and "Returned: Meso Needle 32G" in pdf_text
    assert "LATE" in pdf_text and "55.20" in pdf_text and "two packs came back" in pdf_text
    flat = " ".join(pdf_text.split())
    assert "Net $55.20" in flat and "VAT 21 % (Spain) $11.59" in flat and "$66.79" in flat
    order_page = buyer.get(f"/orders/{paid.token}").get_data(as_text=True)
    assert "credit note" in order_page and "−$66.79" in order_page
    assert "Paid after refunds" in order_page and "$352.11" in order_page
    invoice = _pdf_text(buyer.get(f"/orders/{paid.token}/invoice.pdf").data)
    assert f"credit note {order.number}-C1" in invoice
    # Someone else's refund id, or a made-up one, is not there.
    assert buyer.get(path.replace("/credit-notes/", "/credit-notes/9")).status_code == 404


def _pdf_text(pdf: bytes) -> str:
    import pypdfium2

    return "".join(page.get_textpage().get_text_range() for page in pypdfium2.PdfDocument(pdf))


def test_a_refund_form_sent_twice_refunds_once(
    stocked: Flask, stripe_standin: StripeStandIn, staff_client: FlaskClient
) -> None:
    order = _paid_card_order(stocked, stripe_standin)
    ids = _allocation_ids(stocked)
    data = {
        **_form(staff_client, order, "refund"),
        "refund_amount": "30.00",
        f"restock_{ids['EARLY']}": "1",
    }
    first = staff_client.post(f"/admin/orders/{order.number}/refund", data=data)
    second = staff_client.post(f"/admin/orders/{order.number}/refund", data=data)
    assert first.status_code == second.status_code == 303
    assert "nothing was done twice" in staff_client.get(second.location).get_data(as_text=True)
    assert len(stripe_standin.refunds) == 1
    keys = {
        r.headers.get("Idempotency-Key") for r in stripe_standin.requests if r.path == "/v1/refunds"
    }
    assert len(keys) == 1 and keys.pop().startswith(f"refund-{order.id}-")
    assert only_order(stocked).amount_refunded == 3000
    assert [r[:2] for r in _returned(stocked)] == [("EARLY", 1)]
    assert [e[1] for e in _history(stocked)].count("refunded") == 1


def test_stripe_down_refunds_nothing_and_the_same_form_works_later(
    stocked: Flask, stripe_standin: StripeStandIn, staff_client: FlaskClient
) -> None:
    order = _paid_card_order(stocked, stripe_standin)
    ids = _allocation_ids(stocked)
    data = {
        **_form(staff_client, order, "refund"),
        "refund_amount": "100",
        f"restock_{ids['LATE']}": "3",
    }
    history = _history(stocked)
    stripe_standin.down = True
    response = staff_client.post(f"/admin/orders/{order.number}/refund", data=data)
    assert response.status_code == 503
    html = response.get_data(as_text=True)
    assert "Stripe could not be reached, so nothing was refunded" in html
    assert 'value="100"' in html  # what was typed is kept, with the same nonce
    assert f'value="{data["nonce"]}"' in html
    assert only_order(stocked).amount_refunded == 0
    assert lots(stocked)["LATE"] == (23, 0) and _returned(stocked) == []
    # The amount is held for the refund (never refunded twice), nothing else changed.
    assert _history(stocked) == [*history, (STAFF, "refund requested", "$100.00")]
    assert stripe_standin.refunds == {}
    stripe_standin.down = False
    assert staff_client.post(f"/admin/orders/{order.number}/refund", data=data).status_code == 303
    assert only_order(stocked).amount_refunded == 10000
    assert lots(stocked)["LATE"] == (26, 0)


def test_stripe_refusal_is_shown_and_changes_nothing(
    stocked: Flask, stripe_standin: StripeStandIn, staff_client: FlaskClient
) -> None:
    order = _paid_card_order(stocked, stripe_standin)
    # Refunded in Stripe's dashboard meanwhile; its webhook has not come yet.
    stripe_standin.refund_object(order.stripe_session_id, amount=41500, record=True)
    response = _post(staff_client, order, "refund", refund_amount="10")
    assert response.status_code == 422
    assert "Stripe made no refund: Refund amount ($10.00) is greater than unrefunded amount" in (
        response.get_data(as_text=True)
    )
    assert only_order(stocked).amount_refunded == 0


# ---- bank transfers and the attention flag ----------------------------------------------


def test_bank_transfer_marked_paid_sells_the_stock(
    stocked: Flask, staff_client: FlaskClient
) -> None:
    _buy(stocked.test_client(), 4, method="bank_transfer")
    order = only_order(stocked)
    page = staff_client.get(f"/admin/orders/{order.number}").get_data(as_text=True)
    assert 'value="163.35"' in page  # the total, ready to confirm
    response = _post(staff_client, order, "mark-paid", amount_received="163.35")
    assert response.status_code == 303
    paid = only_order(stocked)
    assert paid.status == "paid" and not paid.needs_attention
    assert lots(stocked)["EARLY"] == (1, 0)
    assert (STAFF, "paid", "bank transfer") in _history(stocked)
    with stocked.app_context():
        subjects = db.session.scalars(select(OutboxEmail.subject)).all()
        assert any("confirmed: Paid" in s for s in subjects)


def test_bank_transfer_of_the_wrong_amount_is_flagged_then_cleared_with_a_note(
    stocked: Flask, staff_client: FlaskClient
) -> None:
    _buy(stocked.test_client(), 4, method="bank_transfer")
    order = only_order(stocked)
    response = _post(staff_client, order, "mark-paid", amount_received="130")
    assert "Not marked paid" in staff_client.get(response.location).get_data(as_text=True)
    flagged = only_order(stocked)
    assert flagged.status == "awaiting_transfer" and flagged.needs_attention
    assert lots(stocked)["EARLY"] == (5, 4)
    empty = _post(staff_client, order, "attention", attention_note=" ")
    assert empty.status_code == 422 and "Say what was done about it." in empty.get_data(
        as_text=True
    )
    cleared = _post(staff_client, order, "attention", attention_note="buyer sends the $5 missing")
    assert cleared.status_code == 303
    assert not only_order(stocked).needs_attention
    ((who, note),) = [(w, n) for w, a, n in _history(stocked) if a == "attention cleared"]
    assert who == STAFF and note.startswith("buyer sends the $5 missing (flagged: payment of")
    assert _post(staff_client, order, "mark-paid", amount_received="163.35").status_code == 303
    assert only_order(stocked).status == "paid"


def test_a_short_transfer_shows_money_and_the_shortfall_can_be_accepted_with_a_reason(
    stocked: Flask, staff_client: FlaskClient
) -> None:
    _buy(stocked.test_client(), 4, method="bank_transfer", country="US")  # export: no VAT
    order = only_order(stocked)
    response = _post(staff_client, order, "mark-paid", amount_received="133.50")
    page = staff_client.get(response.location).get_data(as_text=True)
    assert "Not marked paid" in page and "$133.50 is recorded as received" in page
    assert "payment of $133.50 is $1.50 short of the order total $135.00" in page
    assert "Received $133.50 of $135.00: $1.50 short." in page
    flagged = only_order(stocked)
    assert flagged.status == "awaiting_transfer" and flagged.needs_attention
    assert (flagged.transfer_received, flagged.amount_paid) == (13350, 0)

    empty = _post(staff_client, order, "accept-shortfall", shortfall_reason="  ")
    assert empty.status_code == 422
    assert "Say why the shortfall is accepted." in empty.get_data(as_text=True)
    assert only_order(stocked).status == "awaiting_transfer"

    response = _post(
        staff_client, order, "accept-shortfall", shortfall_reason="bank fee, not worth chasing"
    )
    assert response.status_code == 303
    page = staff_client.get(response.location).get_data(as_text=True)
    assert "is paid with $133.50: the shortfall is accepted" in page
    assert "($1.50 short, accepted)" in page
    paid = only_order(stocked)
    assert paid.status == "paid" and not paid.needs_attention
    assert (paid.amount_paid, paid.shortfall_accepted, paid.total) == (13350, 150, 13500)
    assert lots(stocked)["EARLY"] == (1, 0)
    assert (
        STAFF,
        "shortfall accepted",
        "$133.50 received of $135.00, $1.50 written off: bank fee, not worth chasing",
    ) in _history(stocked)
    with stocked.app_context():
        assert audit.breaches() == []
        mail = db.session.scalars(select(OutboxEmail).order_by(OutboxEmail.id.desc())).first()
        assert mail is not None and "confirmed: Paid" in mail.subject
        assert "we have received your payment of $133.50." in mail.body_text
    again = staff_client.post(
        f"/admin/orders/{order.number}/accept-shortfall",
        data={"shortfall_reason": "again", "csrf_token": csrf_token(staff_client, "/admin/")},
    )
    assert "has no short bank transfer to accept" in staff_client.get(again.location).get_data(
        as_text=True
    )


def test_the_short_flag_clears_once_the_full_amount_is_recorded(
    stocked: Flask, staff_client: FlaskClient
) -> None:
    _buy(stocked.test_client(), 4, method="bank_transfer", country="US")  # export: no VAT
    order = only_order(stocked)
    _post(staff_client, order, "mark-paid", amount_received="58.50")
    assert only_order(stocked).needs_attention
    assert _post(staff_client, order, "mark-paid", amount_received="135").status_code == 303
    paid = only_order(stocked)
    assert paid.status == "paid" and not paid.needs_attention
    assert (paid.amount_paid, paid.shortfall_accepted, paid.transfer_received) == (13500, 0, 0)
    assert (STAFF, "attention cleared", "the full amount was recorded") in _history(stocked)


def test_card_orders_cannot_be_marked_paid_by_hand(
    stocked: Flask, stripe_standin: StripeStandIn, staff_client: FlaskClient
) -> None:
    _buy(stocked.test_client(), 2)
    order = only_order(stocked)
    response = staff_client.post(
        f"/admin/orders/{order.number}/mark-paid",
        data={"amount_received": "75.00", "csrf_token": csrf_token(staff_client, "/admin/")},
    )
    assert "paid by card" in staff_client.get(response.location).get_data(as_text=True)
    assert only_order(stocked).status == "pending_payment"


def test_bank_transfer_refund_is_recorded_without_stripe(
    stocked: Flask, staff_client: FlaskClient
) -> None:
    _buy(stocked.test_client(), 4, method="bank_transfer")
    order = only_order(stocked)
    _post(staff_client, order, "mark-paid", amount_received="163.35")
    page = staff_client.get(f"/admin/orders/{order.number}").get_data(as_text=True)
    assert "Record a refund sent by bank transfer" in page
    response = _post(
        staff_client, order, "cancel", cancel_reason="duplicate order", restock_all="y"
    )
    assert response.status_code == 303
    cancelled = only_order(stocked)
    assert cancelled.status == "cancelled" and cancelled.amount_refunded == 16335
    assert lots(stocked)["EARLY"] == (5, 0)


# ---- CSRF -------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["ship", "cancel", "refund", "mark-paid", "attention"])
def test_every_order_action_needs_the_csrf_token(
    app: Flask, staff_client: FlaskClient, action: str
) -> None:
    with app.app_context():
        number = _make_order("csrf@clinic.example").number
        db.session.commit()
    response = staff_client.post(
        f"/admin/orders/{number}/{action}",
        data={"carrier": "DHL", "tracking_number": "1", "cancel_reason": "x", "nonce": "n" * 22},
    )
    assert response.status_code == 400
    assert only_order(app).status == "awaiting_transfer"
