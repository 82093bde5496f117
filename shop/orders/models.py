"""Orders, their lines, the lots each line got, and the order's history."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop import tax
from shop.db import Base, utcnow


class OrderStatus(enum.StrEnum):
    PENDING_PAYMENT = "pending_payment"  # card checkout open, stock reserved
    AWAITING_TRANSFER = "awaiting_transfer"  # bank transfer, stock reserved for days
    PAYMENT_PROCESSING = "payment_processing"  # paid by a delayed method, not settled yet
    PAID = "paid"
    SHIPPED = "shipped"
    EXPIRED = "expired"  # never paid; reservation released
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return {
            "pending_payment": "Awaiting card payment",
            "awaiting_transfer": "Awaiting bank transfer",
            "payment_processing": "Payment processing",
            "paid": "Paid",
            "shipped": "Shipped",
            "expired": "Expired",
            "cancelled": "Cancelled",
        }[self.value]


OPEN_STATUSES = (
    OrderStatus.PENDING_PAYMENT,
    OrderStatus.AWAITING_TRANSFER,
    OrderStatus.PAYMENT_PROCESSING,
)


class PaymentMethod(enum.StrEnum):
    CARD = "card"
    BANK_TRANSFER = "bank_transfer"


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("total = subtotal + shipping_amount + tax_amount", name="total_adds_up"),
        CheckConstraint("tax_amount >= 0", name="tax_nonnegative"),
        CheckConstraint(
            "tax_treatment IN ('domestic', 'eu_distance', 'reverse_charge', 'export')",
            name="tax_treatment_known",
        ),
        CheckConstraint(
            "amount_refunded >= 0 AND amount_refunded <= total", name="refund_within_total"
        ),
        CheckConstraint("amount_paid >= 0 AND amount_paid <= total", name="paid_within_total"),
        CheckConstraint("amount_refunded <= amount_paid", name="refund_within_paid"),
        CheckConstraint(
            "shortfall_accepted >= 0 AND amount_paid + shortfall_accepted <= total",
            name="shortfall_within_total",
        ),
        CheckConstraint(
            "transfer_received >= 0 AND transfer_received <= total", name="transfer_within_total"
        ),
        CheckConstraint(
            "status IN ('pending_payment', 'awaiting_transfer', 'payment_processing', 'paid', "
            "'shipped', 'expired', 'cancelled')",
            name="status_known",
        ),
        CheckConstraint("payment_method IN ('card', 'bank_transfer')", name="method_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(String(20), unique=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    cart_id: Mapped[int | None] = mapped_column(
        ForeignKey("carts.id", ondelete="SET NULL"), index=True
    )
    # The cart's contents when the order was made, to recognise a second press of checkout.
    cart_fingerprint: Mapped[str] = mapped_column(String(64), default="")
    user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    status: Mapped[str] = mapped_column(String(24), index=True)
    payment_method: Mapped[str] = mapped_column(String(16))
    email: Mapped[str] = mapped_column(String(254))
    contact_name: Mapped[str] = mapped_column(String(120))
    company: Mapped[str] = mapped_column(String(160), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    shipping_address: Mapped[str] = mapped_column(Text)
    country: Mapped[str] = mapped_column(String(2))
    currency: Mapped[str] = mapped_column(String(3))
    # Net amounts (prices are net): the lines, shipping; then the VAT on both, and the
    # gross total the buyer pays.
    subtotal: Mapped[int] = mapped_column(Integer)
    shipping_amount: Mapped[int] = mapped_column(Integer)
    tax_amount: Mapped[int] = mapped_column(Integer, default=0)
    # Basis points (1900 = 19 %) and how the order is taxed (shop.tax.Treatment).
    tax_rate: Mapped[int] = mapped_column(Integer, default=0)
    tax_treatment: Mapped[str] = mapped_column(String(16), default="domestic")
    buyer_vat_id: Mapped[str] = mapped_column(String(40), default="")
    total: Mapped[int] = mapped_column(Integer)
    # Money received for this order (its total once paid) and refunded of it, in cents.
    amount_paid: Mapped[int] = mapped_column(Integer, default=0)
    amount_refunded: Mapped[int] = mapped_column(Integer, default=0)
    # A bank transfer short of the total, as last recorded (not paid yet), and the part of
    # the total staff wrote off when they accepted such a shortfall (paid = received).
    transfer_received: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    shortfall_accepted: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reserved_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    stripe_session_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    stripe_checkout_url: Mapped[str | None] = mapped_column(Text)
    stripe_payment_intent: Mapped[str | None] = mapped_column(String(255), index=True)
    needs_attention: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    attention_reason: Mapped[str] = mapped_column(Text, default="")
    carrier: Mapped[str] = mapped_column(String(80), default="")
    tracking_number: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    shipped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The worker leaves an order whose settling failed alone until then (see `settle_due`).
    settle_after: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    settle_attempts: Mapped[int] = mapped_column(Integer, default=0)

    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", order_by="OrderLine.id", cascade="all, delete-orphan"
    )
    history: Mapped[list[OrderEvent]] = relationship(
        back_populates="order", order_by="OrderEvent.id", cascade="all, delete-orphan"
    )
    refunds: Mapped[list[Refund]] = relationship(
        back_populates="order", order_by="Refund.id", cascade="all, delete-orphan"
    )

    @property
    def status_label(self) -> str:
        return OrderStatus(self.status).label

    @property
    def net_total(self) -> int:
        """Lines and shipping before VAT."""
        return self.subtotal + self.shipping_amount

    @property
    def tax_label(self) -> str:
        """`VAT 19 % (Germany)`, `Reverse charge` or `Export: no VAT`."""
        return tax.label(self.tax_treatment, self.tax_rate, self.country)

    @property
    def tax_note(self) -> str:
        """The reverse-charge or export note ("" when none)."""
        return tax.note(self.tax_treatment)

    @property
    def shipping_tax(self) -> int:
        """The VAT on shipping: the order's VAT less its lines'."""
        return self.tax_amount - sum(line.tax_amount for line in self.lines)

    def packs_tax(self, restock: dict[int, int]) -> int:
        """The VAT these packs (by sold allocation id) carried: per line, their share of the
        line's VAT, rounded half up."""
        total = 0
        for line in self.lines:
            packs = sum(restock.get(a.id, 0) for a in line.allocations)
            total += tax.share(line.tax_amount, line.quantity, packs)
        return total

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def refund_in_flight(self) -> int:
        """Cents of refunds asked for or pending at the payment provider, not yet done."""
        return sum(r.amount for r in self.refunds if r.status in IN_FLIGHT_REFUNDS)

    @property
    def refundable(self) -> int:
        """Cents that can still be refunded: paid, less refunded and refunds under way."""
        return max(self.amount_paid - self.amount_refunded - self.refund_in_flight, 0)


class OrderLine(Base):
    """A line as sold: name, SKU and price copied, so catalogue edits never change it."""

    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_amount > 0", name="unit_amount_positive"),
        CheckConstraint("line_total = unit_amount * quantity", name="line_total_adds_up"),
        CheckConstraint("tax_amount >= 0", name="tax_nonnegative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    variant_id: Mapped[int | None] = mapped_column(ForeignKey("variants.id"), index=True)
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(300))
    pack_size: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)
    unit_amount: Mapped[int] = mapped_column(Integer)
    line_total: Mapped[int] = mapped_column(Integer)
    # The line's VAT in cents, its net line_total taxed at the order's rate, rounded half up.
    tax_amount: Mapped[int] = mapped_column(Integer, default=0)

    order: Mapped[Order] = relationship(back_populates="lines")
    allocations: Mapped[list[Allocation]] = relationship(
        back_populates="line", order_by="Allocation.id", cascade="all, delete-orphan"
    )


class AllocationState(enum.StrEnum):
    RESERVED = "reserved"
    SOLD = "sold"
    RELEASED = "released"


class Allocation(Base):
    """Packs of one lot held for (reserved) or sold to an order line."""

    __tablename__ = "allocations"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("state IN ('reserved', 'sold', 'released')", name="state_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"), index=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lots.id"), index=True)
    lot_number: Mapped[str] = mapped_column(String(40), index=True)
    expires_on: Mapped[date] = mapped_column(Date)
    quantity: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(10), index=True)

    line: Mapped[OrderLine] = relationship(back_populates="allocations")


class OrderEvent(Base):
    """One entry of an order's history: who did what, when."""

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(60))
    note: Mapped[str] = mapped_column(Text, default="")

    order: Mapped[Order] = relationship(back_populates="history")


class RefundStatus(enum.StrEnum):
    """A refund's life, as Stripe's refund object has it, plus `requested`: the shop has
    asked and has no answer yet (the amount is held so that nothing is refunded twice)."""

    REQUESTED = "requested"
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


IN_FLIGHT_REFUNDS = (RefundStatus.REQUESTED, RefundStatus.PENDING)


class Refund(Base):
    """Money given back for an order: one row per refund asked for, by Stripe or by bank.

    Only `succeeded` refunds count in `Order.amount_refunded`; `requested` and `pending`
    ones hold their amount against what can still be refunded.
    """

    __tablename__ = "refunds"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(
            "status IN ('requested', 'pending', 'succeeded', 'failed', 'canceled')",
            name="status_known",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    # The form's nonce (or the worker's key): a form sent twice finds the same refund.
    request_key: Mapped[str] = mapped_column(String(120), unique=True)
    # Stripe's refund id once known, or "bank transfer ..." for a refund sent by bank.
    reference: Mapped[str | None] = mapped_column(String(255), unique=True)
    amount: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), index=True)
    # What to do when the refund is made: packs back per sold allocation id, and cancel.
    restock: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    cancel: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    order: Mapped[Order] = relationship(back_populates="refunds")


class Recall(Base):
    """A lot called back: when and why, by whom, and the buyers told so far."""

    __tablename__ = "recalls"

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_number: Mapped[str] = mapped_column(String(40), unique=True)
    reason: Mapped[str] = mapped_column(Text)
    started_by: Mapped[str] = mapped_column(String(254))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    notices: Mapped[list[RecallNotice]] = relationship(
        back_populates="recall", order_by="RecallNotice.id", cascade="all, delete-orphan"
    )


class RecallNotice(Base):
    """The notice of a recall sent (queued in the outbox) to one buyer: one per buyer."""

    __tablename__ = "recall_notices"
    __table_args__ = (UniqueConstraint("recall_id", "email", name="one_notice_per_buyer"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recall_id: Mapped[int] = mapped_column(ForeignKey("recalls.id"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    order_numbers: Mapped[str] = mapped_column(Text)  # the buyer's orders, comma-separated
    queued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(254))

    recall: Mapped[Recall] = relationship(back_populates="notices")
