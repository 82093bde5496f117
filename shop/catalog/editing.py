"""Changes to products and variants made by staff (the back office and the CSV import):
the rules that need no database (GTIN check digits, price tiers), and saving, which checks
what needs it (unique slug, SKU and GTIN), applies the change, flushes and refreshes the
catalogue's derived data. Nothing is ever deleted: products and variants are deactivated.
Callers commit."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Any

from sqlalchemy import Select, select

from shop.catalog.models import PriceTier, Product, Variant
from shop.catalog.services import refresh_derived
from shop.errors import ValidationError
from shop.extensions import db

SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def suggest_slug(name: str, *, max_length: int = 120) -> str:
    """A slug made from a product's name: "Meso Needle 32G × 4 mm" → "meso-needle-32g-4-mm"
    (accents folded, anything else a hyphen); "" when nothing is left."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return _NOT_SLUG.sub("-", folded).strip("-")[:max_length].rstrip("-")


SKU = re.compile(r"[A-Z0-9]+(?:[-./][A-Z0-9]+)*")


MAX_TIERS = 10


PRODUCT_FIELDS = (
    "slug",
    "name",
    "kind",
    "summary",
    "description",
    "material",
    "lubrication",
    "sterilisation_method",
    "sterile_barrier",
    "shelf_life_months",
    "single_use",
    "latex_free",
    "certifications",
    "featured",
)


VARIANT_FIELDS = (
    "sku",
    "gauge",
    "length_mm",
    "pins",
    "bevel",
    "wall",
    "hub",
    "pack_size",
    "gtin",
    "min_order_quantity",
    "low_stock_threshold",
    "min_shelf_life_days",
)


def gtin_problem(code: str) -> str | None:
    """Why a GTIN-8/12/13/14 is not valid (length, digits, GS1 check digit), or None."""
    if not (code.isascii() and code.isdigit()) or len(code) not in (8, 12, 13, 14):
        return "A GTIN has 8, 12, 13 or 14 digits."
    *body, check = (int(c) for c in code)
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    if (10 - total % 10) % 10 != check:
        return "The GTIN's check digit does not match: look for a typo."
    return None


def tier_problem(tiers: Sequence[tuple[int, int]]) -> str | None:
    """Why these (min quantity, unit amount) tiers break the rules, or None: at least one,
    the first from 1 pack, each next from more packs than the one before, amounts above 0."""
    if not tiers:
        return "Enter the price of one pack (a tier from 1 pack)."
    if len(tiers) > MAX_TIERS:
        return f"Enter at most {MAX_TIERS} price tiers."
    if tiers[0][0] != 1:
        return "The first tier must start at 1 pack."
    for (before, _), (after, _) in pairwise(tiers):
        if after <= before:
            return f"Tiers must go up in packs: {after} comes after {before}."
    if any(amount <= 0 for _, amount in tiers):
        return "Every price must be above zero."
    return None


def assign(record: Any, values: Mapping[str, Any]) -> bool:
    """Set the attributes that differ; whether any did (an equal import changes nothing)."""
    changed = False
    for name, value in values.items():
        if getattr(record, name) != value:
            setattr(record, name, value)
            changed = True
    return changed


def set_tiers(variant: Variant, tiers: Sequence[tuple[int, int]]) -> bool:
    """Make the variant's price tiers exactly these; whether anything changed. Tiers that
    keep their quantity are updated in place (the (variant, quantity) pair is unique)."""
    if [(t.min_quantity, t.unit_amount) for t in variant.price_tiers] == list(tiers):
        return False
    existing = {t.min_quantity: t for t in variant.price_tiers}
    kept = []
    for quantity, amount in tiers:
        tier = existing.get(quantity) or PriceTier(min_quantity=quantity)
        tier.unit_amount = amount
        kept.append(tier)
    variant.price_tiers = kept
    return True


def apply_product(product: Product | None, values: Mapping[str, Any]) -> tuple[Product, bool]:
    """Create the product or update it with checked values; (product, whether it changed).
    Flushes; the caller refreshes derived data of changed products."""
    if product is None:
        product = Product(**values)
        db.session.add(product)
        db.session.flush()
        return product, True
    changed = assign(product, values)
    db.session.flush()
    return product, changed


def apply_variant(
    product: Product,
    variant: Variant | None,
    values: Mapping[str, Any],
    tiers: Sequence[tuple[int, int]],
) -> tuple[Variant, bool]:
    """Create the variant under the product or update it, with its price tiers; (variant,
    whether it changed). Flushes; the caller refreshes derived data."""
    if variant is None:
        variant = Variant(**values)
        product.variants.append(variant)
        changed = True
    else:
        changed = assign(variant, values)
    changed = set_tiers(variant, tiers) or changed
    db.session.flush()
    return variant, changed


def _taken(stmt: Select[Any], record: Any) -> bool:
    if record is not None and record.id is not None:
        stmt = stmt.where(type(record).id != record.id)
    return db.session.scalar(stmt.limit(1)) is not None


def save_product(product: Product | None, values: Mapping[str, Any]) -> Product:
    """Create or update a product; shop.errors.ValidationError if its slug is taken.
    Flushes and refreshes the catalogue's derived data; does not commit."""
    if _taken(select(Product.id).where(Product.slug == values["slug"]), product):
        raise ValidationError({"slug": f"Another product already has the slug {values['slug']}."})
    product, changed = apply_product(product, values)
    if changed:
        refresh_derived([product])
    return product


def save_variant(
    product: Product,
    variant: Variant | None,
    values: Mapping[str, Any],
    tiers: Sequence[tuple[int, int]],
) -> Variant:
    """Create or update a variant of the product; shop.errors.ValidationError if its SKU
    or GTIN belongs to another variant. Flushes and refreshes derived data; no commit."""
    errors = {}
    if _taken(select(Variant.id).where(Variant.sku == values["sku"]), variant):
        errors["sku"] = f"Another variant already has the SKU {values['sku']}."
    gtin = values.get("gtin")
    if gtin and _taken(select(Variant.id).where(Variant.gtin == gtin), variant):
        errors["gtin"] = f"Another variant already has the GTIN {gtin}."
    if errors:
        raise ValidationError(errors)
    variant, changed = apply_variant(product, variant, values, tiers)
    if changed:
        refresh_derived([product])
    return variant


def set_active(record: Product | Variant, active: bool) -> bool:
    """(De)activate a product or variant: inactive ones leave the shop but are never
    deleted. Whether anything changed; flushes and refreshes derived data."""
    if record.is_active == active:
        return False
    record.is_active = active
    refresh_derived([record if isinstance(record, Product) else record.product])
    return True


def attach_file(product: Product, attribute: str, name: str | None) -> None:
    """Point the product's photo or IFU (`image_filename`, `ifu_filename`) at a stored file,
    or at none. Flushes and refreshes derived data (cached pages show the change)."""
    setattr(product, attribute, name)
    refresh_derived([product])
