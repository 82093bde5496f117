"""`/admin/buyers`: buyer accounts, and staff's check of professional buyers.

Staff see the accounts waiting (email confirmed) with their licence number, country and
company, and verify or refuse each; the buyer gets an email either way. With
SHOP_REQUIRE_VERIFIED_BUYERS=1 only verified buyers can check out or accept quotes.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from shop.accounts import services as accounts
from shop.accounts.auth import staff_required
from shop.accounts.forms import VerificationForm
from shop.accounts.models import Role, User, Verification
from shop.admin.blueprint import bp, section
from shop.errors import ValidationError
from shop.extensions import db

section("admin.buyers", "Buyers")

FILTERS = {
    "waiting": (Verification.PENDING,),
    "verified": (Verification.VERIFIED,),
    "refused": (Verification.REFUSED,),
    "unconfirmed": (Verification.NONE,),
}


@bp.get("/buyers", endpoint="buyers")
@staff_required
def buyer_list() -> str:
    shown = request.args.get("status", "waiting")
    if shown not in FILTERS:
        shown = "waiting"
    states = [s.value for s in FILTERS[shown]]
    people = db.session.scalars(
        select(User)
        .where(User.role == Role.BUYER.value, User.verification.in_(states))
        .where(User.closed_at.is_(None))
        .order_by(User.email_confirmed_at, User.id)
        .limit(500)
    ).all()
    return render_template(
        "admin/buyers.html",
        people=people,
        shown=shown,
        filters=list(FILTERS),
        form=VerificationForm(formdata=None),
    )


def _buyer(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None or user.is_staff:
        abort(404)
    return user


@bp.post("/buyers/<int:user_id>/verify")
@staff_required
def buyer_verify(user_id: int) -> Response | tuple[str, int]:
    return _decide(_buyer(user_id), Verification.VERIFIED)


@bp.post("/buyers/<int:user_id>/refuse")
@staff_required
def buyer_refuse(user_id: int) -> Response | tuple[str, int]:
    return _decide(_buyer(user_id), Verification.REFUSED)


def _decide(user: User, decision: Verification) -> Response | tuple[str, int]:
    form = VerificationForm()
    back = redirect(url_for("admin.buyers", status=request.args.get("status", "waiting")), 303)
    if not form.validate_on_submit():
        flash("The form expired: please try again.", "error")
        return back
    try:
        accounts.set_verification(user, decision, note=form.note.data or "", by=current_user)
    except ValidationError as exc:
        db.session.rollback()
        flash(f"{user.email}: {next(iter(exc.errors.values()))}", "error")
        return back
    except accounts.AccountRefused as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return back
    db.session.commit()
    done = "verified" if decision is Verification.VERIFIED else "refused"
    flash(f"{user.company or user.email} is {done}; we emailed {user.email}.", "success")
    return back
