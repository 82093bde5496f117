"""Stock services: reservations are all or nothing, per order line, and every change to a
lot's packs is a movement in the ledger."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from shop.catalog.versions import page_version
from shop.extensions import db
from shop.inventory import services as inventory
from shop.inventory.models import Lot, StockMovement
from shop.orders import services as orders
from shop.orders.models import Allocation, OrderStatus, PaymentMethod
from tests.factories import make_lot, make_variant


def _lots() -> dict[str, tuple[int, int]]:
    db.session.expire_all()
    return {lot.lot_number: (lot.quantity, lot.reserved) for lot in db.session.scalars(select(Lot))}


def test_a_short_line_leaves_every_other_lot_as_it_was(app: Flask) -> None:
    """Issue 9.3: `reserve` changed earlier variants' lots before it raised."""
    with app.app_context():
        plenty, short = make_variant(sku="PLENTY"), make_variant(sku="SHORT")
        make_lot(plenty, quantity=50, lot_number="P1")
        make_lot(short, quantity=2, lot_number="S1")
        db.session.commit()
        before = _lots()
        inventory.lock_stock()
        with pytest.raises(inventory.InsufficientStock) as raised:
            inventory.reserve([(plenty, 10), (short, 5)])
        assert raised.value.shortages == {"SHORT": 2}
        db.session.flush()
        assert _lots() == before  # nothing half-reserved, even before any rollback
        db.session.commit()
        assert _lots() == before


def test_a_late_payment_that_cannot_be_reserved_again_leaks_no_stock(app: Flask) -> None:
    """Issue 9.3: `_reserve_again` caught InsufficientStock without undoing the lines
    already reserved; the packs stayed reserved for nobody, forever."""
    with app.app_context():
        plenty, short = make_variant(sku="PLENTY"), make_variant(sku="SHORT")
        make_lot(plenty, quantity=50, lot_number="P1")
        lot = make_lot(short, quantity=5, lot_number="S1")
        orders.lock()
        order = orders.create_order(
            [orders.LineRequest(plenty, 10, 3000), orders.LineRequest(short, 5, 3000)],
            contact=orders.Contact("b@clinic.example", "B", "", "", "Street 1, Town", "ES"),
            method=PaymentMethod.BANK_TRANSFER,
            shipping_amount=0,
            currency="usd",
            reserved_until=datetime.now(UTC) + timedelta(days=1),
            actor="tests",
        )
        orders.release(order, status=OrderStatus.EXPIRED, actor="tests", reason="lapsed")
        inventory.write_off(lot, 4, actor="tests", reason="damaged")
        db.session.commit()
        made = orders.record_transfer(order, amount=order.total, actor="staff")
        db.session.commit()
        assert made is orders.PaymentOutcome.UNFULFILLABLE
        assert _lots() == {"P1": (50, 0), "S1": (1, 0)}
        held = db.session.scalar(
            select(func.count()).select_from(Allocation).where(Allocation.state == "reserved")
        )
        assert held == 0


def test_the_same_variant_twice_in_one_order_gets_packs_for_each_line(app: Flask) -> None:
    """Issue 9.4: a quote with SKU X x100 and X x50 reserved 150 but recorded 50 + 50."""
    with app.app_context():
        variant = make_variant(sku="X")
        make_lot(variant, quantity=120, lot_number="A", expires_in_days=500)
        make_lot(variant, quantity=100, lot_number="B", expires_in_days=900)
        orders.lock()
        order = orders.create_order(
            [orders.LineRequest(variant, 100, 2000), orders.LineRequest(variant, 50, 1900)],
            contact=orders.Contact("d@dist.example", "D", "", "", "Street 1, Town", "DE"),
            method=PaymentMethod.BANK_TRANSFER,
            shipping_amount=0,
            currency="usd",
            reserved_until=datetime.now(UTC) + timedelta(days=7),
            actor="tests",
        )
        db.session.commit()
        picks = [[(a.lot_number, a.quantity) for a in line.allocations] for line in order.lines]
        assert picks == [[("A", 100)], [("A", 20), ("B", 30)]]
        assert _lots() == {"A": (120, 120), "B": (100, 30)}
        orders.mark_paid(order, amount=order.total, currency="usd", actor="staff")
        db.session.commit()
        assert _lots() == {"A": (0, 0), "B": (70, 0)}


def test_asking_twice_for_one_variant_counts_both_against_the_stock(app: Flask) -> None:
    with app.app_context():
        variant = make_variant(sku="X")
        make_lot(variant, quantity=120, lot_number="A")
        db.session.commit()
        inventory.lock_stock()
        with pytest.raises(inventory.InsufficientStock) as raised:
            inventory.reserve([(variant, 100), (variant, 50)])
        assert raised.value.shortages == {"X": 120}
        assert _lots() == {"A": (120, 0)}


def test_every_change_to_a_lot_is_in_the_ledger(app: Flask) -> None:
    with app.app_context():
        variant = make_variant(sku="X")
        lot = make_lot(variant, quantity=30, lot_number="A")
        inventory.lock_stock()
        (picks,) = inventory.reserve([(variant, 10)])
        inventory.sell([(p.lot_id, p.quantity) for p in picks], actor="tests", reason="order 1")
        inventory.return_sold_packs([(lot.id, 2)], actor="tests", reason="order 1 returned")
        inventory.adjust(lot, -3, actor="tests", reason="recount")
        inventory.write_off(lot, 1, actor="tests", reason="damaged")
        db.session.commit()
        moves = db.session.execute(
            select(StockMovement.kind, StockMovement.quantity).order_by(StockMovement.id)
        ).all()
        assert moves == [
            ("received", 30),
            ("sold", -10),
            ("returned", 2),
            ("adjusted", -3),
            ("written-off", -1),
        ]
        assert _lots() == {"A": (18, 0)} and sum(q for _, q in moves) == 18


def test_stock_changes_never_move_the_catalogue_version(app: Flask) -> None:
    """Taking the lock, selling, reserving and receiving move no catalogue version (every
    cached page would be thrown away); what a page shows of a variant's stock changes its
    digest, which keys that variant's cached pages."""
    with app.app_context():
        variant = make_variant(sku="X")
        make_lot(variant, quantity=30, lot_number="A")
        db.session.commit()
        version = page_version()
        digests = [inventory.stock_digest(inventory.availability([variant]))]
        inventory.lock_stock()
        inventory.sell([], actor="tests", reason="nothing")
        db.session.commit()
        inventory.lock_stock()
        inventory.reserve([(variant, 3)])
        db.session.commit()
        digests.append(inventory.stock_digest(inventory.availability([variant])))
        inventory.lock_stock()
        inventory.receive_lot(
            variant,
            lot_number="B",
            made_on=date.today(),
            expires_on=date.today() + timedelta(days=1000),
            quantity=5,
            actor="tests",
            reason="delivery",
        )
        db.session.commit()
        digests.append(inventory.stock_digest(inventory.availability([variant])))
        assert page_version() == version
        assert len(set(digests)) == 3
