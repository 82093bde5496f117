"""The order services without HTTP: paying once, releasing, shipping, cancelling and
refunding, each with the history it writes and the refusals that change nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask

from shop.errors import ValidationError
from shop.extensions import db
from shop.inventory.models import Lot
from shop.orders import lifecycle
from shop.orders import services as orders
from shop.orders.models import Order, OrderStatus, PaymentMethod, RefundStatus
from tests.factories import make_lot, make_variant

CONTACT = orders.Contact(
    "ana@clinic.example", "Dr Ana Ruiz", "Clinica Ruiz", "", "Calle Mayor 1, Madrid", "ES"
)


@pytest.fixture
def ctx(app: Flask) -> Iterator[None]:
    with app.app_context():
        yield


def _order(packs: int = 3, method: PaymentMethod = PaymentMethod.BANK_TRANSFER) -> Order:
    variant = make_variant(sku=f"SV-{packs}-{method.value}", prices=((1, 2000),))
    make_lot(variant, quantity=10, lot_number=f"L-{variant.sku}")
    orders.lock()
    order = orders.create_order(
        [orders.LineRequest(variant, packs, 2000)],
        contact=CONTACT,
        method=method,
        shipping_amount=1500,
        currency="usd",
        reserved_until=datetime.now(UTC) + timedelta(days=1),
        actor="tests",
    )
    db.session.commit()
    return order


def _lot(order: Order) -> tuple[int, int]:
    db.session.expire_all()
    lot = db.session.get(Lot, order.lines[0].allocations[0].lot_id)
    assert lot is not None
    return lot.quantity, lot.reserved


def _actions(order: Order) -> list[str]:
    return [event.action for event in order.history]


def test_an_order_reserves_its_packs_and_says_so_in_its_history(ctx: None) -> None:
    order = _order(3)
    assert (order.status, order.subtotal, order.total) == (
        "awaiting_transfer",
        6000,
        9075,
    )  # VAT for Spain, 21 %, on goods and shipping
    assert order.number and order.number.endswith(f"{order.id:06d}")
    assert _lot(order) == (10, 3)
    assert _actions(order) == ["created"]


def test_paid_once_with_the_stock_sold_and_one_confirmation(ctx: None) -> None:
    order = _order(3)
    first = orders.mark_paid(order, amount=9075, currency="USD", actor="bank")
    second = orders.mark_paid(order, amount=9075, currency="usd", actor="bank")
    db.session.commit()
    assert (first, second) == (orders.PaymentOutcome.PAID, orders.PaymentOutcome.ALREADY_PAID)
    assert order.status == "paid" and order.amount_paid == 9075 and _lot(order) == (7, 0)
    assert _actions(order).count("paid") == 1


def test_a_wrong_amount_is_flagged_once_and_holds_the_stock(ctx: None) -> None:
    order = _order(3)
    for _ in range(2):
        made = orders.mark_paid(order, amount=7000, currency="usd", actor="bank")
        assert made is orders.PaymentOutcome.MISMATCH
    db.session.commit()
    assert order.status == "awaiting_transfer" and order.amount_paid == 0
    assert order.needs_attention and "payment of $70.00 does not match" in order.attention_reason
    assert order.reserved_until is None and _lot(order) == (10, 3)
    assert _actions(order).count("payment mismatch") == 1


def test_release_gives_the_stock_back_once_and_never_from_a_paid_order(ctx: None) -> None:
    order = _order(3)
    assert orders.release(order, status=OrderStatus.EXPIRED, actor="worker", reason="lapsed")
    assert not orders.release(order, status=OrderStatus.CANCELLED, actor="staff", reason="x")
    db.session.commit()
    assert order.status == "expired" and _lot(order) == (10, 0)
    paid = _order(2)
    orders.mark_paid(paid, amount=paid.total, currency="usd", actor="bank")
    assert not orders.release(paid, status=OrderStatus.EXPIRED, actor="worker", reason="lapsed")
    assert paid.status == "paid"


def test_a_late_transfer_is_honoured_from_stock_when_it_is_there(ctx: None) -> None:
    order = _order(3)
    orders.release(order, status=OrderStatus.EXPIRED, actor="worker", reason="lapsed")
    made = orders.record_transfer(order, amount=order.total, actor="staff")
    db.session.commit()
    assert made is orders.PaymentOutcome.PAID and order.status == "paid"
    assert _lot(order) == (7, 0) and "reserved again" in _actions(order)


def test_shipping_needs_a_paid_order_and_a_carrier(ctx: None) -> None:
    order = _order(3)
    with pytest.raises(orders.ActionRefused, match="Only a paid order can be shipped"):
        orders.ship(order, carrier="DHL", tracking_number="1", actor="staff")
    orders.mark_paid(order, amount=order.total, currency="usd", actor="bank")
    with pytest.raises(ValidationError) as missing:
        orders.ship(order, carrier=" ", tracking_number="", actor="staff")
    assert set(missing.value.errors) == {"carrier", "tracking_number"}
    orders.ship(order, carrier="DHL  Express", tracking_number="JD 0123", actor="staff")
    db.session.commit()
    assert (order.status, order.carrier) == ("shipped", "DHL Express")
    assert not lifecycle.allowed(order, OrderStatus.CANCELLED)


def test_refunds_are_held_booked_and_never_exceed_what_was_paid(ctx: None) -> None:
    order = _order(3)
    orders.mark_paid(order, amount=order.total, currency="usd", actor="bank")
    first = orders.request_refund(
        order, amount=5000, restock={}, request_key="r-1", actor="staff", reason="damaged"
    )
    assert first.status == "requested" and order.refundable == 4075
    assert orders.request_refund(order, amount=5000, restock={}, request_key="r-1", actor="s")
    with pytest.raises(ValidationError, match=r"At most \$40.75 remains"):
        orders.request_refund(order, amount=5000, restock={}, request_key="r-2", actor="staff")
    assert orders.refund_made(
        first, reference="bank r-1", status=RefundStatus.SUCCEEDED, actor="staff"
    )
    assert not orders.refund_made(
        first, reference="bank r-1", status=RefundStatus.SUCCEEDED, actor="staff"
    )
    db.session.commit()
    assert (order.amount_refunded, order.refundable) == (5000, 4075)
    assert _actions(order).count("refunded") == 1


def test_packs_sent_back_are_refunded_with_their_vat(ctx: None) -> None:
    order = _order(3)  # 3 packs at $20.00 to Spain: $12.60 VAT on them, $3.15 on shipping
    orders.mark_paid(order, amount=order.total, currency="usd", actor="bank")
    (allocation_id,) = orders.restockable(order)
    assert [line.tax_amount for line in order.lines] == [1260]
    assert (order.tax_amount, order.shipping_tax, order.total) == (1575, 315, 9075)
    assert orders.value_of_packs(order, {allocation_id: 1}) == 2000 + 420
    assert orders.value_of_packs(order, {allocation_id: 3}) == 6000 + 1260
    refund = orders.request_refund(
        order,
        amount=orders.value_of_packs(order, {allocation_id: 2}),
        restock={allocation_id: 2},
        request_key="r-packs",
        actor="staff",
    )
    orders.refund_made(refund, reference="bank r-packs", status=RefundStatus.SUCCEEDED, actor="s")
    db.session.commit()
    assert (order.amount_refunded, order.refundable) == (4840, 9075 - 4840)
    assert _lot(order) == (9, 0)


def test_a_full_refund_that_cancels_puts_the_packs_back(ctx: None) -> None:
    order = _order(3)
    orders.mark_paid(order, amount=order.total, currency="usd", actor="bank")
    sold = orders.restockable(order)
    refund = orders.request_refund(
        order,
        amount=order.total,
        restock=sold,
        request_key="r-all",
        actor="staff",
        cancel=True,
    )
    orders.refund_made(refund, reference="bank r-all", status=RefundStatus.SUCCEEDED, actor="s")
    db.session.commit()
    assert order.status == "cancelled" and _lot(order) == (10, 0)
    assert orders.restockable(order) == dict.fromkeys(sold, 0)
    with pytest.raises(orders.ActionRefused, match="refunded in full already"):
        orders.request_refund(order, amount=1, restock={}, request_key="r-3", actor="staff")


def test_an_unpaid_order_has_nothing_to_refund(ctx: None) -> None:
    order = _order(3)
    with pytest.raises(orders.ActionRefused, match="never paid"):
        orders.request_refund(order, amount=100, restock={}, request_key="r-x", actor="staff")
