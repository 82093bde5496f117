"""The cart page: the cart's lines and totals with the checkout form under them. Shown by
the cart's own views and again by checkout when its form has errors."""

from __future__ import annotations

from flask import current_app, render_template

from shop.cart.services import priced, shipping_for
from shop.cart.session import current_cart
from shop.checkout.forms import CheckoutForm


def render_cart_page(
    form: CheckoutForm | None = None, *, errors: dict[str, str] | None = None, status: int = 200
) -> tuple[str, int]:
    """The cart page, with `form` (a fresh checkout form when None) and errors per SKU."""
    card = current_app.config["SHOP_SETTINGS"].card_payments
    cart = priced(current_cart())
    if form is None:
        form = CheckoutForm()
        if not card:
            form.payment_method.data = "bank_transfer"
    shipping = shipping_for(cart.subtotal) if cart.lines else 0
    page = render_template(
        "cart/cart.html",
        cart=cart,
        shipping=shipping,
        form=form,
        errors=errors or {},
        card_configured=card,
    )
    return page, status
