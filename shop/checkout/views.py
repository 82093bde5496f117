"""`/checkout`: place the order, hand over to Stripe, and the pages a buyer returns to."""

from __future__ import annotations

import logging

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response as BaseResponse

from shop.accounts.services import ordering_blocker
from shop.cart.models import Cart
from shop.cart.services import priced
from shop.cart.session import current_cart, remember_count
from shop.checkout import services
from shop.checkout.forms import CheckoutForm
from shop.checkout.pages import forget_details, remember_details, render_cart_page
from shop.extensions import db, limiter
from shop.inventory.services import InsufficientStock
from shop.orders import services as orders
from shop.orders.documents import credit_note_for, invoice_for, render_pdf
from shop.orders.models import Order, OrderStatus, PaymentMethod, RefundStatus
from shop.payments import services as payments
from shop.payments import stripe_client
from shop.wording import packs

bp = Blueprint("checkout", __name__)


def checkout_limit() -> str:
    """Orders placed per client address: enough for a buyer who retries, too few for a
    script that would reserve the catalogue."""
    return str(current_app.config.get("SHOP_CHECKOUT_LIMIT", "10 per minute;60 per hour"))


log = logging.getLogger(__name__)


def _place(
    cart: Cart, contact: orders.Contact, method: PaymentMethod, vat_id: str
) -> Order | BaseResponse:
    """The order for the cart, after closing at Stripe every earlier card checkout of it
    (so the buyer can never pay twice); a response when that cannot be done."""
    for _attempt in range(3):
        try:
            return services.place_order(cart, contact=contact, method=method, vat_id=vat_id)
        except services.CheckoutStillOpen as exc:
            earlier = exc.orders
            db.session.rollback()
        for order in earlier:
            outcome = payments.close_checkout(
                order,
                status=OrderStatus.CANCELLED,
                actor=contact.email,
                reason="checkout started again",
            )
            db.session.commit()
            if outcome not in (payments.Outcome.RELEASED, payments.Outcome.NO_CHANGE):
                flash(
                    f"Your payment for order {order.number} reached us meanwhile, so nothing "
                    "new was started. Your cart is as you left it: check it before you pay "
                    "again.",
                    "error",
                )
                return redirect(url_for("checkout.order_page", token=order.token), code=303)
    raise services.CheckoutStillOpen(earlier)


@bp.post("/checkout")
@limiter.limit(checkout_limit, methods=["POST"])
def checkout() -> ResponseReturnValue:
    cart = current_cart()
    current = priced(cart)
    if cart is None or not current.lines:
        flash("Your cart is empty: add packs from a product page first.", "error")
        return redirect(url_for("cart.show"), code=303)
    form = CheckoutForm()
    if ordering_blocker() is not None:  # the cart page says what is missing
        form.validate_on_submit()
        return render_cart_page(form, status=403)
    if not form.validate_on_submit():
        return render_cart_page(form, status=422)
    if not current.ready:
        return render_cart_page(form, status=409 if current.short else 422)
    method = PaymentMethod(form.payment_method.data)
    if method is PaymentMethod.CARD and not stripe_client.configured():
        form.payment_method.errors = [
            "Card payment is not configured in this shop yet. Choose bank transfer."
        ]
        return render_cart_page(form, status=422)
    remember_details(form)
    contact = orders.Contact(
        email=form.email.data.strip().lower(),
        contact_name=form.contact_name.data.strip(),
        company=(form.company.data or "").strip(),
        phone=(form.phone.data or "").strip(),
        shipping_address=form.shipping_address.data.strip(),
        country=form.country.data,
    )
    try:
        placed = _place(cart, contact, method, (form.vat_id.data or "").strip())
    except InsufficientStock as exc:
        db.session.rollback()
        errors = {sku: f"Only {packs(n)} left." for sku, n in exc.shortages.items()}
        return render_cart_page(form, errors=errors, status=409)
    except services.TooManyOpenTransfers as exc:
        db.session.rollback()
        form.payment_method.errors = [str(exc)]
        return render_cart_page(form, status=409)
    except (stripe_client.StripeError, services.CheckoutStillOpen) as exc:
        db.session.rollback()
        log.error("cart %s: an earlier card checkout could not be closed: %s", cart.id, exc)
        form.payment_method.errors = [
            "Your earlier card payment page could not be closed at Stripe, so we started no "
            "new payment (you could otherwise pay twice). Please try again in a few minutes."
        ]
        return render_cart_page(form, status=503)
    if not isinstance(placed, Order):
        return placed
    order = placed
    db.session.commit()  # the reservation stands before Stripe is called
    if method is PaymentMethod.BANK_TRANSFER:
        orders.queue_confirmation(order)
        forget_details()
        cart.lines.clear()
        remember_count(cart)
        db.session.commit()
        return redirect(url_for("checkout.order_page", token=order.token), code=303)
    if order.stripe_checkout_url:  # a second press: the same session
        return redirect(order.stripe_checkout_url, code=303)
    try:
        url = payments.start_or_release(order)
    except stripe_client.StripeError as exc:
        if stripe_client.key_in_use(exc):
            flash("Your payment page is being prepared: please press checkout again.", "info")
            return redirect(url_for("cart.show"), code=303)
        form.payment_method.errors = [
            "Card payment is unavailable right now, so nothing was reserved or charged. "
            "Please try again in a few minutes or choose bank transfer."
        ]
        return render_cart_page(form, status=503)
    db.session.commit()
    return redirect(url, code=303)


@bp.get("/checkout/success")
def success() -> ResponseReturnValue:
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
    if order.status in (OrderStatus.PAID, OrderStatus.PAYMENT_PROCESSING) and order.cart_id:
        cart = current_cart()
        if cart is not None and cart.id == order.cart_id:
            forget_details()
            cart.lines.clear()
            remember_count(cart)
    db.session.commit()
    return redirect(url_for("checkout.order_page", token=order.token), code=303)


@bp.get("/checkout/cancel")
def cancel() -> ResponseReturnValue:
    """The buyer left Stripe's payment page. Only the browser that started this card
    checkout closes it (the link in an email never cancels anything); the session is
    closed at Stripe first, then the stock goes back."""
    order = orders.by_token(request.args.get("order", ""))
    cart = current_cart()
    if (
        order is None
        or order.payment_method != PaymentMethod.CARD
        or order.status != OrderStatus.PENDING_PAYMENT
        or cart is None
        or order.cart_id != cart.id
    ):
        if order is not None and order.status != OrderStatus.PENDING_PAYMENT:
            return redirect(url_for("checkout.order_page", token=order.token), code=303)
        return redirect(url_for("cart.show"), code=303)
    try:
        outcome = payments.close_checkout(
            order,
            status=OrderStatus.CANCELLED,
            actor="buyer",
            reason="left the card payment page",
        )
    except stripe_client.StripeError as exc:
        db.session.rollback()
        log.error("order %s: could not expire the Checkout Session: %s", order.number, exc)
        flash(
            "Your cart is as you left it. Stock stays reserved for you for a few minutes.", "info"
        )
        return redirect(url_for("cart.show"), code=303)
    db.session.commit()
    if outcome not in (payments.Outcome.RELEASED, payments.Outcome.NO_CHANGE):
        return redirect(url_for("checkout.order_page", token=order.token), code=303)
    flash("Payment cancelled: nothing was charged. Your cart is as you left it.", "info")
    return redirect(url_for("cart.show"), code=303)


@bp.get("/orders/<token>")
def order_page(token: str) -> Response:
    """The order behind its secret link: never kept by a browser or a proxy cache."""
    order = orders.by_token(token)
    if order is None:
        abort(404)
    response = Response(render_template("checkout/order.html", order=order))
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/orders/<token>/credit-notes/<int:refund_id>.pdf")
def credit_note(token: str, refund_id: int) -> Response:
    """The credit note of a refund that was made (succeeded) on this order."""
    order = orders.by_token(token)
    refund = next((r for r in order.refunds if r.id == refund_id), None) if order else None
    if order is None or refund is None or refund.status != RefundStatus.SUCCEEDED:
        abort(404)
    document = credit_note_for(order, refund)
    response = Response(render_pdf(document), mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f'inline; filename="credit-note-{document.number}.pdf"'
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


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
