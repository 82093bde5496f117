"""Stock lots and the append-only ledger of stock movements."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from shop.db import Base, utcnow


class Lot(Base):
    """Packs of one variant made together: on hand, of which some are reserved."""

    __tablename__ = "lots"
    __table_args__ = (
        UniqueConstraint("variant_id", "lot_number"),
        CheckConstraint("quantity >= 0", name="quantity_nonnegative"),
        CheckConstraint("reserved >= 0 AND reserved <= quantity", name="reserved_within_quantity"),
        CheckConstraint("expires_on > made_on", name="expires_after_made"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("variants.id"), index=True)
    lot_number: Mapped[str] = mapped_column(String(40), index=True)
    made_on: Mapped[date] = mapped_column(Date)
    expires_on: Mapped[date] = mapped_column(Date, index=True)
    quantity: Mapped[int] = mapped_column(Integer, default=0)
    reserved: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Set when the lot is recalled: from then on none of it is reserved or sold online.
    recalled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    variant = relationship("Variant")

    @property
    def free(self) -> int:
        return self.quantity - self.reserved

    def __repr__(self) -> str:
        return f"<Lot {self.lot_number} of variant {self.variant_id}: {self.quantity}>"


class MovementKind(enum.StrEnum):
    RECEIVED = "received"
    ADJUSTED = "adjusted"
    WRITTEN_OFF = "written-off"
    SOLD = "sold"
    RETURNED = "returned"


class StockMovement(Base):
    """One change of a lot's packs on hand, with who made it, when and why. Never edited."""

    __tablename__ = "stock_movements"
    __table_args__ = (
        CheckConstraint("quantity <> 0", name="quantity_nonzero"),
        CheckConstraint(
            "kind IN ('received', 'adjusted', 'written-off', 'sold', 'returned')",
            name="kind_known",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    quantity: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(300))
    actor: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )

    lot: Mapped[Lot] = relationship()


class AppendOnlyError(RuntimeError):
    """A stock movement was about to be changed or deleted."""


@event.listens_for(Session, "before_flush")
def _movements_are_append_only(session: Session, _context: object, _instances: object) -> None:
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, StockMovement) and (obj in session.deleted or session.is_modified(obj)):
            raise AppendOnlyError(f"stock movement {obj.id} is append-only")
