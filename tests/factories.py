"""Plain make_*() functions building rows the way the shop does."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

from shop.catalog.models import Kind, PriceTier, Product, Variant
from shop.catalog.services import refresh_derived
from shop.extensions import db
from shop.inventory.models import Lot
from shop.inventory.services import receive_lot

_seq = itertools.count(1)


def make_product(
    *,
    name: str | None = None,
    slug: str | None = None,
    kind: Kind = Kind.MESO_NEEDLE,
    variants: int = 0,
    **fields: object,
) -> Product:
    n = next(_seq)
    product = Product(
        slug=slug or f"test-needle-{n}",
        name=name or f"Test Needle {n}",
        kind=kind.value,
        summary=fields.pop("summary", "A test needle."),
        description=fields.pop("description", "Made for tests."),
        material="Stainless steel",
        lubrication="Silicone",
        sterilisation_method="Ethylene oxide (EO)",
        sterile_barrier="Blister",
        shelf_life_months=60,
        certifications="CE 0123, ISO 13485",
        **fields,
    )
    db.session.add(product)
    for i in range(variants):
        make_variant(product=product, gauge=27 + i % 8, length_mm=float(1 + i % 12), derive=False)
    db.session.flush()
    refresh_derived([product])
    return product


def make_variant(
    *,
    product: Product | None = None,
    sku: str | None = None,
    gauge: int = 32,
    length_mm: float = 4.0,
    pins: int = 1,
    prices: tuple[tuple[int, int], ...] = ((1, 3000), (10, 2700)),
    min_order_quantity: int = 1,
    derive: bool = True,
    **fields: object,
) -> Variant:
    product = product or make_product()
    variant = Variant(
        sku=sku or f"T-{next(_seq)}",
        gauge=gauge,
        length_mm=length_mm,
        pins=pins,
        bevel="Tri-bevel",
        wall="Regular wall",
        hub="Luer lock",
        min_order_quantity=min_order_quantity,
        **({"pack_size": 100} | fields),
    )
    variant.price_tiers = [PriceTier(min_quantity=q, unit_amount=a) for q, a in prices]
    product.variants.append(variant)
    db.session.flush()
    if derive:
        refresh_derived([product])
    return variant


def make_lot(
    variant: Variant,
    *,
    quantity: int = 50,
    expires_in_days: int = 3 * 365,
    lot_number: str | None = None,
) -> Lot:
    today = date.today()
    return receive_lot(
        variant,
        lot_number=lot_number or f"L{next(_seq)}",
        made_on=today - timedelta(days=400),
        expires_on=today + timedelta(days=expires_in_days),
        quantity=quantity,
        actor="tests",
    )


def make_user(
    email: str = "staff@shop.example",
    *,
    role: str = "staff",
    password: str = "correct horse battery",
    name: str | None = None,
) -> object:
    from shop.accounts.models import Role
    from shop.accounts.services import create_user

    return create_user(email, password, name=name or email.split("@")[0], role=Role(role))
