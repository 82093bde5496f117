"""People who sign in: buyers, staff and admins."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from shop.db import Base, utcnow


class Role(enum.StrEnum):
    BUYER = "buyer"
    STAFF = "staff"
    ADMIN = "admin"


class User(Base):
    """An account; also what Flask-Login keeps as the signed-in user."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('buyer', 'staff', 'admin')", name="role_known"),)

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
