"""The outbox: one row per email, kept until sent or given up."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shop.db import Base, utcnow


class OutboxEmail(Base):
    __tablename__ = "outbox_emails"

    id: Mapped[int] = mapped_column(primary_key=True)
    to: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    # Given up: the recipient can never be reached, or the server kept refusing the message.
    failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)

    @property
    def state(self) -> str:
        """What staff see: queued (due or backing off), sent, or failed (given up)."""
        if self.sent_at is not None:
            return "sent"
        return "failed" if self.failed_at is not None else "queued"
