"""`/account`: sign in and out, register and confirm, reset a password, the buyer's details,
addresses, orders and quotes, their data to take away, and closing the account."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_user, logout_user
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from shop.accounts import services, tokens
from shop.accounts.auth import signed_in, start_session
from shop.accounts.forms import (
    AddressForm,
    CloseForm,
    DetailsFields,
    ForgotForm,
    LoginForm,
    PasswordChangeForm,
    RegisterForm,
    ResetForm,
)
from shop.accounts.models import Address, User
from shop.cart import services as carts
from shop.cart.session import SESSION_KEY, current_cart, forget, remember_count
from shop.checkout.pages import on_prefill
from shop.countries import country_name
from shop.errors import ValidationError
from shop.extensions import db, limiter
from shop.forms import show_errors
from shop.orders.models import Order
from shop.orders.tracking import tracking_url
from shop.quotes.models import Quote

bp = Blueprint("accounts", __name__, url_prefix="/account")


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site: never an open redirect."""
    if not target:
        return None
    parts = urlsplit(target)
    if (
        parts.scheme
        or parts.netloc
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
    ):
        return None
    return target


def _account_key() -> str:
    """Failed sign-ins also count per account, whichever addresses they come from."""
    return "account:" + (request.form.get("email") or "").strip().lower()[:254]


def _failed(response: Response) -> bool:
    return response.status_code != 303


def _me() -> User:
    """The signed-in account, as a row of this request's session."""
    user = db.session.get(User, current_user.id)
    if user is None:
        abort(404)
    return user


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


def signed_in_account() -> User | None:
    """The account the header names, or None for a visitor; never fails a page (an error
    page for a database that is down still renders, with "Sign in")."""
    if "_user_id" not in session:
        return None
    try:
        user = current_user._get_current_object()
    except SQLAlchemyError:
        db.session.rollback()
        return None
    return user if user.is_authenticated else None


@bp.app_context_processor
def _header() -> dict[str, Any]:
    return {
        "signed_in_account": signed_in_account,
        "country_name": country_name,
        "tracking_url": tracking_url,
        "ordering_blocker": services.ordering_blocker,
    }


# -- sign in and out ---------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10 per minute;50 per hour", methods=["POST"], deduct_when=_failed)
@limiter.limit(
    "10 per minute;50 per hour", methods=["POST"], deduct_when=_failed, key_func=_account_key
)
def login() -> ResponseReturnValue:
    form = LoginForm()
    target = _safe_next(request.args.get("next"))
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data)
        if user is None:
            form.password.errors = ["That email and password do not match an account."]
            db.session.rollback()
            return render_template("accounts/login.html", form=form, next=target), 401
        _start_session(user)
        flash(f"Signed in as {user.email}.", "success")
        default = url_for("admin.dashboard") if user.is_staff else url_for("accounts.home")
        return redirect(target or default, code=303)
    status = 422 if request.method == "POST" else 200
    return render_template("accounts/login.html", form=form, next=target), status


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


# -- register, confirm, reset ------------------------------------------------------------


def _details(form: DetailsFields) -> services.Details:
    return services.Details(
        name=form.name.data or "",
        company=form.company.data or "",
        phone=form.phone.data or "",
        country=form.country.data or "",
        vat_id=form.vat_id.data or "",
        licence_number=form.licence_number.data or "",
    )


def _verified_only() -> bool:
    return bool(current_app.config["SHOP_SETTINGS"].require_verified_buyers)


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit("5 per hour", methods=["POST"], deduct_when=_failed)
@limiter.limit("20 per hour", methods=["POST"])
def register() -> ResponseReturnValue:
    form = RegisterForm()
    target = _safe_next(request.args.get("next"))
    context = {"form": form, "next": target, "verified_only": _verified_only()}
    if form.validate_on_submit():
        try:
            user = services.register_buyer(form.email.data, form.password.data, _details(form))
        except ValidationError as exc:
            db.session.rollback()
            show_errors(form, exc.errors)
            return render_template("accounts/register.html", **context), 422
        _start_session(user)
        flash(
            f"Your account is ready. We sent a link to {user.email}: follow it to confirm "
            "your address.",
            "success",
        )
        return redirect(target or url_for("accounts.home"), code=303)
    status = 422 if request.method == "POST" else 200
    return render_template("accounts/register.html", **context), status


@bp.get("/confirm/<token>")
def confirm(token: str) -> ResponseReturnValue:
    try:
        user, linked = services.confirm_email(token)
    except tokens.LinkRefused as exc:
        db.session.rollback()
        return render_template("accounts/link_refused.html", message=str(exc)), 400
    db.session.commit()
    message = f"Thank you: {user.email} is confirmed."
    if linked:
        message += f" {linked} earlier order{'s' if linked != 1 else ''} placed with it "
        message += "are now in your account." if linked != 1 else "is now in your account."
    flash(message, "success")
    if current_user.is_authenticated and current_user.id == user.id:
        return redirect(url_for("accounts.home"), code=303)
    return redirect(url_for("accounts.login"), code=303)


@bp.post("/confirm/resend")
@limiter.limit("3 per hour", methods=["POST"])
@signed_in
def resend_confirmation() -> ResponseReturnValue:
    user = _me()
    if user.email_confirmed:
        flash("Your address is already confirmed.", "info")
    else:
        services.send_confirmation(user)
        db.session.commit()
        flash(f"We sent a new link to {user.email}.", "success")
    return redirect(url_for("accounts.home"), code=303)


SENT_IF_KNOWN = (
    "If an account uses that address, we have sent it a link to choose a new password. "
    "The link works once, within an hour. Nothing arrived? Check the spam folder, or ask "
    "again in a few minutes."
)


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit("5 per hour", methods=["POST"])
@limiter.limit("3 per hour", methods=["POST"], key_func=_account_key)
def forgot_password() -> ResponseReturnValue:
    form = ForgotForm()
    if form.validate_on_submit():
        services.request_password_reset(form.email.data)
        db.session.commit()
        flash(SENT_IF_KNOWN, "info")
        return redirect(url_for("accounts.login"), code=303)
    status = 422 if request.method == "POST" else 200
    return render_template("accounts/forgot.html", form=form), status


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
def reset_password(token: str) -> ResponseReturnValue:
    try:
        tokens.read(token, tokens.Purpose.RESET_PASSWORD)
    except tokens.LinkRefused as exc:
        db.session.rollback()
        return render_template(
            "accounts/link_refused.html", message=str(exc), reset=True, form=ForgotForm()
        ), 400
    form = ResetForm()
    if form.validate_on_submit():
        try:
            user = services.reset_password(token, form.password.data)
        except ValidationError as exc:
            db.session.rollback()
            show_errors(form, exc.errors)
            return render_template("accounts/reset.html", form=form), 422
        _start_session(user)
        flash("Your password is changed, and you are signed in.", "success")
        return redirect(url_for("accounts.home"), code=303)
    status = 422 if request.method == "POST" else 200
    response = Response(render_template("accounts/reset.html", form=form), status)
    response.headers["Referrer-Policy"] = "no-referrer"  # the token stays off other sites
    return response


# -- the account's pages -----------------------------------------------------------------


def _private(html: str) -> Response:
    response = Response(html)
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _own_orders(user: User, limit: int = 200) -> list[Order]:
    return list(
        db.session.scalars(
            select(Order).where(Order.user_id == user.id).order_by(Order.id.desc()).limit(limit)
        )
    )


def _own_quotes(user: User) -> list[Quote]:
    """Quotes asked for with the account's address, once that address is confirmed (before,
    anyone could register someone else's address and read their quotes)."""
    if not user.email_confirmed:
        return []
    return list(
        db.session.scalars(
            select(Quote)
            .where(func.lower(Quote.email) == user.email.lower())
            .order_by(Quote.id.desc())
            .limit(200)
        )
    )


@bp.get("")
@signed_in
def home() -> ResponseReturnValue:
    user = _me()
    return _private(
        render_template(
            "accounts/home.html",
            user=user,
            orders=_own_orders(user, limit=5),
            quotes=_own_quotes(user)[:5],
            tracking_url=tracking_url,
            blocker=services.what_stops_ordering(user, required=_verified_only()),
        )
    )


@bp.get("/orders")
@signed_in
def orders() -> ResponseReturnValue:
    return _private(
        render_template(
            "accounts/orders.html", orders=_own_orders(_me()), tracking_url=tracking_url
        )
    )


@bp.get("/quotes")
@signed_in
def quotes() -> ResponseReturnValue:
    user = _me()
    return _private(render_template("accounts/quotes.html", quotes=_own_quotes(user), user=user))


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


@bp.route("/details", methods=["GET", "POST"])
@signed_in
def details() -> ResponseReturnValue:
    user = _me()
    form = DetailsFields(obj=user if request.method == "GET" else None)
    password_form = PasswordChangeForm(formdata=None)
    if form.validate_on_submit():
        services.update_details(user, _details(form))
        db.session.commit()
        flash("Your details are saved.", "success")
        return redirect(url_for("accounts.details"), code=303)
    status = 422 if request.method == "POST" else 200
    html = render_template(
        "accounts/details.html", form=form, password_form=password_form, user=user
    )
    return Response(html, status, headers={"Cache-Control": "private, no-store"})


@bp.post("/password")
@limiter.limit("10 per hour", methods=["POST"], deduct_when=_failed)
@signed_in
def change_password() -> ResponseReturnValue:
    user = _me()
    password_form = PasswordChangeForm()
    if password_form.validate_on_submit():
        try:
            services.change_password(
                user, password_form.current_password.data, password_form.new_password.data
            )
        except ValidationError as exc:
            db.session.rollback()
            show_errors(password_form, exc.errors)
        else:
            db.session.commit()
            start_session(user)  # this browser stays signed in; every other session ends
            flash("Your password is changed. Other devices are signed out.", "success")
            return redirect(url_for("accounts.details"), code=303)
    form = DetailsFields(formdata=None, obj=user)
    html = render_template(
        "accounts/details.html", form=form, password_form=password_form, user=user
    )
    return Response(html, 422, headers={"Cache-Control": "private, no-store"})


# -- addresses ---------------------------------------------------------------------------


def _address_or_404(user: User, address_id: int) -> Address:
    address = services.own_address(user, address_id)
    if address is None:
        abort(404)
    return address


@bp.get("/addresses")
@signed_in
def addresses() -> ResponseReturnValue:
    user = _me()
    return _private(render_template("accounts/addresses.html", user=user))


@bp.route("/addresses/new", methods=["GET", "POST"])
@bp.route("/addresses/<int:address_id>/edit", methods=["GET", "POST"])
@signed_in
def edit_address(address_id: int | None = None) -> ResponseReturnValue:
    user = _me()
    address = _address_or_404(user, address_id) if address_id is not None else None
    if address is None and request.method == "GET":
        form = AddressForm(
            data={
                "contact_name": user.name,
                "company": user.company,
                "phone": user.phone,
                "country": user.country,
                "is_default": not user.addresses,
            }
        )
    else:
        form = AddressForm(obj=address if request.method == "GET" else None)
    if form.validate_on_submit():
        services.save_address(user, address, form.data)
        db.session.commit()
        flash("The address is saved.", "success")
        return redirect(_safe_next(request.args.get("next")) or url_for("accounts.addresses"), 303)
    status = 422 if request.method == "POST" else 200
    html = render_template("accounts/address_form.html", form=form, address=address)
    return Response(html, status, headers={"Cache-Control": "private, no-store"})


@bp.post("/addresses/<int:address_id>/delete")
@signed_in
def delete_address(address_id: int) -> ResponseReturnValue:
    user = _me()
    services.delete_address(user, _address_or_404(user, address_id))
    db.session.commit()
    flash("The address is removed.", "success")
    return redirect(url_for("accounts.addresses"), code=303)


@bp.post("/addresses/<int:address_id>/default")
@signed_in
def default_address(address_id: int) -> ResponseReturnValue:
    user = _me()
    address = _address_or_404(user, address_id)
    services.save_address(user, address, _address_fields(address) | {"is_default": True})
    db.session.commit()
    flash(f"Checkout starts with {address.title} now.", "success")
    return redirect(url_for("accounts.addresses"), code=303)


def _address_fields(address: Address) -> dict[str, Any]:
    return {
        name: getattr(address, name)
        for name in ("label", "contact_name", "company", "phone", "street_address", "country")
    }


# -- your data ---------------------------------------------------------------------------


@bp.get("/export.json")
@limiter.limit("10 per hour")
@signed_in
def export() -> ResponseReturnValue:
    user = _me()
    quotes = [
        {
            "reference": q.reference,
            "status": q.status,
            "company": q.company,
            "requested_at": q.created_at.isoformat(),
        }
        for q in _own_quotes(user)
    ]
    body = json.dumps(services.export_data(user, quotes), indent=2, ensure_ascii=False)
    return Response(
        body,
        mimetype="application/json",
        headers={
            "Content-Disposition": 'attachment; filename="meso-needle-works-account.json"',
            "Cache-Control": "private, no-store",
        },
    )


@bp.route("/close", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
@signed_in
def close() -> ResponseReturnValue:
    user = _me()
    form = CloseForm()
    if form.validate_on_submit():
        try:
            services.close_account(user, form.password.data)
        except (ValidationError, services.AccountRefused) as exc:
            db.session.rollback()
            if isinstance(exc, ValidationError):
                show_errors(form, exc.errors)
            else:
                form.password.errors = [str(exc)]
            return render_template("accounts/close.html", form=form), 422
        db.session.commit()
        logout_user()
        forget()
        session.clear()
        flash(
            "Your account is closed and your personal data removed from it. Orders stay "
            "in our books for as long as the law requires.",
            "info",
        )
        return redirect(url_for("catalog.home"), code=303)
    status = 422 if request.method == "POST" else 200
    return render_template("accounts/close.html", form=form), status


# -- checkout pre-filled from the account ------------------------------------------------


def _checkout_prefill() -> dict[str, str]:
    """What the checkout form starts with for a signed-in buyer: their details and the
    default address (or the one chosen with ?address=<id>)."""
    user = signed_in_account()
    if user is None or user.is_staff:
        return {}
    chosen = request.args.get("address", "")
    address = (
        services.own_address(user, int(chosen)) if chosen.isdigit() and len(chosen) < 12 else None
    ) or user.default_address
    data = {
        "email": user.email,
        "contact_name": user.name,
        "company": user.company,
        "phone": user.phone,
        "country": user.country,
        "vat_id": user.vat_id,
    }
    if address is not None:
        data |= {
            "contact_name": address.contact_name or user.name,
            "company": address.company or user.company,
            "phone": address.phone or user.phone,
            "shipping_address": address.street_address,
            "country": address.country,
        }
    return {k: v for k, v in data.items() if v}


on_prefill(_checkout_prefill)
