"""The back office's products: create, edit, validation, deactivation, photos and IFUs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import func, select

from shop.catalog.editing import gtin_problem, tier_problem
from shop.catalog.models import Product, Variant
from shop.extensions import db
from tests.conftest import csrf_token
from tests.factories import make_product, make_variant
from tests.html_check import assert_valid_html

VALID_GTIN = "4006381333931"


@pytest.fixture(autouse=True)
def uploads(app: Flask, tmp_path: Path) -> Iterator[Path]:
    """Uploads go to a temporary folder."""
    folder = tmp_path / "uploads"
    app.config["SHOP_UPLOAD_DIR"] = str(folder)
    yield folder


def product_fields(**changes: str | None) -> dict[str, str]:
    fields: dict[str, str | None] = {
        "name": "Meso Needle 30G",
        "slug": "meso-needle-30g",
        "kind": "meso-needle",
        "summary": "A 30G needle for fine work.",
        "description": "Tri-bevel tip.\n\nTransparent hub.",
        "material": "Stainless steel AISI 304",
        "lubrication": "Silicone",
        "sterilisation_method": "Ethylene oxide (EO)",
        "sterile_barrier": "Blister pack",
        "shelf_life_months": "60",
        "single_use": "y",
        "latex_free": "y",
        "certifications": "CE 0123, ISO 13485",
    }
    fields.update(changes)
    return {k: v for k, v in fields.items() if v is not None}


def variant_fields(*tiers: tuple[str, str], **changes: str | None) -> dict[str, str]:
    fields: dict[str, str | None] = {
        "sku": "MN-30G-4MM-100",
        "gauge": "30",
        "length_mm": "4",
        "pins": "1",
        "bevel": "Tri-bevel",
        "wall": "Regular wall",
        "hub": "Luer lock",
        "pack_size": "100",
        "gtin": "",
        "min_order_quantity": "1",
        "low_stock_threshold": "10",
        "min_shelf_life_days": "",
    }
    for i, (quantity, amount) in enumerate(tiers or (("1", "45.00"), ("10", "41.40"))):
        fields[f"tiers-{i}-min_quantity"] = quantity
        fields[f"tiers-{i}-unit_amount"] = amount
    fields.update(changes)
    return {k: v for k, v in fields.items() if v is not None}


def post(client: FlaskClient, path: str, data: dict[str, object]):  # type: ignore[no-untyped-def]
    return client.post(path, data={**data, "csrf_token": csrf_token(client, "/admin/products")})


def new_product(app: Flask, *, sku: str | None = None, **fields: object) -> tuple[int, int]:
    """A product with one variant: (product id, variant id)."""
    with app.app_context():
        variant = make_variant(product=make_product(**fields), sku=sku)  # type: ignore[arg-type]
        db.session.commit()
        return variant.product_id, variant.id


def png(width: int = 40, height: int = 30) -> bytes:
    out = BytesIO()
    Image.new("RGB", (width, height), (200, 30, 60)).save(out, "PNG")
    return out.getvalue()


PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
    b"xref\n0 3\n0000000000 65535 f \ntrailer<</Size 3/Root 1 0 R>>\nstartxref\n9\n%%EOF\n"
)


# --- Rules ----------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [VALID_GTIN, "96385074", "036000291452", "10012345678902"])
def test_valid_gtins(code: str) -> None:
    assert gtin_problem(code) is None


@pytest.mark.parametrize("code", ["4006381333932", "400638133393", "40063813339", "4OO6381333931"])
def test_invalid_gtins(code: str) -> None:
    assert gtin_problem(code) is not None


@pytest.mark.parametrize(
    ("tiers", "problem"),
    [
        ([(1, 4500), (10, 4100)], None),
        ([], "Enter the price of one pack"),
        ([(2, 4500)], "The first tier must start at 1 pack"),
        ([(1, 4500), (10, 4100), (10, 4000)], "Tiers must go up in packs"),
        ([(1, 4500), (50, 4100), (10, 4000)], "Tiers must go up in packs"),
        ([(1, 4500), (10, 0)], "Every price must be above zero"),
    ],
)
def test_tier_rules(tiers: list[tuple[int, int]], problem: str | None) -> None:
    found = tier_problem(tiers)
    assert (found is None) if problem is None else (found or "").startswith(problem)


# --- Create and edit ------------------------------------------------------------------------


def test_staff_create_a_product_and_its_variant(app: Flask, staff_client: FlaskClient) -> None:
    page = staff_client.get("/admin/products/new")
    assert page.status_code == 200
    assert '<label for="slug">' in page.get_data(as_text=True)

    created = post(staff_client, "/admin/products/new", product_fields())
    assert created.status_code == 303
    product_id = int(created.location.rstrip("/").rsplit("/", 1)[1])

    saved = post(
        staff_client,
        f"/admin/products/{product_id}/variants/new",
        variant_fields(("1", "45.00"), ("10", "41.40"), ("50", "38.30"), gtin=VALID_GTIN),
    )
    assert saved.status_code == 303
    with app.app_context():
        product = db.session.get(Product, product_id)
        assert product is not None and product.slug == "meso-needle-30g"
        assert product.single_use and product.latex_free and not product.featured
        variant = product.variants[0]
        assert (variant.gauge, variant.length_mm, variant.gtin) == (30, 4.0, VALID_GTIN)
        assert [(t.min_quantity, t.unit_amount) for t in variant.price_tiers] == [
            (1, 4500),
            (10, 4140),
            (50, 3830),
        ]
        assert product.price_from == 4500
    shop_page = staff_client.get("/products/meso-needle-30g").get_data(as_text=True)
    assert "MN-30G-4MM-100" in shop_page and "$41.40 from 10 packs" in shop_page
    assert "Meso Needle 30G" in staff_client.get("/products?q=30g").get_data(as_text=True)


def test_a_slug_left_empty_is_made_from_the_name(app: Flask, staff_client: FlaskClient) -> None:
    page = staff_client.get("/admin/products/new").get_data(as_text=True)
    assert "/static/js/slug.js" in page  # suggests it while the name is typed
    fields = product_fields(name="Mésö Needle 32G × 4 mm", slug="")
    created = post(staff_client, "/admin/products/new", fields)
    assert created.status_code == 303
    product_id = int(created.location.rstrip("/").rsplit("/", 1)[1])
    with app.app_context():
        product = db.session.get(Product, product_id)
        assert product is not None and product.slug == "meso-needle-32g-4-mm"
    assert "/static/js/slug.js" not in staff_client.get(f"/admin/products/{product_id}").get_data(
        as_text=True
    )  # an existing product's address never moves by itself


def test_edits_reach_the_shop(app: Flask, staff_client: FlaskClient) -> None:
    product_id, variant_id = new_product(app, name="Old Name", slug="old-name", sku="MN-1")
    assert "Old Name" in staff_client.get("/products").get_data(as_text=True)

    edit = staff_client.get(f"/admin/products/{product_id}").get_data(as_text=True)
    assert 'value="old-name"' in edit and "MN-1" in edit
    response = post(
        staff_client, f"/admin/products/{product_id}", product_fields(name="New Name", slug="new")
    )
    assert response.status_code == 303
    form = staff_client.get(f"/admin/products/{product_id}/variants/{variant_id}")
    assert 'value="30.00"' in form.get_data(as_text=True)  # the factory's 3000 cents
    response = post(
        staff_client,
        f"/admin/products/{product_id}/variants/{variant_id}",
        variant_fields(("1", "25.00"), ("20", "22.00"), sku="MN-1"),
    )
    assert response.status_code == 303
    listing = staff_client.get("/products").get_data(as_text=True)
    assert "New Name" in listing and "Old Name" not in listing
    with app.app_context():
        variant = db.session.get(Variant, variant_id)
        assert variant is not None
        assert [(t.min_quantity, t.unit_amount) for t in variant.price_tiers] == [
            (1, 2500),
            (20, 2200),
        ]
        assert variant.product.price_from == 2500


def test_admin_list_searches_and_filters(app: Flask, staff_client: FlaskClient) -> None:
    new_product(app, name="Alpha Needle", sku="ALPHA-1")
    new_product(app, name="Beta Injector", sku="BETA-1", is_active=False)
    page = staff_client.get("/admin/products").get_data(as_text=True)
    assert "Alpha Needle" in page and "Beta Injector" in page
    by_sku = staff_client.get("/admin/products?q=beta-1").get_data(as_text=True)
    assert "Beta Injector" in by_sku and "Alpha Needle" not in by_sku
    inactive = staff_client.get("/admin/products?status=inactive").get_data(as_text=True)
    assert "Beta Injector" in inactive and "Alpha Needle" not in inactive
    multi = staff_client.get("/admin/products?kind=multi-injector").get_data(as_text=True)
    assert "Alpha Needle" not in multi
    wildcard = staff_client.get("/admin/products?q=%25").get_data(as_text=True)
    assert "No products match these filters." in wildcard  # % is a character, not a wildcard


# --- Validation: re-rendered with the errors beside the fields, nothing saved ---------------


@pytest.mark.parametrize(
    ("changes", "message", "kept"),
    [
        ({"slug": "Bad Slug"}, "Use lower-case letters and digits", 'value="Bad Slug"'),
        ({"slug": "taken"}, "Another product already has the slug taken.", 'value="taken"'),
        ({"name": "  "}, "Enter the product&#39;s name.", 'value="meso-needle-30g"'),
        ({"shelf_life_months": "0"}, "Enter a shelf life from 1 to 120 months.", 'value="0"'),
        ({"shelf_life_months": "five"}, "Enter a whole number.", 'value="five"'),
    ],
)
def test_product_form_errors(
    app: Flask, staff_client: FlaskClient, changes: dict[str, str], message: str, kept: str
) -> None:
    new_product(app, slug="taken")
    response = post(staff_client, "/admin/products/new", product_fields(**changes))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html and kept in html
    field = next(iter(changes))
    assert f'aria-describedby="{field}-hint {field}-error"' in html or (
        f'aria-describedby="{field}-error"' in html
    )
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Product)) == 1


@pytest.mark.parametrize(
    ("tiers", "changes", "message"),
    [
        ((), {"sku": "TAKEN-1"}, "Another variant already has the SKU TAKEN-1."),
        ((), {"sku": "mn 30"}, "Use capital letters and digits"),
        ((), {"gauge": "17"}, "Enter a gauge from 18 to 34."),
        ((), {"gauge": "35"}, "Enter a gauge from 18 to 34."),
        ((), {"gauge": "3O"}, "Enter a whole number."),
        ((), {"length_mm": "0.4"}, "Enter a length from 0.5 to 50 mm."),
        ((), {"length_mm": "51"}, "Enter a length from 0.5 to 50 mm."),
        ((), {"pins": "13"}, "Enter 1 to 12 pins"),
        ((), {"pack_size": "0"}, "Enter a pack size of at least 1 needle."),
        ((), {"min_order_quantity": "0"}, "Enter a minimum order of at least 1 pack."),
        ((), {"gtin": "4006381333932"}, "check digit does not match"),
        ((), {"gtin": "12345"}, "A GTIN has 8, 12, 13 or 14 digits."),
        ((), {"gtin": "96385074"}, "Another variant already has the GTIN 96385074."),
        ((("1", "45.00"), ("10", "40.00"), ("5", "42.00")), {}, "Tiers must go up in packs"),
        ((("1", "45.00"), ("1", "40.00")), {}, "Tiers must go up in packs"),
        ((("2", "45.00"),), {}, "The first tier must start at 1 pack."),
        ((("1", "-45.00"),), {}, "Enter an amount above zero."),
        ((("1", "0"),), {}, "Enter an amount above zero."),
        ((("1", "45.0.0"),), {}, "Enter an amount like 45.00."),
        ((("1", "4.500"),), {}, "“4.500” could be read two ways"),
        ((("1", "45.00"), ("10", "")), {}, "Enter the price per pack."),
        ((("", ""),), {}, "Enter the price of one pack"),
    ],
)
def test_variant_form_errors(
    app: Flask,
    staff_client: FlaskClient,
    tiers: tuple[tuple[str, str], ...],
    changes: dict[str, str],
    message: str,
) -> None:
    product_id, _ = new_product(app, sku="TAKEN-1")
    with app.app_context():
        taken = db.session.scalar(select(Variant).where(Variant.sku == "TAKEN-1"))
        assert taken is not None
        taken.gtin = "96385074"
        db.session.commit()
    fields = variant_fields(*tiers, **changes)
    response = post(staff_client, f"/admin/products/{product_id}/variants/new", fields)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html
    assert "Nothing was saved" in html
    for value in changes.values():  # what was typed is kept
        assert f'value="{value}"' in html
    for _, amount in tiers:
        if amount:
            assert f'value="{amount}"' in html
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Variant)) == 1


def test_errors_are_tied_to_their_fields(app: Flask, staff_client: FlaskClient) -> None:
    product_id, _ = new_product(app)
    response = post(
        staff_client,
        f"/admin/products/{product_id}/variants/new",
        variant_fields(("1", "45.00"), ("10", "-1"), gauge="40"),
    )
    html = response.get_data(as_text=True)
    assert re.search(r'<input[^>]*aria-describedby="gauge-hint gauge-error"[^>]*>', html)
    assert 'id="gauge-error"' in html and 'aria-invalid="true"' in html
    assert 'id="tiers-1-unit_amount-error"' in html
    assert '<label class="visually-hidden" for="tiers-1-unit_amount">' in html


# --- Deactivation ---------------------------------------------------------------------------


def test_deactivating_a_product_takes_it_off_the_shop(
    app: Flask, staff_client: FlaskClient, client: FlaskClient
) -> None:
    product_id, _ = new_product(app, name="Retiring Needle", slug="retiring")
    assert "Retiring Needle" in client.get("/products").get_data(as_text=True)
    response = post(staff_client, f"/admin/products/{product_id}/active", {"active": "0"})
    assert response.status_code == 303
    assert "Retiring Needle" not in client.get("/products").get_data(as_text=True)
    assert client.get("/products/retiring").status_code == 404
    assert "Inactive" in staff_client.get(f"/admin/products/{product_id}").get_data(as_text=True)
    post(staff_client, f"/admin/products/{product_id}/active", {"active": "1"})
    assert client.get("/products/retiring").status_code == 200
    with app.app_context():
        assert db.session.get(Product, product_id) is not None  # never deleted


def test_deactivating_a_variant_hides_only_it(
    app: Flask, staff_client: FlaskClient, client: FlaskClient
) -> None:
    product_id, variant_id = new_product(app, slug="two-sizes", sku="KEEP-1")
    with app.app_context():
        product = db.session.get(Product, product_id)
        make_variant(product=product, sku="DROP-1", gauge=27, prices=((1, 1000),))
        db.session.commit()
        dropped = db.session.scalar(select(Variant.id).where(Variant.sku == "DROP-1"))
    assert "DROP-1" in client.get("/products/two-sizes").get_data(as_text=True)
    post(staff_client, f"/admin/products/{product_id}/variants/{dropped}/active", {"active": "0"})
    page = client.get("/products/two-sizes").get_data(as_text=True)
    assert "DROP-1" not in page and "KEEP-1" in page
    with app.app_context():
        assert db.session.get(Product, product_id).price_from == 3000  # type: ignore[union-attr]


def test_unknown_records_are_404(staff_client: FlaskClient, app: Flask) -> None:
    product_id, variant_id = new_product(app)
    other_id, _ = new_product(app)
    assert staff_client.get("/admin/products/999999").status_code == 404
    assert staff_client.get(f"/admin/products/{other_id}/variants/{variant_id}").status_code == 404


# --- CSRF -----------------------------------------------------------------------------------


def test_forms_need_the_csrf_token(app: Flask, staff_client: FlaskClient) -> None:
    product_id, variant_id = new_product(app)
    for path, data in [
        ("/admin/products/new", product_fields()),
        (f"/admin/products/{product_id}", product_fields()),
        (f"/admin/products/{product_id}/active", {"active": "0"}),
        (f"/admin/products/{product_id}/variants/new", variant_fields()),
        (f"/admin/products/{product_id}/variants/{variant_id}", variant_fields()),
        (f"/admin/products/{product_id}/image", {"image": (BytesIO(png()), "a.png")}),
        (f"/admin/products/{product_id}/ifu", {"ifu": (BytesIO(PDF), "ifu.pdf")}),
    ]:
        assert staff_client.post(path, data=data).status_code == 400, path
    with app.app_context():
        product = db.session.get(Product, product_id)
        assert product is not None and product.is_active and product.image_filename is None


# --- Uploads --------------------------------------------------------------------------------


def fetch(client: FlaskClient, path: str):  # type: ignore[no-untyped-def]
    """GET a file response, read it and close it (as a WSGI server would)."""
    with client.get(path) as response:
        response.get_data()
    return response


def upload(client: FlaskClient, product_id: int, what: str, content: bytes, filename: str):  # type: ignore[no-untyped-def]
    """Upload as a browser would, claiming the type the filename suggests."""
    claimed = "application/pdf" if filename.endswith(".pdf") else "image/png"
    response = client.post(
        f"/admin/products/{product_id}/{what}",
        data={
            what: (BytesIO(content), filename, claimed),
            "csrf_token": csrf_token(client, "/admin/products"),
        },
        content_type="multipart/form-data",
    )
    # The test client spools a large body to a temporary file that it never closes.
    response.request.environ["wsgi.input"].close()
    return response


def test_a_real_png_is_stored_and_served(
    app: Flask, staff_client: FlaskClient, client: FlaskClient, uploads: Path
) -> None:
    product_id, _ = new_product(app, slug="photo")
    response = upload(staff_client, product_id, "image", png(), "../../photo.exe")
    assert response.status_code == 303
    with app.app_context():
        name = db.session.get(Product, product_id).image_filename  # type: ignore[union-attr]
    assert name and re.fullmatch(r"[0-9a-f]{32}\.png", name)
    assert [p.name for p in uploads.iterdir()] == [name]

    served = fetch(client, f"/media/{name}")
    assert served.status_code == 200
    assert served.mimetype == "image/png"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert Image.open(BytesIO(served.data)).size == (40, 30)

    picture = fetch(client, "/products/photo/picture.svg")
    assert picture.status_code == 200 and picture.mimetype == "image/png"
    assert picture.data == served.data
    assert f"/media/{name}" in staff_client.get(f"/admin/products/{product_id}").get_data(
        as_text=True
    )

    post(staff_client, f"/admin/products/{product_id}/image/remove", {})
    assert client.get("/products/photo/picture.svg").mimetype == "image/svg+xml"


def test_photos_lose_their_metadata(app: Flask, staff_client: FlaskClient, uploads: Path) -> None:
    product_id, _ = new_product(app)
    exif = Image.Exif()
    exif[0x010F] = "Secret Camera Maker"
    out = BytesIO()
    Image.new("RGB", (20, 20), "white").save(out, "JPEG", exif=exif)
    assert b"Secret Camera Maker" in out.getvalue()
    assert upload(staff_client, product_id, "image", out.getvalue(), "x.jpg").status_code == 303
    (stored,) = uploads.iterdir()
    assert stored.suffix == ".jpg"
    assert b"Secret Camera Maker" not in stored.read_bytes()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"just some text, not a picture\n", "That file is not a JPEG, PNG or WebP picture."),
        (b"GIF89a" + png()[6:], "That file is not a JPEG, PNG or WebP picture."),
        (png()[:60], "That file is not a JPEG, PNG or WebP picture."),
        (png()[:8] + b"\0" * (5 * 1024 * 1024), "The picture must be at most 5 MB."),
        (png(4001, 1), "make it at most 4000 pixels on each side"),
        (b"", "That file is empty."),
    ],
    ids=["text", "gif-header", "truncated", "oversize", "too-wide", "empty"],
)
def test_bad_pictures_are_refused(
    app: Flask, staff_client: FlaskClient, uploads: Path, content: bytes, message: str
) -> None:
    product_id, _ = new_product(app)
    response = upload(staff_client, product_id, "image", content, "photo.png")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html
    assert 'aria-describedby="image-hint image-error"' in html
    assert not uploads.exists() or not any(uploads.iterdir())
    with app.app_context():
        assert db.session.get(Product, product_id).image_filename is None  # type: ignore[union-attr]


def test_an_ifu_pdf_is_stored_served_and_linked(
    app: Flask, staff_client: FlaskClient, client: FlaskClient
) -> None:
    product_id, _ = new_product(app, slug="with-ifu")
    assert upload(staff_client, product_id, "ifu", PDF, "ifu.png").status_code == 303
    with app.app_context():
        name = db.session.get(Product, product_id).ifu_filename  # type: ignore[union-attr]
    assert name and name.endswith(".pdf")
    page = client.get("/products/with-ifu").get_data(as_text=True)
    assert f'href="/media/{name}"' in page
    served = fetch(client, f"/media/{name}")
    assert served.status_code == 200 and served.data == PDF
    assert served.mimetype == "application/pdf"
    assert served.headers["Content-Disposition"] == "inline"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert "max-age=31536000" in served.headers["Cache-Control"]
    assert "object-src 'none'" not in served.headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"<html>%PDF-1.4 not really</html>", "That file is not a PDF."),
        (png(), "That file is not a PDF."),
        (PDF[: PDF.index(b"startxref")], "That PDF is cut short or damaged"),
        (b"%PDF-1.4\n" + b"\0" * (10 * 1024 * 1024), "The IFU must be at most 10 MB."),
    ],
    ids=["bad-magic", "png", "truncated", "oversize"],
)
def test_bad_ifus_are_refused(
    app: Flask, staff_client: FlaskClient, uploads: Path, content: bytes, message: str
) -> None:
    product_id, _ = new_product(app)
    response = upload(staff_client, product_id, "ifu", content, "ifu.pdf")
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert not uploads.exists() or not any(uploads.iterdir())


@pytest.mark.parametrize(
    "path", ["/media/nothing.png", "/media/..%2Fsecret_key", "/media/" + "a" * 32 + ".png"]
)
def test_media_serves_only_stored_names(client: FlaskClient, path: str) -> None:
    assert client.get(path).status_code == 404


# --- Valid HTML -----------------------------------------------------------------------------


def test_pages_have_no_html_errors(app: Flask, staff_client: FlaskClient, tmp_path: Path) -> None:
    """Every page of the section, also with errors shown, passes the Nu HTML Checker."""
    product_id, variant_id = new_product(app, name="Checked Needle", sku="CHK-1", featured=True)
    upload(staff_client, product_id, "image", png(), "a.png")
    upload(staff_client, product_id, "ifu", PDF, "a.pdf")
    bad_tiers = variant_fields(("1", "45.00"), ("1", "-2"), ("", "3.00"), gauge="40")
    csv_token = csrf_token(staff_client, "/admin/csv")
    bad_csv = BytesIO(b"slug,name\nx,y\n")
    pages = {
        "list": staff_client.get("/admin/products?q=check&status=active"),
        "new": staff_client.get("/admin/products/new"),
        "new-errors": post(staff_client, "/admin/products/new", product_fields(slug="Bad")),
        "edit": staff_client.get(f"/admin/products/{product_id}"),
        "image-error": upload(staff_client, product_id, "image", b"text", "a.png"),
        "variant": staff_client.get(f"/admin/products/{product_id}/variants/{variant_id}"),
        "variant-errors": post(
            staff_client, f"/admin/products/{product_id}/variants/new", bad_tiers
        ),
        "csv": staff_client.get("/admin/csv"),
        "csv-errors": staff_client.post(
            "/admin/csv/catalogue",
            data={"catalogue-file": (bad_csv, "x.csv"), "catalogue-csrf_token": csv_token},
        ),
    }
    for name, response in pages.items():
        assert response.status_code in (200, 422), name
    assert_valid_html({name: response.data for name, response in pages.items()}, tmp_path)
