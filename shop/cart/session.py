"""The visitor's cart as the signed session cookie (or the signed-in account) finds it."""

from __future__ import annotations

from flask import session
from flask_login import current_user

from shop.cart import services
from shop.cart.models import Cart

SESSION_KEY = "cart_token"


def current_cart(*, create: bool = False) -> Cart | None:
    """The visitor's cart, found by the token in the signed session cookie (or, signed in,
    the account's cart). Another account's cart is never returned, whatever the cookie
    says."""
    cart = services.find_cart(session.get(SESSION_KEY))
    owner = current_user.id if current_user.is_authenticated else None
    if cart is not None and cart.user_id not in (None, owner):
        cart = None
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
    """Keep the number of packs in the cart in the session, for the header."""
    session["cart_packs"] = sum(x.quantity for x in cart.lines) if cart else 0


def forget() -> None:
    """Sign-out: the cart stays with the account, the browser forgets it."""
    session.pop(SESSION_KEY, None)
    session.pop("cart_packs", None)
