"""Requests for quotes, their lines and every change of state."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.db import Base, utcnow


class QuoteStatus(enum.StrEnum):
    NEW = "new"
    QUOTED = "quoted"
    ACCEPTED = "accepted"
    PAID = "paid"
    DECLINED = "declined"
    EXPIRED = "expired"


class Supply(enum.StrEnum):
    """How staff promise a line: all from stock, part now and the rest later, or made."""

    IN_STOCK = "in_stock"
    BACKORDERED = "backordered"
    MADE_TO_ORDER = "made_to_order"


class BusinessType(enum.StrEnum):
    DISTRIBUTOR = "distributor"
    CLINIC_CHAIN = "clinic_chain"
    OTHER = "other"


class Quote(Base):
    __tablename__ = "quotes"
    __table_args__ = (
        CheckConstraint(
            "status IN ('new', 'quoted', 'accepted', 'paid', 'declined', 'expired')",
            name="status_known",
        ),
        CheckConstraint(
            "business_type IN ('distributor', 'clinic_chain', 'other')", name="business_known"
        ),
        CheckConstraint(
            "shipping_amount IS NULL OR shipping_amount >= 0", name="shipping_nonnegative"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str | None] = mapped_column(String(20), unique=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(10), index=True, default=QuoteStatus.NEW.value)
    company: Mapped[str] = mapped_column(String(160))
    contact_name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254), index=True)
    phone: Mapped[str] = mapped_column(String(40), default="")
    country: Mapped[str] = mapped_column(String(2))
    business_type: Mapped[str] = mapped_column(String(16))
    vat_number: Mapped[str] = mapped_column(String(40), default="")
    message: Mapped[str] = mapped_column(Text, default="")
    currency: Mapped[str] = mapped_column(String(3))
    shipping_amount: Mapped[int | None] = mapped_column(Integer)
    valid_until: Mapped[date | None] = mapped_column(Date)
    staff_note: Mapped[str] = mapped_column(Text, default="")
    decline_reason: Mapped[str] = mapped_column(Text, default="")
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    quoted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Staff may revise a sent quote: each revision is a new version behind the same link.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    revised_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    lines: Mapped[list[QuoteLine]] = relationship(
        back_populates="quote", order_by="QuoteLine.id", cascade="all, delete-orphan"
    )
    history: Mapped[list[QuoteEvent]] = relationship(
        back_populates="quote", order_by="QuoteEvent.id", cascade="all, delete-orphan"
    )
    order = relationship("Order")


class QuoteLine(Base):
    """A catalogue SKU or a free-text item (private label, custom specs), in packs."""

    __tablename__ = "quote_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_amount IS NULL OR unit_amount > 0", name="unit_amount_positive"),
        CheckConstraint("variant_id IS NOT NULL OR description <> ''", name="item_named"),
        CheckConstraint(
            "supply IS NULL OR supply IN ('in_stock', 'backordered', 'made_to_order')",
            name="supply_known",
        ),
        CheckConstraint(
            "ships_now IS NULL OR (ships_now >= 0 AND ships_now <= quantity)",
            name="ships_now_within_quantity",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    quote_id: Mapped[int] = mapped_column(ForeignKey("quotes.id"), index=True)
    variant_id: Mapped[int | None] = mapped_column(ForeignKey("variants.id"), index=True)
    sku: Mapped[str] = mapped_column(String(64), default="")
    description: Mapped[str] = mapped_column(String(500), default="")
    quantity: Mapped[int] = mapped_column(Integer)
    private_label: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str] = mapped_column(Text, default="")
    unit_amount: Mapped[int | None] = mapped_column(Integer)
    # What staff promised when they answered: None until then.
    supply: Mapped[str | None] = mapped_column(String(16))
    ships_now: Mapped[int | None] = mapped_column(Integer)  # packs shipped from stock
    rest_ships_on: Mapped[date | None] = mapped_column(Date)  # when the other packs follow

    quote: Mapped[Quote] = relationship(back_populates="lines")
    variant = relationship("Variant")


class QuoteEvent(Base):
    """A change of a quote's state: who, when, from what to what, and why."""

    __tablename__ = "quote_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    quote_id: Mapped[int] = mapped_column(ForeignKey("quotes.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(254))
    from_status: Mapped[str] = mapped_column(String(10), default="")
    to_status: Mapped[str] = mapped_column(String(10))
    note: Mapped[str] = mapped_column(Text, default="")

    quote: Mapped[Quote] = relationship(back_populates="history")
