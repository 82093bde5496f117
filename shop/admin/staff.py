"""`/admin/staff`: back-office accounts, for admins only.

Admins list staff and admin accounts, create them with an initial password, deactivate and
reactivate them (never themselves) and set a new password.
"""

from __future__ import annotations

import logging

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, logout_user
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import EmailField, PasswordField, RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length

from shop.accounts import services as accounts
from shop.accounts.auth import actor, admin_required
from shop.accounts.models import Role, User
from shop.admin.blueprint import bp, section
from shop.errors import ValidationError
from shop.extensions import db
from shop.forms import EmailAddress, ShopForm, strip

log = logging.getLogger(__name__)

section("admin.staff", "Staff accounts", admin_only=True)

PASSWORD_RULES = [
    InputRequired("Choose a password."),
    Length(min=12, max=200, message="Use at least 12 characters."),
]


class StaffForm(ShopForm):
    email = EmailField(
        "Email",
        filters=[strip],
        validators=[
            InputRequired("Enter their email address."),
            EmailAddress("name@meso-needles.example"),
            Length(max=254),
        ],
    )
    name = StringField(
        "Name", filters=[strip], validators=[DataRequired("Enter their name."), Length(max=120)]
    )
    role = RadioField(
        "Role",
        choices=[
            SelectChoice(Role.STAFF.value, "Staff: orders, products, stock, quotes"),
            SelectChoice(Role.ADMIN.value, "Admin: all of that and staff accounts"),
        ],
        default=Role.STAFF.value,
        validators=[InputRequired("Choose a role.")],
    )
    password = PasswordField("Initial password", validators=PASSWORD_RULES)


class PasswordForm(ShopForm):
    password = PasswordField("New password", validators=PASSWORD_RULES)
    confirm = PasswordField(
        "Repeat the new password",
        validators=[
            InputRequired("Repeat the password."),
            EqualTo("password", message="The two passwords differ."),
        ],
    )


@bp.before_request
def deactivated_are_signed_out() -> Response | None:
    """An account deactivated while signed in loses the back office at its next request."""
    if current_user.is_authenticated and not current_user.active:
        logout_user()
        flash("This account is deactivated: ask an admin.", "error")
        return redirect(url_for("accounts.login"))
    return None


def _staff_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None or not user.is_staff:
        abort(404)
    return user


@bp.get("/staff", endpoint="staff")
@admin_required
def staff_list() -> str:
    people = db.session.scalars(
        select(User)
        .where(User.role.in_([Role.STAFF.value, Role.ADMIN.value]))
        .order_by(User.active.desc(), User.email)
    ).all()
    return render_template("admin/staff/list.html", people=people)


@bp.route("/staff/new", methods=["GET", "POST"])
@admin_required
def staff_new() -> Response | tuple[str, int]:
    form = StaffForm()
    if form.validate_on_submit():
        try:
            user = accounts.create_user(
                form.email.data, form.password.data, name=form.name.data, role=Role(form.role.data)
            )
        except ValidationError as exc:
            db.session.rollback()
            for name, message in exc.errors.items():
                if name == "email":
                    message = "An account with this email exists already."
                form[name].errors = [message]
            return render_template("admin/staff/new.html", form=form), 422
        db.session.commit()
        log.info("%s account %s created by %s", user.role, user.email, actor())
        flash(f"{user.role.title()} account {user.email} created.", "success")
        return redirect(url_for("admin.staff"), code=303)
    status = 422 if request.method == "POST" else 200
    return render_template("admin/staff/new.html", form=form), status


def _set_active(user_id: int, active: bool) -> Response:
    user = _staff_user(user_id)
    try:
        accounts.set_active(user, active, by=current_user)
    except accounts.AccountRefused as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("admin.staff"), code=303)
    db.session.commit()
    flash(f"{user.email} is {'active again' if active else 'deactivated'}.", "success")
    return redirect(url_for("admin.staff"), code=303)


@bp.post("/staff/<int:user_id>/deactivate")
@admin_required
def staff_deactivate(user_id: int) -> Response:
    return _set_active(user_id, False)


@bp.post("/staff/<int:user_id>/reactivate")
@admin_required
def staff_reactivate(user_id: int) -> Response:
    return _set_active(user_id, True)


@bp.route("/staff/<int:user_id>/password", methods=["GET", "POST"])
@admin_required
def staff_password(user_id: int) -> Response | tuple[str, int]:
    user = _staff_user(user_id)
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            accounts.set_password(user, form.password.data, by=current_user)
        except (ValidationError, accounts.AccountRefused) as exc:
            db.session.rollback()
            form.password.errors = [str(exc)]
            return render_template("admin/staff/password.html", form=form, user=user), 422
        db.session.commit()
        flash(f"{user.email} has a new password: tell them in person, not by email.", "success")
        return redirect(url_for("admin.staff"), code=303)
    status = 422 if request.method == "POST" else 200
    return render_template("admin/staff/password.html", form=form, user=user), status
