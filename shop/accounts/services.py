"""Accounts: create, authenticate, and carry an anonymous cart into the account's."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import func, select

from shop.accounts.models import Role, User
from shop.cart import services as carts
from shop.cart.models import Cart
from shop.errors import ShopError, ValidationError
from shop.extensions import db

# Checked against when the email is unknown, so a wrong email takes as long as a wrong
# password and sign-in does not reveal which accounts exist.
_DUMMY = User(email="", password_hash="")
_DUMMY.set_password("not a real password")


log = logging.getLogger(__name__)


def find(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def create_user(email: str, password: str, *, name: str = "", role: Role = Role.BUYER) -> User:
    email = email.strip().lower()
    if find(email) is not None:
        raise ValidationError({"email": "An account with this email exists: please sign in."})
    if len(password) < 12:
        raise ValidationError({"password": "Use at least 12 characters."})
    user = User(email=email, name=name.strip(), role=role.value, active=True)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    return user


def authenticate(email: str, password: str) -> User | None:
    user = find(email)
    if user is None:
        _DUMMY.check_password(password)
        return None
    if not user.check_password(password) or not user.active:
        return None
    user.last_login_at = datetime.now(UTC)
    return user


def adopt_cart(user: User, anonymous: Cart | None) -> tuple[Cart | None, list[str]]:
    """The account's cart after sign-in, with the anonymous cart's lines merged in (within
    the stock and the cart's rules), and what could not be merged. Another account's cart
    is never touched."""
    own = db.session.scalar(select(Cart).where(Cart.user_id == user.id).order_by(Cart.id.desc()))
    if anonymous is None or anonymous is own or anonymous.user_id is not None:
        return own, []
    if own is None:
        anonymous.user_id = user.id
        db.session.flush()
        return anonymous, []
    return own, carts.merge(own, anonymous)


class AccountRefused(ShopError):
    """A change to a back-office account that is not allowed; the message says why."""


def set_active(user: User, active: bool, *, by: User) -> None:
    """Let a back-office account sign in again, or stop it (an admin never stops themself)."""
    if not user.is_staff:
        raise AccountRefused(f"{user.email} is not a back-office account.")
    if not active and user.id == by.id:
        raise AccountRefused("You cannot deactivate your own account.")
    user.active = active
    if not active:
        user.end_sessions()
    log.info(
        "account %s %s by %s", user.email, "reactivated" if active else "deactivated", by.email
    )
    db.session.flush()


def set_password(user: User, password: str, *, by: User) -> None:
    """Give a back-office account a new password (at least 12 characters)."""
    if not user.is_staff:
        raise AccountRefused(f"{user.email} is not a back-office account.")
    if len(password) < 12:
        raise ValidationError({"password": "Use at least 12 characters."})
    user.set_password(password)
    log.info("password of %s set by %s", user.email, by.email)
    db.session.flush()
