"""`/cart`: add, update and remove packs."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from shop.cart import services
from shop.cart.models import Cart
from shop.catalog.views import render_product_page
from shop.checkout.forms import CheckoutForm
from shop.checkout.services import shipping_for
from shop.errors import ValidationError
from shop.extensions import db
from shop.payments.stripe_client import configured

bp = Blueprint("cart", __name__, url_prefix="/cart")

SESSION_KEY = "cart_token"


def current_cart(*, create: bool = False) -> Cart | None:
    """The visitor's cart, found by the token in the signed session cookie (or, signed in,
    the account's cart)."""
    cart = services.find_cart(session.get(SESSION_KEY))
    owner = current_user.id if current_user.is_authenticated else None
    if cart is not None and cart.user_id not in (None, owner):
        cart = None  # another account's cart: never used, whatever the cookie says
    if cart is None and current_user.is_authenticated:
        cart = services.account_cart(current_user.id)
    if cart is None and create:
        cart = services.new_cart()
        if current_user.is_authenticated:
            cart.user_id = current_user.id
    if cart is not None and session.get(SESSION_KEY) != cart.token:
        session[SESSION_KEY] = cart.token
        session.permanent = True  # survives a browser restart
    return cart


def remember_count(cart: Cart | None) -> None:
    session["cart_packs"] = sum(x.quantity for x in cart.lines) if cart else 0


def render_cart(form=None, *, errors: dict[str, str] | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    cart = current_cart()
    priced = services.priced(cart)
    if form is None:
        form = CheckoutForm()
        if not configured():
            form.payment_method.data = "bank_transfer"
    shipping = shipping_for(priced.subtotal) if priced.lines else 0
    return (
        render_template(
            "cart/cart.html",
            cart=priced,
            shipping=shipping,
            form=form,
            errors=errors or {},
            card_configured=configured(),
        ),
        status,
    )


@bp.get("")
def show():  # type: ignore[no-untyped-def]
    return render_cart()


@bp.post("/add")
def add() -> Response | tuple[str, int]:
    sku = request.form.get("sku", "")
    variant = services.variant_by_sku(sku)
    if variant is None:
        flash("That product could not be found. It may have been withdrawn.", "error")
        return redirect(url_for("catalog.product_list"), code=303)
    try:
        quantity = services.parse_quantity(request.form.get("quantity"))
        cart = current_cart(create=True)
        assert cart is not None
        services.add(cart, variant, quantity)
    except ValidationError as exc:
        db.session.rollback()
        return render_product_page(
            variant.product.slug,
            error=(
                variant.sku,
                next(iter(exc.errors.values())),
                request.form.get("quantity", "")[:12],
            ),
        )
    remember_count(cart)
    db.session.commit()
    flash(
        f"Added {quantity} pack{'s' if quantity != 1 else ''} of {variant.sku} to your cart.",
        "success",
    )
    return redirect(url_for("cart.show"), code=303)


@bp.post("/update")
def update():  # type: ignore[no-untyped-def]
    cart = current_cart()
    variant = services.variant_by_sku(request.form.get("sku", ""))
    if cart is None or variant is None:
        flash("That line is no longer in your cart.", "error")
        return redirect(url_for("cart.show"), code=303)
    try:
        raw = request.form.get("quantity", "")
        quantity = 0 if raw.strip() == "0" else services.parse_quantity(raw)
        services.update(cart, variant, quantity)
    except ValidationError as exc:
        db.session.rollback()
        return render_cart(errors={variant.sku: next(iter(exc.errors.values()))}, status=422)
    remember_count(cart)
    db.session.commit()
    flash(f"Updated {variant.sku}." if quantity else f"Removed {variant.sku}.", "success")
    return redirect(url_for("cart.show"), code=303)


@bp.post("/remove")
def remove():  # type: ignore[no-untyped-def]
    cart = current_cart()
    variant = services.variant_by_sku(request.form.get("sku", ""))
    if cart is not None and variant is not None:
        services.remove(cart, variant.id)
        remember_count(cart)
        db.session.commit()
        flash(f"Removed {variant.sku} from your cart.", "success")
    return redirect(url_for("cart.show"), code=303)
