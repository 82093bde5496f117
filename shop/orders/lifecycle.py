"""The one table of the moves an order's status may make, and the function that makes them.

Every status change of an order goes through `move`: it refuses a move that is not in
`TRANSITIONS` or whose rule does not hold, and writes the history row. A cancelled or
expired order comes back only through the rule written here: a late payment, and only for
an order that was never paid before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from shop.errors import ShopError
from shop.orders.models import OPEN_STATUSES, Order, OrderEvent, OrderStatus

S = OrderStatus


def _never_paid(order: Order) -> bool:
    return order.paid_at is None and order.amount_paid == 0


def _refunded_or_refunding_all(order: Order) -> bool:
    """Nothing left to refund: all the money is back with the buyer or on its way."""
    return order.amount_paid > 0 and order.refundable == 0


def _always(order: Order) -> bool:
    return True


@dataclass(frozen=True)
class Rule:
    """Why a move is allowed, and the condition it needs besides the current status."""

    why: str
    holds: Callable[[Order], bool] = _always


TRANSITIONS: dict[OrderStatus, dict[OrderStatus, Rule]] = {
    S.PENDING_PAYMENT: {
        S.PAID: Rule("the card payment arrived"),
        S.PAYMENT_PROCESSING: Rule("a delayed payment method was used: wait for its outcome"),
        S.EXPIRED: Rule("the Checkout Session expired unpaid"),
        S.CANCELLED: Rule("the buyer or staff closed the checkout unpaid"),
    },
    S.AWAITING_TRANSFER: {
        S.PAID: Rule("the bank transfer arrived"),
        S.EXPIRED: Rule("no transfer arrived in time"),
        S.CANCELLED: Rule("staff cancelled it unpaid"),
    },
    S.PAYMENT_PROCESSING: {
        S.PAID: Rule("the delayed payment succeeded"),
        S.CANCELLED: Rule("the delayed payment failed"),
    },
    S.PAID: {
        S.SHIPPED: Rule("staff shipped it"),
        S.CANCELLED: Rule("cancelled with all its money refunded", _refunded_or_refunding_all),
    },
    S.EXPIRED: {
        S.PAID: Rule("a late payment of an order never paid, honoured from stock", _never_paid),
    },
    S.CANCELLED: {
        S.PAID: Rule("a late payment of an order never paid, honoured from stock", _never_paid),
    },
    S.SHIPPED: {},
}


class TransitionRefused(ShopError):
    """An order was asked to move where the table does not allow it."""

    def __init__(self, order: Order, to: OrderStatus, why: str) -> None:
        super().__init__(
            f"Order {order.number} is {OrderStatus(order.status).label.lower()}: it cannot "
            f"become {to.label.lower()} ({why})."
        )
        self.order = order
        self.to = to


def allowed(order: Order, to: OrderStatus) -> bool:
    rule = TRANSITIONS[OrderStatus(order.status)].get(to)
    return rule is not None and rule.holds(order)


def move(order: Order, to: OrderStatus, *, actor: str, note: str = "") -> None:
    """Change the order's status as the table allows, with a history row; raises
    TransitionRefused (changing nothing) otherwise."""
    current = OrderStatus(order.status)
    rule = TRANSITIONS[current].get(to)
    if rule is None:
        raise TransitionRefused(order, to, "no such move")
    if not rule.holds(order):
        raise TransitionRefused(order, to, f"only when {rule.why}")
    order.status = to.value
    if to not in OPEN_STATUSES:
        order.reserved_until = None
    record(order, to.value, actor=actor, note=note)


def record(order: Order, action: str, *, actor: str, note: str = "") -> None:
    """A history row that is not a status change (a refund, a flag, a session)."""
    order.history.append(OrderEvent(actor=actor[:254], action=action[:60], note=note))
