"""`/checkout`: place the order, hand over to Stripe, and the pages a buyer returns to."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for

from shop.cart.services import priced
from shop.cart.views import current_cart, remember_count, render_cart
from shop.checkout import services
from shop.checkout.forms import CheckoutForm
from shop.extensions import db
from shop.inventory.services import InsufficientStock
from shop.orders import services as orders
from shop.orders.documents import invoice_for, render_pdf
from shop.orders.models import Order, OrderStatus, PaymentMethod
from shop.payments import services as payments
from shop.payments import stripe_client

bp = Blueprint("checkout", __name__)
log = logging.getLogger(__name__)


@bp.post("/checkout")
def checkout():  # type: ignore[no-untyped-def]
    cart = current_cart()
    current = priced(cart)
    if cart is None or not current.lines:
        flash("Your cart is empty: add packs from a product page first.", "error")
        return redirect(url_for("cart.show"), code=303)
    form = CheckoutForm()
    if not form.validate_on_submit():
        return render_cart(form, status=422)
    if not current.ready:
        return render_cart(form, status=409 if current.short else 422)
    method = PaymentMethod(form.payment_method.data)
    if method is PaymentMethod.CARD and not stripe_client.configured():
        form.payment_method.errors = [
            "Card payment is not configured in this shop yet. Choose bank transfer."
        ]
        return render_cart(form, status=422)
    contact = orders.Contact(
        email=form.email.data.strip().lower(),
        contact_name=form.contact_name.data.strip(),
        company=(form.company.data or "").strip(),
        phone=(form.phone.data or "").strip(),
        shipping_address=form.shipping_address.data.strip(),
        country=form.country.data,
    )
    try:
        order = services.place_order(cart, contact=contact, method=method)
    except InsufficientStock as exc:
        db.session.rollback()
        errors = {
            sku: f"Only {n} pack{'s' if n != 1 else ''} left." for sku, n in exc.shortages.items()
        }
        return render_cart(form, errors=errors, status=409)
    db.session.commit()  # the reservation stands before Stripe is called
    if method is PaymentMethod.BANK_TRANSFER:
        orders.queue_confirmation(order)
        cart.lines.clear()
        remember_count(cart)
        db.session.commit()
        return redirect(url_for("checkout.order_page", token=order.token), code=303)
    if order.stripe_checkout_url:  # a second press: the same session
        return redirect(order.stripe_checkout_url, code=303)
    try:
        url = payments.start_checkout(order)
    except stripe_client.StripeError as exc:
        db.session.rollback()
        log.error("order %s: Stripe Checkout could not be started: %s", order.number, exc)
        orders.release(
            order,
            status=OrderStatus.CANCELLED,
            actor="shop",
            reason=f"card payment could not be started: {type(exc).__name__}",
        )
        db.session.commit()
        form.payment_method.errors = [
            "Card payment is unavailable right now, so nothing was reserved or charged. "
            "Please try again in a few minutes or choose bank transfer."
        ]
        return render_cart(form, status=503)
    db.session.commit()
    return redirect(url, code=303)


@bp.get("/checkout/success")
def success():  # type: ignore[no-untyped-def]
    session_id = request.args.get("session_id", "")
    try:
        order = payments.confirm_return(session_id)
    except stripe_client.StripeError as exc:
        db.session.rollback()
        log.error("return from Stripe %s: %s", session_id[:80], exc)
        order = None
        found = db.session.scalar(
            db.select(Order).where(Order.stripe_session_id == session_id[:255])
        )
        if found is not None:
            flash(
                "We could not confirm your payment with Stripe yet. It will show here as "
                "soon as Stripe tells us.",
                "error",
            )
            return redirect(url_for("checkout.order_page", token=found.token), code=303)
    if order is None:
        abort(404)
    if order.status == OrderStatus.PAID and order.cart_id:
        cart = current_cart()
        if cart is not None and cart.id == order.cart_id:
            cart.lines.clear()
            remember_count(cart)
    db.session.commit()
    return redirect(url_for("checkout.order_page", token=order.token), code=303)


@bp.get("/checkout/cancel")
def cancel():  # type: ignore[no-untyped-def]
    order = orders.by_token(request.args.get("order", ""))
    if order is None:
        return redirect(url_for("cart.show"), code=303)
    try:
        payments.cancel_checkout(order)
    except stripe_client.StripeError as exc:
        db.session.rollback()
        log.error("order %s: could not expire the Checkout Session: %s", order.number, exc)
        flash(
            "Your cart is as you left it. Stock stays reserved for you for a few minutes.", "info"
        )
        return redirect(url_for("cart.show"), code=303)
    db.session.commit()
    if order.status == OrderStatus.PAID:
        return redirect(url_for("checkout.order_page", token=order.token), code=303)
    flash("Payment cancelled: nothing was charged. Your cart is as you left it.", "info")
    return redirect(url_for("cart.show"), code=303)


@bp.get("/orders/<token>")
def order_page(token: str) -> str:
    order = orders.by_token(token)
    if order is None:
        abort(404)
    return render_template("checkout/order.html", order=order)


@bp.get("/orders/<token>/invoice.pdf")
def invoice(token: str) -> Response:
    order = orders.by_token(token)
    if order is None:
        abort(404)
    pdf = render_pdf(invoice_for(order))
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f'inline; filename="invoice-{order.number or order.id}.pdf"'
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response
