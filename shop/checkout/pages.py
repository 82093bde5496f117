"""The cart page: the cart's lines and totals with the checkout form under them. Shown by
the cart's own views and again by checkout when its form has errors."""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app, render_template, request, session

from shop.cart.services import free_shipping_gap, priced, shipping_for
from shop.cart.session import current_cart
from shop.checkout.forms import REMEMBERED, CheckoutForm

DETAILS_KEY = "checkout_details"

# What a fresh checkout form starts with, from a higher layer (the signed-in account).
_prefill: list[Callable[[], dict[str, str]]] = []


def on_prefill(source: Callable[[], dict[str, str]]) -> None:
    """Register `source`: the checkout form's starting values (later sources win; the
    details a buyer typed before going to Stripe win over all)."""
    if source not in _prefill:
        _prefill.append(source)


def _starting_values() -> dict[str, str]:
    """The account's details under what the buyer typed before going to Stripe, unless they
    just chose one of their saved addresses (?address=<id>): then that address wins."""
    values: dict[str, str] = {}
    for source in _prefill:
        values |= source()
    typed = session.get(DETAILS_KEY) or {}
    if "address" in request.args:
        return typed | values
    return values | typed


def remember_details(form: CheckoutForm) -> None:
    """Keep the buyer's details for the cart page they may come back to from Stripe."""
    session[DETAILS_KEY] = {name: str(getattr(form, name).data or "") for name in REMEMBERED}


def forget_details() -> None:
    """The order is placed for good: the details are no longer needed in the session."""
    session.pop(DETAILS_KEY, None)


def render_cart_page(
    form: CheckoutForm | None = None, *, errors: dict[str, str] | None = None, status: int = 200
) -> tuple[str, int]:
    """The cart page, with `form` (a fresh checkout form when None) and errors per SKU."""
    card = current_app.config["SHOP_SETTINGS"].card_payments
    cart = priced(current_cart())
    if form is None:
        form = CheckoutForm(data=_starting_values())
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
        free_shipping_gap=free_shipping_gap(cart.subtotal),
        free_shipping_from=current_app.config["SHOP_SETTINGS"].free_shipping_from,
    )
    return page, status
