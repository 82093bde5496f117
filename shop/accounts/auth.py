"""Who may see what: the role checks every admin view goes through."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort
from flask_login import current_user, login_required

from shop.accounts.models import User
from shop.extensions import db, login_manager

F = TypeVar("F", bound=Callable[..., Any])


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    if not user_id.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    return user if user is not None and user.active else None


def staff_required(view: F) -> F:
    """Signed-in staff or admins only: others are sent to sign in, buyers refused (403)."""

    @wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_staff:
            abort(403)
        return view(*args, **kwargs)

    wrapped.required_role = "staff"  # type: ignore[attr-defined]
    return wrapped  # type: ignore[return-value]


def admin_required(view: F) -> F:
    """Signed-in admins only."""

    @wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    wrapped.required_role = "admin"  # type: ignore[attr-defined]
    return wrapped  # type: ignore[return-value]


def actor() -> str:
    """How history records the signed-in person."""
    if current_user.is_authenticated:
        return str(current_user.email)
    return "anonymous"
