"""The stock and money invariants, checked on a live database (`flask --app shop audit`).

Each check reads with grouped queries and compares; `breaches()` lists, in words, every
place where the books disagree. The property tests run the same checks after every step.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func, select

from shop.extensions import db
from shop.inventory.models import Lot, MovementKind, StockMovement
from shop.orders.models import (
    OPEN_STATUSES,
    Allocation,
    AllocationState,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    Refund,
    RefundStatus,
)


def breaches() -> list[str]:
    """Every breach of the invariants, one sentence each; empty when the books agree."""
    return [*_lots(), *_orders()]


def _lots() -> list[str]:
    found: list[str] = []
    moved: dict[int, int] = dict(
        db.session.execute(
            select(StockMovement.lot_id, func.sum(StockMovement.quantity)).group_by(
                StockMovement.lot_id
            )
        ).all()
    )
    sold_moves: dict[int, int] = dict(
        db.session.execute(
            select(StockMovement.lot_id, -func.sum(StockMovement.quantity))
            .where(StockMovement.kind == MovementKind.SOLD.value)
            .group_by(StockMovement.lot_id)
        ).all()
    )
    held: dict[tuple[int, str], int] = {
        (lot_id, state): n
        for lot_id, state, n in db.session.execute(
            select(Allocation.lot_id, Allocation.state, func.sum(Allocation.quantity)).group_by(
                Allocation.lot_id, Allocation.state
            )
        )
    }
    for lot in db.session.scalars(select(Lot).order_by(Lot.id)):
        name = f"lot {lot.lot_number} (id {lot.id})"
        if lot.quantity != moved.get(lot.id, 0):
            found.append(
                f"{name}: {lot.quantity} packs on hand, but its movements add up to "
                f"{moved.get(lot.id, 0)}"
            )
        if lot.quantity < 0 or lot.reserved < 0 or lot.reserved > lot.quantity:
            found.append(f"{name}: {lot.quantity} on hand with {lot.reserved} reserved")
        reserved = held.get((lot.id, AllocationState.RESERVED.value), 0)
        if lot.reserved != reserved:
            found.append(
                f"{name}: {lot.reserved} packs reserved, but open allocations hold {reserved}"
            )
        sold = held.get((lot.id, AllocationState.SOLD.value), 0)
        if sold != sold_moves.get(lot.id, 0):
            found.append(
                f"{name}: orders were sold {sold} packs, but the ledger sold "
                f"{sold_moves.get(lot.id, 0)}"
            )
    return found


def _orders() -> list[str]:
    found: list[str] = []
    lines: dict[int, list[OrderLine]] = defaultdict(list)
    for line in db.session.scalars(select(OrderLine).where(OrderLine.variant_id.is_not(None))):
        lines[line.order_id].append(line)
    allocated: dict[tuple[int, str], int] = {
        (line_id, state): n
        for line_id, state, n in db.session.execute(
            select(
                Allocation.order_line_id, Allocation.state, func.sum(Allocation.quantity)
            ).group_by(Allocation.order_line_id, Allocation.state)
        )
    }
    refunded: dict[tuple[int, str], int] = {
        (order_id, status): n
        for order_id, status, n in db.session.execute(
            select(Refund.order_id, Refund.status, func.sum(Refund.amount)).group_by(
                Refund.order_id, Refund.status
            )
        )
    }
    paid_events: dict[int, int] = dict(
        db.session.execute(
            select(OrderEvent.order_id, func.count())
            .where(OrderEvent.action == OrderStatus.PAID.value)
            .group_by(OrderEvent.order_id)
        ).all()
    )
    intents: dict[str, list[str]] = defaultdict(list)
    for order in db.session.scalars(select(Order).order_by(Order.id)):
        name = f"order {order.number}"
        status = OrderStatus(order.status)
        if order.stripe_payment_intent:
            intents[order.stripe_payment_intent].append(order.number or str(order.id))
        if paid_events.get(order.id, 0) > 1:
            found.append(f"{name}: paid {paid_events[order.id]} times")
        due = order.total - order.shortfall_accepted  # less a shortfall staff accepted
        if order.amount_paid not in (0, due):
            found.append(f"{name}: {order.amount_paid} paid of a total of {order.total}")
        succeeded = refunded.get((order.id, RefundStatus.SUCCEEDED.value), 0)
        if order.amount_refunded != succeeded:
            found.append(
                f"{name}: {order.amount_refunded} refunded, but its succeeded refunds add up "
                f"to {succeeded}"
            )
        in_flight = sum(
            refunded.get((order.id, s.value), 0)
            for s in (RefundStatus.REQUESTED, RefundStatus.PENDING)
        )
        if order.amount_refunded + in_flight > order.amount_paid:
            found.append(
                f"{name}: {order.amount_refunded} refunded and {in_flight} under way, more "
                f"than the {order.amount_paid} paid"
            )
        sold = status in (OrderStatus.PAID, OrderStatus.SHIPPED) or (
            status == OrderStatus.CANCELLED and order.paid_at is not None and order.amount_paid
        )
        for line in lines.get(order.id, []):
            reserved = allocated.get((line.id, AllocationState.RESERVED.value), 0)
            sold_packs = allocated.get((line.id, AllocationState.SOLD.value), 0)
            expected = (
                (0, line.quantity)
                if sold and (status != OrderStatus.CANCELLED or sold_packs)
                else (line.quantity, 0)
                if status in OPEN_STATUSES
                else (0, 0)
            )
            if (reserved, sold_packs) != expected:
                found.append(
                    f"{name} ({status.value}), {line.sku}: {line.quantity} packs ordered, "
                    f"{reserved} reserved and {sold_packs} sold; expected {expected[0]} "
                    f"reserved and {expected[1]} sold"
                )
        if status in (OrderStatus.PAID, OrderStatus.SHIPPED) and (
            order.amount_paid != due or order.paid_at is None
        ):
            found.append(f"{name}: {status.value} without its payment recorded")
        if status in OPEN_STATUSES and order.amount_paid:
            found.append(f"{name}: still {status.value} with {order.amount_paid} paid")
        if (
            status in (OrderStatus.EXPIRED, OrderStatus.CANCELLED)
            and order.amount_paid
            and order.refundable
            and not order.needs_attention
        ):
            found.append(
                f"{name}: {status.value} with {order.refundable} paid and not refunded, "
                "and not flagged for staff"
            )
    for intent, numbers in intents.items():
        if len(numbers) > 1:
            found.append(f"payment {intent} is recorded on orders {', '.join(numbers)}")
    return found
