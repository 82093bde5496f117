"""The order's one table of moves: everything else is refused, with nothing changed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shop.orders import lifecycle
from shop.orders.models import Order, OrderStatus

S = OrderStatus


def _order(status: OrderStatus, **fields: object) -> Order:
    return Order(
        number="2026-000001",
        status=status.value,
        amount_paid=fields.pop("amount_paid", 0),
        amount_refunded=fields.pop("amount_refunded", 0),
        total=10000,
        **fields,
    )


ALLOWED = {
    (S.PENDING_PAYMENT, S.PAID),
    (S.PENDING_PAYMENT, S.PAYMENT_PROCESSING),
    (S.PENDING_PAYMENT, S.EXPIRED),
    (S.PENDING_PAYMENT, S.CANCELLED),
    (S.AWAITING_TRANSFER, S.PAID),
    (S.AWAITING_TRANSFER, S.EXPIRED),
    (S.AWAITING_TRANSFER, S.CANCELLED),
    (S.PAYMENT_PROCESSING, S.PAID),
    (S.PAYMENT_PROCESSING, S.CANCELLED),
    (S.PAID, S.SHIPPED),
    (S.PAID, S.CANCELLED),
    (S.EXPIRED, S.PAID),
    (S.CANCELLED, S.PAID),
}


@pytest.mark.parametrize("current", list(S))
@pytest.mark.parametrize("to", list(S))
def test_only_the_moves_in_the_table_exist(current: OrderStatus, to: OrderStatus) -> None:
    assert ((current, to) in ALLOWED) == (to in lifecycle.TRANSITIONS[current])


@pytest.mark.parametrize("current", [S.PAID, S.SHIPPED, S.EXPIRED])
def test_a_refused_move_changes_nothing(current: OrderStatus) -> None:
    order = _order(current)
    with pytest.raises(lifecycle.TransitionRefused):
        lifecycle.move(order, S.PENDING_PAYMENT, actor="tests")
    assert order.status == current.value and order.history == []


@pytest.mark.parametrize("closed", [S.EXPIRED, S.CANCELLED])
def test_a_closed_order_is_paid_again_only_if_it_was_never_paid(closed: OrderStatus) -> None:
    never_paid = _order(closed)
    lifecycle.move(never_paid, S.PAID, actor="stripe", note="late payment")
    assert never_paid.status == "paid"
    assert [(e.action, e.actor) for e in never_paid.history] == [("paid", "stripe")]
    once_paid = _order(closed, amount_paid=10000, amount_refunded=10000, paid_at=datetime.now(UTC))
    with pytest.raises(lifecycle.TransitionRefused, match="never paid"):
        lifecycle.move(once_paid, S.PAID, actor="return page")
    assert once_paid.status == closed.value


def test_a_paid_order_is_cancelled_only_with_all_its_money_back_or_on_its_way() -> None:
    paid = _order(S.PAID, amount_paid=10000, paid_at=datetime.now(UTC))
    assert not lifecycle.allowed(paid, S.CANCELLED)
    paid.amount_refunded = 10000
    assert lifecycle.allowed(paid, S.CANCELLED)
