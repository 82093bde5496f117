"""What a cart holds and what it costs: prices from the database, rules enforced."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from shop.cart.models import Cart, CartLine
from shop.catalog.models import Variant
from shop.errors import ValidationError
from shop.extensions import db
from shop.inventory.services import Availability, availability
from shop.wording import packs

MAX_PACKS_PER_LINE = 10_000
MAX_LINES = 100


@dataclass(frozen=True)
class PricedLine:
    line: CartLine
    variant: Variant
    unit_amount: int
    availability: Availability

    @property
    def quantity(self) -> int:
        return self.line.quantity

    @property
    def line_total(self) -> int:
        return self.unit_amount * self.line.quantity

    @property
    def problem(self) -> str | None:
        """Why this line cannot be checked out as it is, or None."""
        v = self.variant
        if not v.is_active or not v.product.is_active:
            return "This variant is no longer sold. Please remove it."
        if self.quantity < v.min_order_quantity:
            return f"The minimum order is {packs(v.min_order_quantity)}."
        if self.short:
            n = self.availability.available
            return f"Only {packs(n)} left."
        return None

    @property
    def short(self) -> bool:
        return self.quantity > self.availability.available


@dataclass(frozen=True)
class PricedCart:
    cart: Cart | None
    lines: list[PricedLine]

    @property
    def subtotal(self) -> int:
        return sum(line.line_total for line in self.lines)

    @property
    def packs(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def short(self) -> bool:
        return any(line.short for line in self.lines)

    @property
    def ready(self) -> bool:
        return bool(self.lines) and all(line.problem is None for line in self.lines)

    def fingerprint(self) -> str:
        """Identifies the cart's contents and prices: a repeat checkout matches it."""
        text = ";".join(f"{p.variant.sku}x{p.quantity}@{p.unit_amount}" for p in self.lines)
        return hashlib.sha256(text.encode()).hexdigest()


def shipping_for(subtotal: int) -> int:
    """Shipping in cents for a cart of this subtotal: free from the shop's threshold."""
    settings = current_app.config["SHOP_SETTINGS"]
    if subtotal >= settings.free_shipping_from:
        return 0
    return int(settings.shipping_amount)


def free_shipping_gap(subtotal: int) -> int:
    """How much more a cart of this subtotal needs to ship free (0 when it already does),
    by the same threshold `shipping_for` charges by."""
    return max(0, int(current_app.config["SHOP_SETTINGS"].free_shipping_from) - subtotal)


def new_cart() -> Cart:
    cart = Cart(token=secrets.token_urlsafe(32))
    db.session.add(cart)
    db.session.flush()
    return cart


def find_cart(token: str | None) -> Cart | None:
    if not token or len(token) > 64:
        return None
    return db.session.scalar(select(Cart).where(Cart.token == token))


def account_cart(user_id: int) -> Cart | None:
    return db.session.scalar(select(Cart).where(Cart.user_id == user_id).order_by(Cart.id.desc()))


def variant_by_sku(sku: str) -> Variant | None:
    """The variant with this SKU in any case a buyer types it: the catalogue keeps SKUs in
    capitals, so "mn-32g-4mm-100" is MN-32G-4MM-100 (one look-up of the unique index)."""
    sku = sku.strip()
    if not sku or len(sku) > 64:
        return None
    return db.session.scalar(
        select(Variant)
        .where(Variant.sku.in_({sku, sku.upper()}))
        .limit(1)
        .options(selectinload(Variant.product), selectinload(Variant.price_tiers))
    )


def parse_quantity(raw: str | None) -> int:
    try:
        quantity = int((raw or "").strip())
    except ValueError:
        raise ValidationError({"quantity": "Enter a whole number of packs."}) from None
    if quantity < 1:
        raise ValidationError({"quantity": "Enter at least one pack."})
    if quantity > MAX_PACKS_PER_LINE:
        raise ValidationError(
            {"quantity": f"For more than {MAX_PACKS_PER_LINE:,} packs please ask for a quote."}
        )
    return quantity


def _check(variant: Variant, quantity: int) -> None:
    if not variant.is_active or not variant.product.is_active:
        raise ValidationError({"sku": f"{variant.sku} is no longer sold."})
    if quantity < variant.min_order_quantity:
        raise ValidationError(
            {
                "quantity": f"The minimum order for {variant.sku} is "
                f"{packs(variant.min_order_quantity)}."
            }
        )
    available = availability([variant])[variant.id].available
    if quantity > available:
        if available == 0:
            message = f"{variant.sku} is out of stock for online orders."
        else:
            message = f"Only {packs(available)} of {variant.sku} can be had now."
        raise ValidationError({"quantity": message})


def add(cart: Cart, variant: Variant, quantity: int) -> CartLine:
    """Add packs to the cart (on top of what it holds), within the rules and the stock."""
    line = next((x for x in cart.lines if x.variant_id == variant.id), None)
    total = quantity + (line.quantity if line else 0)
    if line is None and len(cart.lines) >= MAX_LINES:
        raise ValidationError({"sku": f"A cart holds at most {MAX_LINES} lines."})
    _check(variant, total)
    if line is None:
        line = CartLine(variant_id=variant.id, quantity=total)
        cart.lines.append(line)
    else:
        line.quantity = total
    db.session.flush()
    return line


def update(cart: Cart, variant: Variant, quantity: int) -> None:
    """Set a line's packs; zero removes it."""
    line = next((x for x in cart.lines if x.variant_id == variant.id), None)
    if line is None:
        raise ValidationError({"sku": f"{variant.sku} is not in your cart."})
    if quantity == 0:
        cart.lines.remove(line)
    else:
        _check(variant, quantity)
        line.quantity = quantity
    db.session.flush()


def remove(cart: Cart, variant_id: int) -> None:
    cart.lines[:] = [x for x in cart.lines if x.variant_id != variant_id]
    db.session.flush()


def priced(cart: Cart | None) -> PricedCart:
    """The cart's lines with today's prices (quantity breaks) and availability."""
    if cart is None or not cart.lines:
        return PricedCart(cart, [])
    variants = {
        v.id: v
        for v in db.session.scalars(
            select(Variant)
            .where(Variant.id.in_([x.variant_id for x in cart.lines]))
            .options(selectinload(Variant.price_tiers), selectinload(Variant.product))
        )
    }
    stock = availability(variants.values())
    lines = [
        PricedLine(
            x,
            variants[x.variant_id],
            variants[x.variant_id].unit_amount_for(x.quantity),
            stock[x.variant_id],
        )
        for x in cart.lines
    ]
    return PricedCart(cart, lines)


def merge(into: Cart, other: Cart) -> list[str]:
    """Move another cart's lines into this one (on sign-in), adding quantities within the
    same rules and stock as adding by hand; what could not be merged, in words."""
    problems = []
    for line in list(other.lines):
        variant = db.session.get(Variant, line.variant_id)
        if variant is None:
            continue
        mine = next((x for x in into.lines if x.variant_id == line.variant_id), None)
        if mine is None and len(into.lines) >= MAX_LINES:
            problems.append(f"{variant.sku}: a cart holds at most {MAX_LINES} lines")
            continue
        total = line.quantity + (mine.quantity if mine else 0)
        try:
            if total > MAX_PACKS_PER_LINE:
                raise ValidationError(
                    {"quantity": f"at most {MAX_PACKS_PER_LINE:,} packs per line online"}
                )
            _check(variant, total)
        except ValidationError as exc:
            problems.append(f"{variant.sku}: {next(iter(exc.errors.values()))}")
            continue
        if mine is None:
            into.lines.append(CartLine(variant_id=line.variant_id, quantity=total))
        else:
            mine.quantity = total
    db.session.delete(other)
    db.session.flush()
    return problems
