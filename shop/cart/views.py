"""`/cart`: add, update and remove packs."""

from __future__ import annotations

from flask import Blueprint, flash, jsonify, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from shop.cart import quick as quick_order
from shop.cart import services
from shop.cart.forms import QuickOrderForm
from shop.cart.session import current_cart, remember_count
from shop.catalog.views import render_product_page
from shop.checkout.pages import render_cart_page
from shop.errors import ValidationError
from shop.extensions import db
from shop.wording import packs

bp = Blueprint("cart", __name__, url_prefix="/cart")


@bp.get("")
def show() -> ResponseReturnValue:
    return render_cart_page()


def _wants_json() -> bool:
    """The product page's script asks for JSON, so the buyer stays on the page; a form
    sent without script gets the pages it always did."""
    accepted = request.accept_mimetypes
    return accepted["application/json"] > accepted["text/html"]  # never for "*/*"


@bp.post("/add")
def add() -> ResponseReturnValue:
    sku = request.form.get("sku", "")
    variant = services.variant_by_sku(sku)
    if variant is None:
        if _wants_json():
            message = "That product could not be found. It may have been withdrawn."
            return jsonify({"error": message, "sku": sku[:64]}), 404
        flash("That product could not be found. It may have been withdrawn.", "error")
        return redirect(url_for("catalog.product_list"), code=303)
    try:
        quantity = services.parse_quantity(request.form.get("quantity"))
        cart = current_cart(create=True)
        assert cart is not None
        services.add(cart, variant, quantity)
    except ValidationError as exc:
        db.session.rollback()
        if _wants_json():
            return jsonify({"error": next(iter(exc.errors.values())), "sku": variant.sku}), 422
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
    message = f"Added {packs(quantity)} of {variant.sku} to your cart."
    if _wants_json():
        in_cart = int(session.get("cart_packs") or 0)
        return jsonify({"message": message, "sku": variant.sku, "cart_packs": in_cart})
    flash(message, "success")
    return redirect(url_for("cart.show"), code=303)


@bp.post("/update")
def update() -> ResponseReturnValue:
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
        return render_cart_page(errors={variant.sku: next(iter(exc.errors.values()))}, status=422)
    remember_count(cart)
    db.session.commit()
    flash(f"Updated {variant.sku}." if quantity else f"Removed {variant.sku}.", "success")
    return redirect(url_for("cart.show"), code=303)


@bp.post("/remove")
def remove() -> ResponseReturnValue:
    cart = current_cart()
    variant = services.variant_by_sku(request.form.get("sku", ""))
    if cart is not None and variant is not None:
        services.remove(cart, variant.id)
        remember_count(cart)
        db.session.commit()
        flash(f"Removed {variant.sku} from your cart.", "success")
    return redirect(url_for("cart.show"), code=303)


@bp.route("/quick", methods=["GET", "POST"])
def quick() -> ResponseReturnValue:
    """Quick order: lines of "SKU quantity", checked against the catalogue and the stock;
    "Add" puts the lines that pass into the cart and leaves the others in the box."""
    form = QuickOrderForm()
    lines: list[quick_order.QuickLine] = []
    if form.validate_on_submit():
        cart = current_cart(create=form.add.data)
        if form.add.data and cart is not None:
            added, left_out = quick_order.add_checked(cart, form.lines.data)
            remember_count(cart)
            db.session.commit()
            if added:
                flash(
                    "Added to your cart: "
                    + ", ".join(f"{packs(a.quantity or 0)} of {a.sku}" for a in added)
                    + ".",
                    "success",
                )
            if not left_out:
                return redirect(url_for("cart.show"), code=303)
            form.lines.data = "\n".join(line.text for line in left_out if line.text)
            lines = left_out
        else:
            lines = quick_order.check(cart, form.lines.data)
            db.session.rollback()
    status = (
        422 if request.method == "POST" and (form.errors or any(not x.ok for x in lines)) else 200
    )
    html = render_template(
        "cart/quick.html",
        form=form,
        lines=lines,
        addable=sum(1 for line in lines if line.ok),
    )
    return html, status
