"""The migrations produce exactly the models' schema."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask

from shop.extensions import db


def test_upgrade_head_yields_the_models_schema(app: Flask) -> None:
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        assert compare_metadata(context, db.metadata) == []


def test_check_constraints_match(app: Flask) -> None:
    with app.app_context():
        inspector = sa.inspect(db.engine)
        for table in db.metadata.sorted_tables:
            expected = {c.name for c in table.constraints if isinstance(c, sa.CheckConstraint)}
            found = {c["name"] for c in inspector.get_check_constraints(table.name)}
            assert found == expected, table.name


def test_stock_can_never_go_below_zero_in_the_database(app: Flask) -> None:
    """The database itself refuses a lot with negative or over-reserved packs."""
    from datetime import date

    from shop.inventory.models import Lot
    from tests.factories import make_variant

    with app.app_context():
        variant = make_variant()
        db.session.commit()
        for quantity, reserved in ((-1, 0), (5, 6), (5, -1)):
            db.session.add(
                Lot(
                    variant_id=variant.id,
                    lot_number=f"X{quantity}{reserved}",
                    made_on=date(2026, 1, 1),
                    expires_on=date(2030, 1, 1),
                    quantity=quantity,
                    reserved=reserved,
                )
            )
            try:
                db.session.flush()
            except sa.exc.IntegrityError:
                db.session.rollback()
            else:
                raise AssertionError(f"lot with {quantity=} {reserved=} was accepted")
