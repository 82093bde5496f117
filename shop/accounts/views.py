"""`/account`: sign in and out, register, order history and reorder."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from shop.accounts import services
from shop.accounts.auth import signed_in, start_session
from shop.accounts.forms import LoginForm, RegisterForm
from shop.accounts.models import User
from shop.cart import services as carts
from shop.cart.session import SESSION_KEY, current_cart, forget, remember_count
from shop.errors import ValidationError
from shop.extensions import db, limiter
from shop.orders.models import Order

bp = Blueprint("accounts", __name__, url_prefix="/account")


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site: never an open redirect."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _account_key() -> str:
    """Failed sign-ins also count per account, whichever addresses they come from."""
    return "account:" + (request.form.get("email") or "").strip().lower()[:254]


def _failed(response: Response) -> bool:
    return response.status_code != 303


def _start_session(user: User) -> None:
    """Sign `user` in on a fresh session: whoever was signed in on this browser before is
    signed out and nothing of theirs (their cart above all) carries over; a visitor's
    anonymous cart is merged into the account's."""
    anonymous = None if current_user.is_authenticated else current_cart()
    if current_user.is_authenticated:
        logout_user()
    cart, problems = services.adopt_cart(user, anonymous)
    db.session.commit()
    session.clear()
    login_user(user)
    start_session(user)
    if cart is not None:
        session[SESSION_KEY] = cart.token
    remember_count(cart)
    if problems:
        flash("Not carried into your cart: " + "; ".join(problems) + ".", "error")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10 per minute;50 per hour", methods=["POST"], deduct_when=_failed)
@limiter.limit(
    "10 per minute;50 per hour", methods=["POST"], deduct_when=_failed, key_func=_account_key
)
def login() -> ResponseReturnValue:
    form = LoginForm()
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data)
        if user is None:
            form.password.errors = ["That email and password do not match an account."]
            db.session.rollback()
            return render_template("accounts/login.html", form=form), 401
        _start_session(user)
        flash(f"Signed in as {user.email}.", "success")
        default = url_for("admin.dashboard") if user.is_staff else url_for("accounts.orders")
        return redirect(_safe_next(request.args.get("next")) or default, code=303)
    status = 422 if request.method == "POST" else 200
    return render_template("accounts/login.html", form=form), status


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """Sign out: this session and every copy of its cookie are over (the account's session
    version moves on), and nothing of it stays in the browser."""
    if current_user.is_authenticated:
        account = db.session.get(User, current_user.id)
        if account is not None:
            account.end_sessions()
            db.session.commit()
    logout_user()
    forget()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("catalog.home"), code=303)


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit("5 per hour", methods=["POST"])
def register() -> ResponseReturnValue:
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            user = services.create_user(form.email.data, form.password.data, name=form.name.data)
        except ValidationError as exc:
            db.session.rollback()
            for name, message in exc.errors.items():
                getattr(form, name).errors = [message]
            return render_template("accounts/register.html", form=form), 422
        _start_session(user)
        flash("Your account is ready.", "success")
        return redirect(url_for("accounts.orders"), code=303)
    status = 422 if request.method == "POST" else 200
    return render_template("accounts/register.html", form=form), status


@bp.get("/orders")
@signed_in
def orders() -> ResponseReturnValue:
    rows = db.session.scalars(
        select(Order).where(Order.user_id == current_user.id).order_by(Order.id.desc()).limit(200)
    ).all()
    return render_template("accounts/orders.html", orders=rows)


@bp.post("/orders/<number>/reorder")
@signed_in
def reorder(number: str) -> ResponseReturnValue:
    order = db.session.scalar(
        select(Order).where(Order.number == number, Order.user_id == current_user.id)
    )
    if order is None:
        flash("That order is not in your account.", "error")
        return redirect(url_for("accounts.orders"), code=303)
    cart = current_cart(create=True)
    assert cart is not None
    cart.user_id = current_user.id
    added, skipped = [], []
    for line in order.lines:
        variant = carts.variant_by_sku(line.sku)
        if variant is None:
            skipped.append(f"{line.sku} (no longer sold)")
            continue
        try:
            with db.session.begin_nested():
                carts.add(cart, variant, line.quantity)
            added.append(line.sku)
        except ValidationError as exc:
            skipped.append(f"{line.sku}: {next(iter(exc.errors.values()))}")
    remember_count(cart)
    db.session.commit()
    if added:
        flash(f"Added to your cart: {', '.join(added)}.", "success")
    if skipped:
        flash(f"Not added: {'; '.join(skipped)}", "error")
    return redirect(url_for("cart.show"), code=303)
