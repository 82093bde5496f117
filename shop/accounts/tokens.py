"""The links mailed to buyers: signed, expiring, and good for one use.

A link carries the account's id and a fingerprint of the state it is meant to change (the
unconfirmed address, or the current password hash). Once that state has moved on (the
address is confirmed, the password was changed) the fingerprint no longer matches and the
link is dead, so a link works once without the shop having to store it.
"""

from __future__ import annotations

import enum
import hashlib
from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from shop.accounts.models import User
from shop.extensions import db


class Purpose(enum.StrEnum):
    CONFIRM_EMAIL = "confirm-email"
    RESET_PASSWORD = "reset-password"  # noqa: S105  (a purpose, not a password)


LIFETIME = {
    Purpose.CONFIRM_EMAIL: timedelta(days=2),
    Purpose.RESET_PASSWORD: timedelta(hours=1),
}


class LinkRefused(Exception):
    """A link that cannot be used; the message tells the buyer why and what to do."""


def _serializer(purpose: Purpose) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"account-{purpose}")


def _fingerprint(user: User, purpose: Purpose) -> str:
    if purpose is Purpose.CONFIRM_EMAIL:
        state = f"{user.email}|{user.email_confirmed_at is None}"
    else:
        state = f"{user.email}|{user.password_hash}"
    return hashlib.sha256(state.encode()).hexdigest()[:24]


def make(user: User, purpose: Purpose) -> str:
    """A token for `user` that `read` accepts for `purpose` until it expires or is used."""
    token: str = _serializer(purpose).dumps({"u": user.id, "f": _fingerprint(user, purpose)})
    return token


def read(token: str, purpose: Purpose) -> User:
    """The account a token was made for; LinkRefused when it is forged, expired or used."""
    again = (
        "Ask for a new confirmation link from your account page."
        if purpose is Purpose.CONFIRM_EMAIL
        else "Ask for a new one below."
    )
    try:
        data = _serializer(purpose).loads(
            token[:1000], max_age=int(LIFETIME[purpose].total_seconds())
        )
    except SignatureExpired:
        raise LinkRefused(f"This link has expired. {again}") from None
    except BadSignature:
        raise LinkRefused(f"This link is not valid. {again}") from None
    user_id = data.get("u") if isinstance(data, dict) else None
    user = db.session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or not user.active or data.get("f") != _fingerprint(user, purpose):
        raise LinkRefused(f"This link has already been used. {again}")
    return user
