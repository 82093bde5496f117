"""The demo catalogue: realistic products, variants, price tiers and lots.

`load_demo()` is idempotent: a product whose slug exists is left as it is.
`load_large(n)` adds generated products until the catalogue holds n variants (benchmarks).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, insert, select

from shop.catalog import search
from shop.catalog.models import Kind, PriceTier, Product, SearchTerm, Variant
from shop.catalog.services import refresh_derived
from shop.catalog.versions import catalogue_changed
from shop.extensions import db
from shop.inventory.models import Lot, MovementKind, StockMovement
from shop.inventory.services import receive_lot

ACTOR = "seed-demo"

MESO_TEXT = (
    "A single-use meso needle with a tri-bevel, electropolished tip that enters the skin "
    "cleanly and a transparent colour-coded Luer hub that shows the backflow."
)
MULTI_TEXT = (
    "A multi-injector head whose pins stand at one fixed depth, for even nappage over the "
    "scalp in fewer passes, on a standard Luer-lock hub."
)


@dataclass(frozen=True)
class DemoProduct:
    slug: str
    name: str
    kind: Kind
    summary: str
    description: str
    gauges: tuple[int, ...]
    lengths: tuple[float, ...]
    pins: int
    pack_size: int
    base_price: int
    wall: str = "Regular wall"
    featured: bool = False
    extra_packs: tuple[int, ...] = ()


DEMO: tuple[DemoProduct, ...] = (
    DemoProduct(
        "meso-needle-27g",
        "Meso Needle 27G",
        Kind.MESO_NEEDLE,
        "27G needle for thicker cocktails and hyaluronic products, in 4, 6 and 13 mm.",
        MESO_TEXT + "\n\nThe wider 27G bore keeps viscous products flowing at low pressure.",
        (27,),
        (4, 6, 13),
        1,
        100,
        2400,
    ),
    DemoProduct(
        "meso-needle-30g",
        "Meso Needle 30G",
        Kind.MESO_NEEDLE,
        "The all-round 30G mesotherapy needle, from 2.5 mm papules to 13 mm deep work.",
        MESO_TEXT + "\n\n30G is the usual choice for point-by-point scalp injection.",
        (30,),
        (2.5, 4, 6, 13),
        1,
        100,
        2600,
        featured=True,
    ),
    DemoProduct(
        "meso-needle-31g",
        "Meso Needle 31G",
        Kind.MESO_NEEDLE,
        "31G needle, a finer step for sensitive skin, in 4, 6 and 13 mm.",
        MESO_TEXT,
        (31,),
        (4, 6, 13),
        1,
        100,
        2800,
    ),
    DemoProduct(
        "meso-needle-32g",
        "Meso Needle 32G",
        Kind.MESO_NEEDLE,
        "Fine 32G needle for comfortable scalp mesotherapy, 2.5 to 13 mm, also in trial packs.",
        MESO_TEXT + "\n\nOur best seller for hair mesotherapy: 4 mm reaches the scalp dermis.",
        (32,),
        (2.5, 4, 6, 13),
        1,
        100,
        3000,
        featured=True,
        extra_packs=(20,),
    ),
    DemoProduct(
        "meso-needle-33g",
        "Meso Needle 33G",
        Kind.MESO_NEEDLE,
        "Extra-fine 33G needle for superficial injection, 1.5 to 4 mm.",
        MESO_TEXT,
        (33,),
        (1.5, 2.5, 4),
        1,
        100,
        3300,
    ),
    DemoProduct(
        "meso-needle-34g",
        "Meso Needle 34G",
        Kind.MESO_NEEDLE,
        "Our finest needle, 34G, for the face, neck and the most sensitive scalps.",
        MESO_TEXT,
        (34,),
        (1.5, 2.5, 4),
        1,
        100,
        3600,
        featured=True,
    ),
    DemoProduct(
        "meso-needle-32g-thin-wall",
        "Meso Needle 32G Thin Wall",
        Kind.MESO_NEEDLE,
        "32G outside with a thin wall inside: the flow of a 30G through a finer needle.",
        MESO_TEXT + "\n\nThe thin wall widens the bore by about a fifth at the same outer size.",
        (32,),
        (4, 6),
        1,
        100,
        3400,
        wall="Thin wall",
    ),
    DemoProduct(
        "multi-injector-3-pin",
        "Multi-Injector 3 Pins",
        Kind.MULTI_INJECTOR,
        "Three pins in a row for the hairline, temples and small areas.",
        MULTI_TEXT,
        (32, 33),
        (1.5, 2.5),
        3,
        20,
        3900,
    ),
    DemoProduct(
        "multi-injector-5-pin",
        "Multi-Injector 5 Pins",
        Kind.MULTI_INJECTOR,
        "Five pins for scalp nappage: the standard head for hair mesotherapy.",
        MULTI_TEXT,
        (32, 33),
        (1.5, 2.5),
        5,
        20,
        4500,
        featured=True,
    ),
    DemoProduct(
        "multi-injector-7-pin",
        "Multi-Injector 7 Pins",
        Kind.MULTI_INJECTOR,
        "Seven pins in a hexagon around a centre pin for wider scalp zones.",
        MULTI_TEXT,
        (32, 33),
        (1.5, 2.5),
        7,
        20,
        5200,
    ),
    DemoProduct(
        "multi-injector-9-pin",
        "Multi-Injector 9 Pins",
        Kind.MULTI_INJECTOR,
        "Nine pins for the crown and large areas of the body.",
        MULTI_TEXT,
        (30, 32),
        (1.5, 2.5),
        9,
        20,
        5900,
    ),
    DemoProduct(
        "multi-injector-5-pin-34g",
        "Multi-Injector 5 Pins 34G",
        Kind.MULTI_INJECTOR,
        "The five-pin head with our finest 34G pins for sensitive scalps.",
        MULTI_TEXT,
        (34,),
        (1.5, 2.5),
        5,
        20,
        5400,
    ),
)

COMPLIANCE = {
    "material": "Medical stainless steel AISI 304 cannula, polypropylene hub",
    "lubrication": "Medical-grade silicone",
    "sterilisation_method": "Ethylene oxide (EO)",
    "sterile_barrier": "Individual peel blister, medical paper and PET film",
    "shelf_life_months": 60,
    "single_use": True,
    "latex_free": True,
    "certifications": "CE 0123, ISO 13485:2016, ISO 7864, ISO 9626",
}


def sku_for(pins: int, gauge: int, length_mm: float, pack_size: int, *, thin: bool = False) -> str:
    family = ("MN" if pins == 1 else f"MI{pins}") + ("TW" if thin else "")
    return f"{family}-{gauge}G-{length_mm:g}MM-{pack_size}"


def tiers_for(base_price: int) -> list[tuple[int, int]]:
    """Quantity breaks: 1 pack, 10 packs (-8 %), 50 packs (-15 %), rounded to 10 cents."""
    return [
        (1, base_price),
        (10, base_price * 92 // 1000 * 10),
        (50, base_price * 85 // 1000 * 10),
    ]


def lot_plan(sku: str, today: date) -> list[tuple[str, date, date, int]]:
    """Lots for a demo variant: one expired, one close to expiry, one or two long-dated."""
    rng = random.Random(sku)
    code = "".join(ch for ch in sku if ch.isalnum())[:10]
    plans = [
        (f"{code}-E01", today - timedelta(days=5 * 365 + 60), today - timedelta(days=60), 12),
        (f"{code}-S02", today - timedelta(days=4 * 365 + 300), today + timedelta(days=45), 20),
    ]
    if rng.random() < 0.92:  # a few variants are sold out online: only short-dated stock
        made = today - timedelta(days=rng.randint(30, 300))
        plans.append((f"{code}-L03", made, made + timedelta(days=5 * 365), rng.randint(15, 240)))
    if rng.random() < 0.5:
        made = today - timedelta(days=rng.randint(5, 25))
        plans.append((f"{code}-L04", made, made + timedelta(days=5 * 365), rng.randint(40, 400)))
    return plans


def load_demo(today: date | None = None) -> int:
    """Add the demo products that are missing; returns how many were added."""
    today = today or date.today()
    existing = set(db.session.scalars(select(Product.slug)))
    added = []
    for spec in DEMO:
        if spec.slug in existing:
            continue
        product = Product(
            slug=spec.slug,
            name=spec.name,
            kind=spec.kind.value,
            summary=spec.summary,
            description=spec.description,
            featured=spec.featured,
            **COMPLIANCE,
        )
        for gauge in spec.gauges:
            for length in spec.lengths:
                packs = [spec.pack_size, *([p for p in spec.extra_packs if length == 4])]
                for pack in packs:
                    price = spec.base_price if pack == spec.pack_size else spec.base_price // 4
                    variant = Variant(
                        sku=sku_for(spec.pins, gauge, length, pack, thin=spec.wall == "Thin wall"),
                        gauge=gauge,
                        length_mm=float(length),
                        pins=spec.pins,
                        bevel="Tri-bevel" if spec.pins == 1 else "Short bevel",
                        wall=spec.wall,
                        hub="Luer lock, ISO 80369-7",
                        pack_size=pack,
                        min_order_quantity=1 if pack < 100 else 2,
                        low_stock_threshold=20,
                    )
                    variant.price_tiers = [
                        PriceTier(min_quantity=q, unit_amount=a) for q, a in tiers_for(price)
                    ]
                    product.variants.append(variant)
        db.session.add(product)
        added.append(product)
    db.session.flush()
    for product in added:
        for variant in product.variants:
            for lot_number, made_on, expires_on, quantity in lot_plan(variant.sku, today):
                receive_lot(
                    variant,
                    lot_number=lot_number,
                    made_on=made_on,
                    expires_on=expires_on,
                    quantity=quantity,
                    actor=ACTOR,
                    reason="demo stock",
                )
    if added:
        refresh_derived(added)
    return len(added)


LINES = ("ProLine", "Comfort", "Clinic", "Ultra-Fine", "Derma", "Scalp", "Essential", "Select")
SERIES = [
    "kestrel",
    "heron",
    "osprey",
    "plover",
    "curlew",
    "avocet",
    "bittern",
    "dunlin",
    "egret",
    "fulmar",
    "gannet",
    "godwit",
    "grebe",
    "harrier",
    "ibis",
    "jacana",
    "kittiwake",
    "lapwing",
    "merlin",
    "nightjar",
    "oriole",
    "petrel",
    "quail",
    "redstart",
    "sanderling",
    "tern",
    "upupa",
    "vireo",
    "wagtail",
    "wryneck",
    "yellowhammer",
    "zosterops",
    "alder",
    "birch",
    "cedar",
    "damson",
    "elder",
    "fir",
    "gorse",
    "hazel",
    "ilex",
    "juniper",
    "kapok",
    "larch",
    "maple",
    "nutmeg",
    "olive",
    "pine",
    "quince",
    "rowan",
    "spruce",
    "tamarind",
    "ulmus",
    "vetch",
    "willow",
    "xylia",
    "yew",
    "zelkova",
]
LARGE_GAUGES = (27, 29, 30, 31, 32, 33, 34)
LARGE_LENGTHS = (1.5, 2.5, 4.0, 6.0, 8.0, 13.0)
LARGE_PINS = (1, 1, 1, 3, 5, 7, 9)


def _generated(
    start: int, count: int, today: date
) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    rng = random.Random(start)
    for number in range(start, start + count):
        pins = rng.choice(LARGE_PINS)
        kind = Kind.MESO_NEEDLE if pins == 1 else Kind.MULTI_INJECTOR
        line = rng.choice(LINES)
        series = rng.choice(SERIES)
        name = f"{line} {kind.label} {series.title()} {number}"
        product = {
            "slug": f"{line.lower()}-{kind.value}-{series}-{number}",
            "name": name,
            "kind": kind.value,
            "summary": f"{kind.label} of the {line} range, series {series}.",
            "description": f"{MESO_TEXT if pins == 1 else MULTI_TEXT} Series {series} {number}.",
            "featured": False,
            "is_active": True,
            **COMPLIANCE,
        }
        variants: list[dict[str, Any]] = []
        for gauge in rng.sample(LARGE_GAUGES, 2):
            for length in rng.sample(LARGE_LENGTHS, 5):
                pack = 100 if pins == 1 else 20
                variants.append(
                    {
                        "sku": f"G{number}-{sku_for(pins, gauge, length, pack)}",
                        "gauge": gauge,
                        "length_mm": length,
                        "pins": pins,
                        "bevel": "Tri-bevel",
                        "wall": "Regular wall",
                        "hub": "Luer lock, ISO 80369-7",
                        "pack_size": pack,
                        "min_order_quantity": 1,
                        "low_stock_threshold": 20,
                        "is_active": True,
                        "price": rng.randrange(1800, 7000, 10),
                    }
                )
        product["price_from"] = min(int(v["price"]) for v in variants)
        yield product, variants


def load_large(
    target_variants: int, *, today: date | None = None, progress: Callable[[int], None]
) -> int:
    """Add generated products (ten variants each) until there are `target_variants`."""
    today = today or date.today()
    have = db.session.scalar(select(func.count()).select_from(Variant)) or 0
    missing = max(0, target_variants - have)
    products_needed = -(-missing // 10)
    start = (db.session.scalar(select(func.max(Product.id))) or 0) + 1
    batch = 200
    made = 0
    for offset in range(0, products_needed, batch):
        count = min(batch, products_needed - offset)
        generated = list(_generated(start + offset, count, today))
        ids = (
            db.session.execute(
                insert(Product).returning(Product.id, sort_by_parameter_order=True),
                [p for p, _ in generated],
            )
            .scalars()
            .all()
        )
        variant_rows = []
        for product_id, (_, variants) in zip(ids, generated, strict=True):
            for v in variants:
                variant_rows.append(
                    {**{k: x for k, x in v.items() if k != "price"}, "product_id": product_id}
                )
        variant_ids = (
            db.session.execute(
                insert(Variant).returning(Variant.id, sort_by_parameter_order=True), variant_rows
            )
            .scalars()
            .all()
        )
        prices = [v["price"] for _, vs in generated for v in vs]
        db.session.execute(
            insert(PriceTier),
            [
                {"variant_id": vid, "min_quantity": q, "unit_amount": a}
                for vid, price in zip(variant_ids, prices, strict=True)
                for q, a in tiers_for(price)
            ],
        )
        lot_rows = [
            {
                "variant_id": vid,
                "lot_number": f"B{vid}-01",
                "made_on": today - timedelta(days=100),
                "expires_on": today + timedelta(days=4 * 365),
                "quantity": 50 + vid % 200,
                "reserved": 0,
            }
            for vid in variant_ids
        ]
        lot_ids = (
            db.session.execute(
                insert(Lot).returning(Lot.id, sort_by_parameter_order=True), lot_rows
            )
            .scalars()
            .all()
        )
        db.session.execute(
            insert(StockMovement),
            [
                {
                    "lot_id": lid,
                    "kind": MovementKind.RECEIVED.value,
                    "quantity": row["quantity"],
                    "reason": "benchmark stock",
                    "actor": ACTOR,
                }
                for lid, row in zip(lot_ids, lot_rows, strict=True)
            ],
        )
        terms = [
            {"term": term, "product_id": pid}
            for pid, (p, vs) in zip(ids, generated, strict=True)
            for term in search.words_of(
                (
                    p["name"],
                    p["summary"],
                    p["description"],
                    p["kind"].replace("-", " "),
                    p["material"],
                    *(v["sku"] for v in vs),
                    *(f"{v['gauge']}g" for v in vs),
                )
            )
        ]
        db.session.execute(insert(SearchTerm), terms)
        db.session.commit()
        made += len(variant_rows)
        progress(len(variant_rows))
    catalogue_changed()
    db.session.commit()
    return made
