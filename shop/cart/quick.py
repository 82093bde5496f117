"""Quick order: lines of "SKU quantity" typed or pasted (a spreadsheet copy too), each checked
against the catalogue, the minimum order and the stock before anything is added."""

from __future__ import annotations

import re
from dataclasses import dataclass

from shop.cart.models import Cart
from shop.cart.services import MAX_LINES, MAX_PACKS_PER_LINE, add, variant_by_sku
from shop.catalog.models import Variant
from shop.errors import ValidationError
from shop.extensions import db
from shop.inventory.services import availability
from shop.wording import packs

MAX_TEXT = 20_000
# A quantity: digits with an optional "x" or "packs" around them ("10", "x10", "10x").
_QUANTITY = re.compile(r"^(?:x|×)?(\d{1,9})(?:x|×|packs?|pcs|pc)?$", re.I)
_SPLIT = re.compile(r"[\s,;\t]+")
_FILLER = {"x", "×", "pack", "packs", "pcs", "pc", "of"}


@dataclass(frozen=True)
class QuickLine:
    """One line as the buyer wrote it, and what the shop makes of it."""

    number: int
    text: str
    sku: str
    quantity: int | None
    variant: Variant | None = None
    unit_amount: int = 0
    error: str | None = None

    @property
    def line_total(self) -> int:
        return self.unit_amount * (self.quantity or 0)

    @property
    def ok(self) -> bool:
        return self.error is None


Parsed = tuple[int, str, str, int | None, str | None]


def parse(text: str) -> list[Parsed]:
    """(line number, text, SKU, quantity, problem) for each non-empty line: the SKU is the
    word that is not a number, the quantity the one that is ("MN-32G-4MM-100 10",
    "10 x MN-32G-4MM-100", "MN-32G-4MM-100<TAB>10" from a spreadsheet)."""
    found: list[Parsed] = []
    for number, raw in enumerate(text[:MAX_TEXT].splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        words = [w for w in _SPLIT.split(line) if w and w.lower() not in _FILLER]
        quantities = [int(m.group(1)) for w in words if (m := _QUANTITY.match(w))]
        others = [w for w in words if not _QUANTITY.match(w)]
        if len(others) != 1:
            problem = (
                "Write the SKU and the number of packs, like MN-32G-4MM-100 10."
                if not others
                else "Write one SKU a line, then the number of packs."
            )
            found.append((number, line, " ".join(others), None, problem))
            continue
        if len(quantities) != 1:
            problem = (
                "Add the number of packs after the SKU."
                if not quantities
                else ("Write one number of packs a line.")
            )
            found.append((number, line, others[0], None, problem))
            continue
        found.append((number, line, others[0], quantities[0], None))
    return found


def check(cart: Cart | None, text: str) -> list[QuickLine]:
    """Every line checked as adding it would be: a known SKU still sold, at least one pack
    and its minimum order, and no more than the stock left after what the cart holds and
    the lines above it for the same variant."""
    parsed = parse(text)
    if len(parsed) > MAX_LINES:
        return [QuickLine(0, "", "", None, error=f"Paste at most {MAX_LINES} lines at a time.")]
    variants = {sku: variant_by_sku(sku) for _, _, sku, _, _ in parsed if sku}
    known = [v for v in variants.values() if v is not None]
    stock = availability(known) if known else {}
    held = {line.variant_id: line.quantity for line in (cart.lines if cart else [])}
    asked: dict[int, int] = {}
    lines = []
    for number, raw, sku, quantity, problem in parsed:
        variant = variants.get(sku)
        if problem is None and variant is None:
            problem = f"No product has the SKU {sku}."
        if problem is not None or variant is None or quantity is None:
            lines.append(QuickLine(number, raw, sku, quantity, variant, error=problem))
            continue
        problem = _problem(variant, quantity, held, asked, stock[variant.id].available)
        if problem is None:
            asked[variant.id] = asked.get(variant.id, 0) + quantity
        total = held.get(variant.id, 0) + asked.get(variant.id, 0)
        lines.append(
            QuickLine(
                number,
                raw,
                variant.sku,
                quantity,
                variant,
                unit_amount=variant.unit_amount_for(max(total, quantity)),
                error=problem,
            )
        )
    return lines


def _problem(
    variant: Variant, quantity: int, held: dict[int, int], asked: dict[int, int], available: int
) -> str | None:
    if not variant.is_active or not variant.product.is_active:
        return f"{variant.sku} is no longer sold."
    if quantity < 1:
        return "Order at least one pack."
    if quantity > MAX_PACKS_PER_LINE:
        return f"For more than {MAX_PACKS_PER_LINE:,} packs please ask for a quote."
    if quantity < variant.min_order_quantity:
        return f"The minimum order for {variant.sku} is {packs(variant.min_order_quantity)}."
    already = held.get(variant.id, 0) + asked.get(variant.id, 0)
    if already + quantity > available:
        left = max(0, available - already)
        if available == 0:
            return f"{variant.sku} is out of stock for online orders."
        in_cart = f" ({packs(already)} already in your cart or above)" if already else ""
        return f"Only {packs(left)} more of {variant.sku} can be had now{in_cart}."
    return None


def add_checked(cart: Cart, text: str) -> tuple[list[QuickLine], list[QuickLine]]:
    """Add every line that passes the checks (checked again now, under this transaction);
    the lines added and the ones left out with their reasons."""
    lines = check(cart, text)
    added, left_out = [], []
    for line in lines:
        if line.ok and line.variant is not None and line.quantity is not None:
            try:
                with db.session.begin_nested():
                    add(cart, line.variant, line.quantity)
            except ValidationError as exc:
                line = QuickLine(
                    line.number,
                    line.text,
                    line.sku,
                    line.quantity,
                    line.variant,
                    error=next(iter(exc.errors.values())),
                )
                left_out.append(line)
                continue
            added.append(line)
        else:
            left_out.append(line)
    return added, left_out
