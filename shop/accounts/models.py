"""People who sign in: buyers, staff and admins."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from shop.db import Base, utcnow


class Role(enum.StrEnum):
    BUYER = "buyer"
    STAFF = "staff"
    ADMIN = "admin"


class Verification(enum.StrEnum):
    """Where a buyer's account stands in staff's check of their professional licence."""

    NONE = "none"  # email not confirmed yet: staff are not asked
    PENDING = "pending"  # confirmed, waiting for staff
    VERIFIED = "verified"
    REFUSED = "refused"

    @property
    def label(self) -> str:
        return {
            "none": "Email not confirmed",
            "pending": "Waiting for verification",
            "verified": "Verified professional",
            "refused": "Not verified",
        }[self.value]


class User(Base):
    """An account; also what Flask-Login keeps as the signed-in user."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('buyer', 'staff', 'admin')", name="role_known"),
        CheckConstraint(
            "verification IN ('none', 'pending', 'verified', 'refused')",
            name="verification_known",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(10), default=Role.BUYER.value)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Sessions carry the version they were signed in at: moving it on (sign-out, a new
    # password, deactivation) ends every session of the account, copied cookies included.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    # The clinic or company a buyer orders for, and what checkout is pre-filled with.
    company: Mapped[str] = mapped_column(String(160), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    country: Mapped[str] = mapped_column(String(2), default="")
    vat_id: Mapped[str] = mapped_column(String(20), default="")
    licence_number: Mapped[str] = mapped_column(String(80), default="")
    # Set when the buyer followed the link mailed to the address: only then are guest
    # orders placed with it linked to the account.
    email_confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    verification: Mapped[str] = mapped_column(
        String(10), default=Verification.NONE.value, index=True
    )
    verification_note: Mapped[str] = mapped_column(Text, default="")
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    verified_by: Mapped[str] = mapped_column(String(254), default="")
    # A closed account keeps its row (orders point at it) with its personal data removed.
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    addresses: Mapped[list[Address]] = relationship(
        back_populates="user", order_by="Address.id", cascade="all, delete-orphan"
    )

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)
        self.end_sessions()

    def end_sessions(self) -> None:
        """Every session signed in to this account so far is over at its next request."""
        self.session_version = (self.session_version or 1) + 1

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    # What Flask-Login asks of a user object.
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive accounts
        return self.active

    def get_id(self) -> str:
        return str(self.id)

    @property
    def is_staff(self) -> bool:
        return self.role in (Role.STAFF, Role.ADMIN)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def email_confirmed(self) -> bool:
        return self.email_confirmed_at is not None

    @property
    def verification_label(self) -> str:
        return Verification(self.verification).label

    @property
    def display_name(self) -> str:
        """What the header calls the signed-in person: their name, else their address."""
        return self.name or self.email

    @property
    def default_address(self) -> Address | None:
        return next((a for a in self.addresses if a.is_default), None) or next(
            iter(self.addresses), None
        )


class Address(Base):
    """A shipping address a buyer keeps to choose at checkout; one may be the default."""

    __tablename__ = "addresses"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(60), default="")
    contact_name: Mapped[str] = mapped_column(String(120))
    company: Mapped[str] = mapped_column(String(160), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    street_address: Mapped[str] = mapped_column(Text)
    country: Mapped[str] = mapped_column(String(2))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    user: Mapped[User] = relationship(back_populates="addresses")

    @property
    def title(self) -> str:
        """How the address is named in lists and the checkout's choice."""
        first_line = self.street_address.strip().splitlines()[0] if self.street_address else ""
        return self.label or f"{self.contact_name}, {first_line}"
