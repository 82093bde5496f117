"""Who may see what: the sign-in and role checks views go through, typed over Flask-Login."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import abort
from flask_login import current_user, login_required

from shop.accounts.models import User
from shop.extensions import db, login_manager

P = ParamSpec("P")
R = TypeVar("R")


def load_user(user_id: str) -> User | None:
    """The signed-in account of a session, if it still exists and is active."""
    if not user_id.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    return user if user is not None and user.active else None


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
