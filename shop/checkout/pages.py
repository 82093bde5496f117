"""The cart page: the cart's lines and totals with the checkout form under them. Shown by
the cart's own views and again by checkout when its form has errors."""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app, render_template, request, session

from shop.cart.services import free_shipping_gap, priced, shipping_for
from shop.cart.session import current_cart
from shop.checkout.forms import REMEMBERED, CheckoutForm
from shop.money import SYMBOLS, ZERO_DECIMAL
from shop.orders import services as orders
from shop.tax import country_name

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
    # The VAT for the country chosen in the form; before one is, the seller's own, said so.
    settings = current_app.config["SHOP_SETTINGS"]
    country = str(form.country.data or "")
    vat = orders.tax_for(
        country or settings.seller_country,
        str(form.vat_id.data or ""),
        [p.line_total for p in cart.lines],
        shipping,
    )
    # What static/js/vat.js needs to follow the form as it changes.
    vat_config = {
        "seller": settings.seller_country,
        "rates": settings.vat_rates,
        "names": {code: country_name(code) for code in settings.vat_rates},
        "nets": [p.line_total for p in cart.lines],
        "shipping": shipping,
        "net": cart.subtotal + shipping,
        "prefix": SYMBOLS.get(settings.currency, settings.currency.upper() + " "),
        "decimals": 0 if settings.currency in ZERO_DECIMAL else 2,
    }
    page = render_template(
        "cart/cart.html",
        cart=cart,
        shipping=shipping,
        vat=vat,
        vat_estimate=not country,
        vat_config=vat_config,
        seller_country_name=country_name(settings.seller_country),
        form=form,
        errors=errors or {},
        card_configured=card,
        free_shipping_gap=free_shipping_gap(cart.subtotal),
        free_shipping_from=settings.free_shipping_from,
    )
    return page, status
