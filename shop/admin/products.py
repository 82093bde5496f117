"""Back office: products and their variants, price tiers, photos and IFU documents.

Nothing is ever deleted here (orders and lots refer to variants): products and variants
are deactivated instead, which takes them off the shop. Forms check what a person types;
the functions below them check what needs the database (unique slug, SKU and GTIN), apply
the change, flush and refresh the catalogue's derived data; the views commit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from itertools import pairwise
from typing import Any, TypeVar

from flask import abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import Select, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response
from wtforms import (
    BooleanField,
    Field,
    FieldList,
    Form,
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

from shop.admin.blueprint import bp, section
from shop.catalog import media
from shop.catalog.models import Kind, PriceTier, Product, Variant
from shop.catalog.services import refresh_derived
from shop.errors import ValidationError as RuleBroken
from shop.extensions import db
from shop.forms import DecimalNumberField, MoneyField, WholeNumberField, shop_currency, strip

section("admin.products", "Products")

T = TypeVar("T")

SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
SKU = re.compile(r"[A-Z0-9]+(?:[-./][A-Z0-9]+)*")
MAX_TIERS = 10
MAX_PACKS = 1_000_000
PER_PAGE = 50
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


# --- Rules shared by the forms and the CSV import -----------------------------------------


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


def _gtin(form: Any, field: Field) -> None:
    problem = gtin_problem(field.data or "")
    if problem:
        raise ValidationError(problem)


# --- Forms --------------------------------------------------------------------------------


class ProductForm(FlaskForm):
    name = StringField(
        "Name", [DataRequired("Enter the product's name."), Length(max=200)], filters=[strip]
    )
    slug = StringField(
        "Slug (its web address)",
        [
            DataRequired("Enter a slug, like meso-needle-32g."),
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


class VariantSpecForm(FlaskForm):
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


class TierForm(Form):
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


class ImageForm(FlaskForm):
    image = FileField(
        "Product photo",
        [FileRequired("Choose a picture to upload.")],
        render_kw={"accept": "image/jpeg,image/png,image/webp"},
    )


class IfuForm(FlaskForm):
    ifu = FileField(
        "Instructions for use (PDF)",
        [FileRequired("Choose a PDF to upload.")],
        render_kw={"accept": "application/pdf"},
    )


# --- What the forms hand over, and the changes they make -----------------------------------


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
        raise RuleBroken({"slug": f"Another product already has the slug {values['slug']}."})
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
        raise RuleBroken(errors)
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


# --- Views --------------------------------------------------------------------------------


def _product_or_404(product_id: int) -> Product:
    return db.get_or_404(Product, product_id)


def _variant_or_404(product: Product, variant_id: int) -> Variant:
    variant = db.session.get(Variant, variant_id)
    if variant is None or variant.product_id != product.id:
        abort(404)
    return variant


def _saved(form: FlaskForm, save: Callable[[], T]) -> T | None:
    """Run a save and commit; its result, or None with the errors put on the form (and
    nothing saved)."""
    try:
        result = save()
        db.session.commit()
    except RuleBroken as exc:
        db.session.rollback()
        for name, message in exc.errors.items():
            form[name].errors = [*form[name].errors, message]
        return None
    except IntegrityError:
        db.session.rollback()
        flash("Someone saved a clashing change at the same moment: check and try again.", "error")
        return None
    return result


@bp.get("/products")
def products() -> str:
    q = " ".join(request.args.get("q", "").split())[:100]
    status = request.args.get("status", "")
    kind = request.args.get("kind", "")
    stmt = select(Product).options(selectinload(Product.variants))
    if q:
        skus = select(Variant.product_id).where(Variant.sku.icontains(q, autoescape=True))
        stmt = stmt.where(
            or_(
                Product.name.icontains(q, autoescape=True),
                Product.slug.icontains(q, autoescape=True),
                Product.id.in_(skus),
            )
        )
    if status in ("active", "inactive"):
        stmt = stmt.where(Product.is_active.is_(status == "active"))
    if kind in {k.value for k in Kind}:
        stmt = stmt.where(Product.kind == kind)
    page = db.paginate(
        stmt.order_by(func.lower(Product.name), Product.id), per_page=PER_PAGE, error_out=False
    )
    return render_template(
        "admin/products/list.html", page=page, q=q, status=status, kind=kind, kinds=Kind
    )


def _render_product(
    product: Product | None,
    form: ProductForm,
    *,
    image_form: ImageForm | None = None,
    ifu_form: IfuForm | None = None,
    status: int = 200,
) -> tuple[str, int]:
    html = render_template(
        "admin/products/edit.html",
        product=product,
        form=form,
        image_form=image_form or ImageForm(formdata=None),
        ifu_form=ifu_form or IfuForm(formdata=None),
    )
    return html, status


@bp.route("/products/new", methods=["GET", "POST"])
def new_product() -> Any:
    form = ProductForm(data={"single_use": True, "latex_free": True})
    if form.validate_on_submit():
        product = _saved(form, lambda: save_product(None, product_values(form)))
        if product is not None:
            flash(f"{product.name} created. Add its first variant.", "success")
            return redirect(url_for("admin.edit_product", product_id=product.id), code=303)
    return _render_product(None, form, status=422 if request.method == "POST" else 200)


@bp.route("/products/<int:product_id>", methods=["GET", "POST"])
def edit_product(product_id: int) -> Any:
    product = _product_or_404(product_id)
    form = ProductForm(data=product_form_data(product))
    if form.validate_on_submit():
        saved = _saved(form, lambda: save_product(product, product_values(form)))
        if saved is not None:
            flash(f"{saved.name} saved.", "success")
            return redirect(url_for("admin.edit_product", product_id=product_id), code=303)
    return _render_product(product, form, status=422 if request.method == "POST" else 200)


@bp.post("/products/<int:product_id>/active")
def product_active(product_id: int) -> Response:
    product = _product_or_404(product_id)
    active = request.form.get("active") == "1"
    if set_active(product, active):
        db.session.commit()
        flash(f"{product.name} is {'back on' if active else 'off'} the shop.", "success")
    return redirect(url_for("admin.edit_product", product_id=product_id), code=303)


def _render_variant(
    product: Product, variant: Variant | None, form: VariantForm, status: int
) -> tuple[str, int]:
    html = render_template(
        "admin/products/variant.html",
        product=product,
        variant=variant,
        form=form.with_blank_rows(),
        currency=shop_currency().upper(),
        failed=status == 422,
    )
    return html, status


def _save_variant_form(product: Product, variant: Variant | None, form: VariantForm) -> Any:
    saved = _saved(
        form, lambda: save_variant(product, variant, variant_values(form), form.tier_rows)
    )
    if saved is None:
        return None
    flash(f"Variant {saved.sku} saved.", "success")
    return redirect(url_for("admin.edit_product", product_id=product.id, _anchor="variants"), 303)


@bp.route("/products/<int:product_id>/variants/new", methods=["GET", "POST"])
def new_variant(product_id: int) -> Any:
    product = _product_or_404(product_id)
    form = VariantForm(data={"min_order_quantity": 1, "low_stock_threshold": 10, "pins": 1})
    if form.validate_on_submit():
        done = _save_variant_form(product, None, form)
        if done is not None:
            return done
    return _render_variant(product, None, form, 422 if request.method == "POST" else 200)


@bp.route("/products/<int:product_id>/variants/<int:variant_id>", methods=["GET", "POST"])
def edit_variant(product_id: int, variant_id: int) -> Any:
    product = _product_or_404(product_id)
    variant = _variant_or_404(product, variant_id)
    form = VariantForm(data=variant_form_data(variant))
    if form.validate_on_submit():
        done = _save_variant_form(product, variant, form)
        if done is not None:
            return done
    return _render_variant(product, variant, form, 422 if request.method == "POST" else 200)


@bp.post("/products/<int:product_id>/variants/<int:variant_id>/active")
def variant_active(product_id: int, variant_id: int) -> Response:
    product = _product_or_404(product_id)
    variant = _variant_or_404(product, variant_id)
    active = request.form.get("active") == "1"
    if set_active(variant, active):
        db.session.commit()
        flash(f"Variant {variant.sku} is {'back on' if active else 'off'} the shop.", "success")
    return redirect(url_for("admin.edit_product", product_id=product_id, _anchor="variants"), 303)


def _upload(product_id: int, form: FlaskForm, attribute: str, store: Any) -> Any:
    product = _product_or_404(product_id)
    field = form["image" if attribute == "image_filename" else "ifu"]
    if form.validate_on_submit():
        try:
            name = store(field.data.stream)
        except RuleBroken as exc:
            field.errors = list(exc.errors.values())
        else:
            attach_file(product, attribute, name)
            try:
                db.session.commit()
            except Exception:
                media.discard(name)
                raise
            flash(f"{field.label.text} saved.", "success")
            return redirect(url_for("admin.edit_product", product_id=product_id), code=303)
    forms = {"image_form": form} if attribute == "image_filename" else {"ifu_form": form}
    product_form = ProductForm(formdata=None, data=product_form_data(product))
    return _render_product(product, product_form, status=422, **forms)


@bp.post("/products/<int:product_id>/image")
def upload_image(product_id: int) -> Any:
    return _upload(product_id, ImageForm(), "image_filename", media.store_image)


@bp.post("/products/<int:product_id>/ifu")
def upload_ifu(product_id: int) -> Any:
    return _upload(product_id, IfuForm(), "ifu_filename", media.store_ifu)


@bp.post("/products/<int:product_id>/image/remove")
def remove_image(product_id: int) -> Response:
    product = _product_or_404(product_id)
    attach_file(product, "image_filename", None)
    db.session.commit()
    flash("Photo removed: the shop shows the drawing again.", "success")
    return redirect(url_for("admin.edit_product", product_id=product_id), code=303)


@bp.post("/products/<int:product_id>/ifu/remove")
def remove_ifu(product_id: int) -> Response:
    product = _product_or_404(product_id)
    attach_file(product, "ifu_filename", None)
    db.session.commit()
    flash("IFU removed from the product page.", "success")
    return redirect(url_for("admin.edit_product", product_id=product_id), code=303)
