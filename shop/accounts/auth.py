"""Who may see what: the sign-in and role checks views go through, typed over Flask-Login."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import abort, session
from flask_login import current_user, login_required

from shop.accounts.models import User
from shop.extensions import db, login_manager

P = ParamSpec("P")
R = TypeVar("R")


# How long a sign-in lasts: staff sessions end after a working day, buyers' after a month.
STAFF_SESSION = timedelta(hours=12)
BUYER_SESSION = timedelta(days=30)
VERSION_KEY = "auth_version"
SINCE_KEY = "auth_since"


def load_user(user_id: str) -> User | None:
    """The signed-in account of a session: it must still exist and be active, the session
    must carry the account's current session version (sign-out, a new password or a
    deactivation move it on) and be younger than its role allows."""
    if not (user_id.isascii() and user_id.isdigit()) or len(user_id) > 18:
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active:
        return None
    if session.get(VERSION_KEY) != user.session_version:
        return None
    since = session.get(SINCE_KEY)
    lifetime = STAFF_SESSION if user.is_staff else BUYER_SESSION
    if not isinstance(since, int) or time.time() - since > lifetime.total_seconds():
        return None
    return user


def start_session(user: User) -> None:
    """Mark the (fresh) session as signed in to `user` now, at the account's version."""
    session[VERSION_KEY] = user.session_version
    session[SINCE_KEY] = int(time.time())


login_manager.user_loader(load_user)


def signed_in(view: Callable[P, R]) -> Callable[P, R]:
    """Signed-in people only: others are sent to sign in and brought back afterwards."""
    guarded: Callable[P, R] = login_required(view)
    return guarded


def _role_required(check: Callable[[], bool]) -> Callable[[Callable[P, R]], Callable[P, R]]:
    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        @wraps(view)
        def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
            if not check():
                abort(403)
            return view(*args, **kwargs)

        return signed_in(wrapped)

    return decorate


admin_required = _role_required(lambda: bool(current_user.is_admin))
"""Signed-in admins only: others are sent to sign in, staff and buyers refused (403)."""

staff_required = _role_required(lambda: bool(current_user.is_staff))
"""Signed-in staff or admins only: others are sent to sign in, buyers refused (403)."""


def actor() -> str:
    """How history records the signed-in person."""
    if current_user.is_authenticated:
        return str(current_user.email)
    return "anonymous"
