"""Back office: products and their variants, price tiers, photos and IFU documents.

Nothing is ever deleted here (orders and lots refer to variants): products and variants
are deactivated instead, which takes them off the shop. Forms check what a person types;
the functions below them check what needs the database (unique slug, SKU and GTIN), apply
the change, flush and refresh the catalogue's derived data; the views commit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response

from shop.admin.blueprint import bp, section
from shop.catalog import media
from shop.catalog.editing import (
    attach_file,
    save_product,
    save_variant,
    set_active,
)
from shop.catalog.forms import (
    ProductForm,
    VariantForm,
    product_form_data,
    product_values,
    variant_form_data,
    variant_values,
)
from shop.catalog.models import Kind, Product, Variant
from shop.errors import ValidationError as RuleBroken
from shop.extensions import db
from shop.forms import (
    ShopForm,
    shop_currency,
)
from shop.input_guard import page_number

section("admin.products", "Products")

T = TypeVar("T")

PER_PAGE = 50


# --- Rules shared by the forms and the CSV import -----------------------------------------


# --- Forms --------------------------------------------------------------------------------


class ImageForm(ShopForm):
    image = FileField(
        "Product photo",
        [FileRequired("Choose a picture to upload.")],
        render_kw={"accept": "image/jpeg,image/png,image/webp"},
    )


class IfuForm(ShopForm):
    ifu = FileField(
        "Instructions for use (PDF)",
        [FileRequired("Choose a PDF to upload.")],
        render_kw={"accept": "application/pdf"},
    )


# --- What the forms hand over, and the changes they make -----------------------------------


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
        stmt.order_by(func.lower(Product.name), Product.id),
        page=page_number(),
        per_page=PER_PAGE,
        error_out=False,
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
