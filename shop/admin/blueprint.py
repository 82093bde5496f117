"""The back office's blueprint: every route under /admin is for staff, checked first."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

bp = Blueprint("admin", __name__, url_prefix="/admin")

# The back-office menu: (endpoint, label, admin only), in the order sections register.
MENU: list[tuple[str, str, bool]] = []


def section(endpoint: str, label: str, *, admin_only: bool = False) -> None:
    """Put a back-office section in the menu (called once by each section's module)."""
    MENU.append((endpoint, label, admin_only))


@bp.before_request
def staff_only() -> Response | None:
    """Anonymous visitors are sent to sign in; signed-in buyers are refused."""
    if not current_user.is_authenticated:
        return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))
    if not current_user.is_staff:
        abort(403)
    return None


@bp.after_request
def never_cache(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response
