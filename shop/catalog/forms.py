"""What staff type about a product or variant, checked field by field: used by the back
office's pages and, row by row, by the catalogue CSV import."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from wtforms import (
    BooleanField,
    Field,
    FieldList,
    FormField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from shop.catalog.editing import (
    MAX_TIERS,
    PRODUCT_FIELDS,
    SKU,
    SLUG,
    VARIANT_FIELDS,
    gtin_problem,
    suggest_slug,
    tier_problem,
)
from shop.catalog.models import Kind, Product, Variant
from shop.catalog.planner import (
    DEFAULT_INJECTIONS,
    DEFAULT_INJECTIONS_PER_NEEDLE,
    DEFAULT_SESSIONS,
    LIMITS,
)
from shop.forms import (
    DecimalNumberField,
    MoneyField,
    ShopForm,
    SubForm,
    WholeNumberField,
    strip,
)

MAX_PACKS = 1_000_000


def _gtin(form: Any, field: Field) -> None:
    problem = gtin_problem(field.data or "")
    if problem:
        raise ValidationError(problem)


class ProductForm(ShopForm):
    name = StringField(
        "Name", [DataRequired("Enter the product's name."), Length(max=200)], filters=[strip]
    )
    slug = StringField(
        "Slug (its web address)",
        [
            DataRequired("Enter a slug, like meso-needle-32g, or a name to make it from."),
            Length(max=120),
            Regexp(
                SLUG,
                matcher=re.fullmatch,
                message="Use lower-case letters and digits joined by single hyphens, "
                "like meso-needle-32g.",
            ),
        ],
        filters=[strip],
    )
    kind = SelectField("Family", choices=[SelectChoice(k.value, k.label) for k in Kind])
    summary = StringField("Summary", [Length(max=300)], filters=[strip])

    def validate(self, extra_validators: Any = None) -> bool:
        """A slug left empty is made from the name (the page suggests it as the name is
        typed, when JavaScript runs)."""
        if not self.slug.data and self.name.data:
            self.slug.data = suggest_slug(self.name.data)
        return bool(super().validate(extra_validators))

    description = TextAreaField("Description", [Length(max=20_000)], filters=[strip])
    material = StringField(
        "Material", [DataRequired("Enter the material."), Length(max=120)], filters=[strip]
    )
    lubrication = StringField(
        "Lubrication",
        [DataRequired("Enter the lubrication (or None)."), Length(max=120)],
        filters=[strip],
    )
    sterilisation_method = StringField(
        "Sterilisation method",
        [DataRequired("Enter how the product is sterilised."), Length(max=80)],
        filters=[strip],
    )
    sterile_barrier = StringField(
        "Sterile barrier",
        [DataRequired("Enter the sterile barrier (packaging)."), Length(max=160)],
        filters=[strip],
    )
    shelf_life_months = WholeNumberField(
        "Shelf life (months)",
        [
            InputRequired("Enter the shelf life in months."),
            NumberRange(1, 120, "Enter a shelf life from 1 to 120 months."),
        ],
    )
    single_use = BooleanField("Single use")
    latex_free = BooleanField("Latex-free")
    certifications = StringField("Certifications", [Length(max=300)], filters=[strip])
    featured = BooleanField("Featured on the home page")


class VariantSpecForm(ShopForm):
    """A variant's own fields (the CSV import checks its rows with this too)."""

    sku = StringField(
        "SKU",
        [
            DataRequired("Enter the SKU."),
            Length(max=64),
            Regexp(
                SKU,
                matcher=re.fullmatch,
                message="Use capital letters and digits joined by single hyphens, dots or "
                "slashes, like MN-32G-4MM-100.",
            ),
        ],
        filters=[strip],
    )
    gauge = WholeNumberField(
        "Gauge (G)",
        [InputRequired("Enter the gauge."), NumberRange(18, 34, "Enter a gauge from 18 to 34.")],
    )
    length_mm = DecimalNumberField(
        "Length (mm)",
        [
            InputRequired("Enter the needle length."),
            NumberRange(Decimal("0.5"), Decimal(50), "Enter a length from 0.5 to 50 mm."),
        ],
    )
    pins = WholeNumberField(
        "Pins",
        [
            InputRequired("Enter the number of pins (1 for a single needle)."),
            NumberRange(1, 12, "Enter 1 to 12 pins (1 for a single needle)."),
        ],
    )
    bevel = StringField(
        "Bevel", [DataRequired("Enter the bevel."), Length(max=60)], filters=[strip]
    )
    wall = StringField("Wall", [DataRequired("Enter the wall."), Length(max=60)], filters=[strip])
    hub = StringField("Hub", [DataRequired("Enter the hub."), Length(max=80)], filters=[strip])
    pack_size = WholeNumberField(
        "Needles per pack",
        [
            InputRequired("Enter how many needles a pack holds."),
            NumberRange(1, 100_000, "Enter a pack size of at least 1 needle."),
        ],
    )
    gtin = StringField("GTIN (optional)", [Optional(), _gtin], filters=[strip])
    min_order_quantity = WholeNumberField(
        "Minimum order (packs)",
        [
            InputRequired("Enter the minimum order."),
            NumberRange(1, MAX_PACKS, "Enter a minimum order of at least 1 pack."),
        ],
    )
    low_stock_threshold = WholeNumberField(
        "Low-stock alert below (packs)",
        [
            InputRequired("Enter the low-stock threshold (0 for none)."),
            NumberRange(0, MAX_PACKS, "Enter 0 packs or more."),
        ],
    )
    min_shelf_life_days = WholeNumberField(
        "Minimum shelf life to sell online (days, optional)",
        [Optional(), NumberRange(0, 3650, "Enter 0 to 3650 days, or leave it empty.")],
    )


class TierForm(SubForm):
    min_quantity = WholeNumberField(
        "From (packs)", [Optional(), NumberRange(1, MAX_PACKS, "Enter 1 pack or more.")]
    )
    unit_amount = MoneyField("Price per pack", [Optional()])


class VariantForm(VariantSpecForm):
    tiers = FieldList(FormField(TierForm), min_entries=1, max_entries=MAX_TIERS)

    tier_rows: list[tuple[int, int]]
    tier_error: str | None = None

    def validate(self, extra_validators: Any = None) -> bool:
        """The fields, then the tiers as a whole: blank rows are skipped, half-filled
        rows are errors, and the rest must follow `tier_problem`'s rules."""
        valid = super().validate(extra_validators)
        self.tier_rows, self.tier_error = [], None
        complete = True
        for row in self.tiers:
            quantity, amount = row.form.min_quantity, row.form.unit_amount
            if quantity.errors or amount.errors:
                complete = False
            elif quantity.data is None and amount.data is not None:
                quantity.errors.append("Enter from how many packs this price applies.")
                complete = False
            elif amount.data is None and quantity.data is not None:
                amount.errors.append("Enter the price per pack.")
                complete = False
            elif quantity.data is not None:
                self.tier_rows.append((quantity.data, amount.data))
        if complete:
            self.tier_error = tier_problem(self.tier_rows)
        return valid and complete and self.tier_error is None

    def with_blank_rows(self) -> VariantForm:
        """Room to add tiers: at least two empty rows and four in all (up to MAX_TIERS)."""

        def blank(row: FormField) -> bool:
            typed = (row.form.min_quantity._value(), row.form.unit_amount._value())
            return not any(text.strip() for text in typed)

        while len(self.tiers) < MAX_TIERS and (
            len(self.tiers) < 4 or sum(blank(row) for row in self.tiers) < 2
        ):
            self.tiers.append_entry()
        return self


def product_values(form: ProductForm) -> dict[str, Any]:
    return {name: form[name].data for name in PRODUCT_FIELDS}


def variant_values(form: VariantSpecForm) -> dict[str, Any]:
    values = {name: form[name].data for name in VARIANT_FIELDS}
    values["length_mm"] = float(values["length_mm"])
    values["gtin"] = values["gtin"] or None
    return values


def product_form_data(product: Product) -> dict[str, Any]:
    return {name: getattr(product, name) for name in PRODUCT_FIELDS}


def variant_form_data(variant: Variant) -> dict[str, Any]:
    data: dict[str, Any] = {name: getattr(variant, name) for name in VARIANT_FIELDS}
    data["tiers"] = [
        {"min_quantity": t.min_quantity, "unit_amount": t.unit_amount} for t in variant.price_tiers
    ]
    return data


def _count(label: str, key: str, default: int) -> WholeNumberField:
    low, high = LIMITS[key]
    return WholeNumberField(
        label,
        validators=[
            InputRequired(f"Enter the {label.lower()}."),
            NumberRange(low, high, message=f"Enter a number from {low} to {high:,}."),
        ],
        default=default,
    )


class PlannerForm(SubForm):
    """The course planner's question, as query parameters (a plan changes nothing)."""

    sku = SelectField("Needle", validators=[InputRequired("Choose a needle.")])
    patients = _count("Patients", "patients", 10)
    sessions = _count("Sessions per course", "sessions", DEFAULT_SESSIONS)
    injections = _count("Injections per session", "injections", DEFAULT_INJECTIONS)
    per_needle = _count(
        "Injections before a fresh needle", "per_needle", DEFAULT_INJECTIONS_PER_NEEDLE
    )
