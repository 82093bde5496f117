"""Products, variants and quantity-break price tiers."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.db import Base, utcnow

# ISO 9626 nominal outer diameters (mm) for the gauges the shop makes.
OUTER_DIAMETER_MM: dict[int, float] = {
    25: 0.50,
    26: 0.45,
    27: 0.40,
    28: 0.36,
    29: 0.33,
    30: 0.30,
    31: 0.26,
    32: 0.23,
    33: 0.20,
    34: 0.18,
}


class Kind(enum.StrEnum):
    MESO_NEEDLE = "meso-needle"
    MULTI_INJECTOR = "multi-injector"

    @property
    def label(self) -> str:
        return "Meso needle" if self is Kind.MESO_NEEDLE else "Multi-injector"


class Product(Base):
    """A needle model as a buyer knows it; its variants are what is sold."""

    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("kind IN ('meso-needle', 'multi-injector')", name="kind_known"),
        CheckConstraint("shelf_life_months > 0", name="shelf_life_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), index=True)
    summary: Mapped[str] = mapped_column(String(300), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    # Structured specs shared by every variant.
    material: Mapped[str] = mapped_column(String(120))
    lubrication: Mapped[str] = mapped_column(String(120))
    # Sterility and compliance.
    sterilisation_method: Mapped[str] = mapped_column(String(80))
    sterile_barrier: Mapped[str] = mapped_column(String(160))
    shelf_life_months: Mapped[int] = mapped_column(Integer)
    single_use: Mapped[bool] = mapped_column(Boolean, default=True)
    latex_free: Mapped[bool] = mapped_column(Boolean, default=True)
    certifications: Mapped[str] = mapped_column(String(300), default="")
    ifu_filename: Mapped[str | None] = mapped_column(String(200))
    # An uploaded photo (under instance/uploads); without one the drawn SVG is shown.
    image_filename: Mapped[str | None] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    featured: Mapped[bool] = mapped_column(Boolean, default=False)
    # Lowest one-pack price over active variants, kept by catalog.services.refresh_derived.
    price_from: Mapped[int | None] = mapped_column(Integer, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    variants: Mapped[list[Variant]] = relationship(
        back_populates="product",
        order_by="(Variant.gauge, Variant.length_mm, Variant.pins, Variant.pack_size)",
        cascade="all, delete-orphan",
    )

    @property
    def kind_label(self) -> str:
        return Kind(self.kind).label

    @property
    def certification_list(self) -> list[str]:
        return [c.strip() for c in self.certifications.split(",") if c.strip()]

    def __repr__(self) -> str:
        return f"<Product {self.slug}>"


class Variant(Base):
    """One SKU: a gauge, length and pin count in a pack size, with its prices."""

    __tablename__ = "variants"
    __table_args__ = (
        CheckConstraint("gauge BETWEEN 18 AND 34", name="gauge_range"),
        CheckConstraint("length_mm > 0 AND length_mm <= 50", name="length_range"),
        CheckConstraint("pins BETWEEN 1 AND 12", name="pins_range"),
        CheckConstraint("pack_size > 0", name="pack_size_positive"),
        CheckConstraint("min_order_quantity > 0", name="min_order_positive"),
        CheckConstraint("low_stock_threshold >= 0", name="low_stock_nonnegative"),
        CheckConstraint(
            "min_shelf_life_days IS NULL OR min_shelf_life_days >= 0",
            name="min_shelf_life_nonnegative",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    gauge: Mapped[int] = mapped_column(Integer, index=True)
    length_mm: Mapped[float] = mapped_column(Float, index=True)
    pins: Mapped[int] = mapped_column(Integer, index=True)
    bevel: Mapped[str] = mapped_column(String(60))
    wall: Mapped[str] = mapped_column(String(60))
    hub: Mapped[str] = mapped_column(String(80))
    pack_size: Mapped[int] = mapped_column(Integer)
    gtin: Mapped[str | None] = mapped_column(String(14), unique=True)
    min_order_quantity: Mapped[int] = mapped_column(Integer, default=1)
    low_stock_threshold: Mapped[int] = mapped_column(Integer, default=10)
    # Overrides the shop's minimum remaining shelf life for online sale, in days.
    min_shelf_life_days: Mapped[int | None] = mapped_column(Integer)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)

    product: Mapped[Product] = relationship(back_populates="variants")
    price_tiers: Mapped[list[PriceTier]] = relationship(
        back_populates="variant", order_by="PriceTier.min_quantity", cascade="all, delete-orphan"
    )

    @property
    def outer_diameter_mm(self) -> float | None:
        return OUTER_DIAMETER_MM.get(self.gauge)

    @property
    def length_label(self) -> str:
        return f"{self.length_mm:g}"

    def unit_amount_for(self, quantity: int) -> int:
        """Cents per pack at that quantity: the deepest tier the quantity reaches."""
        amount = self.price_tiers[0].unit_amount
        for tier in self.price_tiers:
            if quantity >= tier.min_quantity:
                amount = tier.unit_amount
        return amount

    def __repr__(self) -> str:
        return f"<Variant {self.sku}>"


class PriceTier(Base):
    """A quantity break: from `min_quantity` packs on, each pack costs `unit_amount` cents."""

    __tablename__ = "price_tiers"
    __table_args__ = (
        UniqueConstraint("variant_id", "min_quantity"),
        CheckConstraint("min_quantity >= 1", name="min_quantity_positive"),
        CheckConstraint("unit_amount > 0", name="unit_amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("variants.id"), index=True)
    min_quantity: Mapped[int] = mapped_column(Integer)
    unit_amount: Mapped[int] = mapped_column(Integer)

    variant: Mapped[Variant] = relationship(back_populates="price_tiers")


class SearchTerm(Base):
    """One word of a product's name, description or SKUs: the full-text index.

    A plain table with a (term, product) primary key is searched by prefix range scans,
    which is correct and fast on SQLite and PostgreSQL alike.
    """

    __tablename__ = "search_terms"

    # Ordered by code point, as the prefix ranges of the search need (see catalog.search):
    # SQLite always is; PostgreSQL only in the "C" collation, whatever the database's.
    term: Mapped[str] = mapped_column(
        String(64).with_variant(String(64, collation="C"), "postgresql"), primary_key=True
    )
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class CatalogVersion(Base):
    """A counter bumped on every catalogue or stock change; cached pages key on it."""

    __tablename__ = "catalog_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
