"""Staff in Chromium start a new product: the slug follows the name as it is typed, until
they type a slug of their own."""

from __future__ import annotations

from flask import Flask

from shop.extensions import db
from tests.conftest import PASSWORD
from tests.factories import make_user

EMAIL = "ines@shop.example"


def test_the_slug_follows_the_name_until_staff_type_their_own(  # type: ignore[no-untyped-def]
    page, live_server: str, app: Flask
) -> None:
    with app.app_context():
        make_user(EMAIL, role="staff")
        db.session.commit()
    page.goto(f"{live_server}/account/login")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/admin/")

    page.goto(f"{live_server}/admin/products/new")
    name = page.get_by_label("Name", exact=True)
    slug = page.get_by_label("Slug (its web address)")
    name.press_sequentially("Mésö Needle 32G × 4 mm")
    assert slug.input_value() == "meso-needle-32g-4-mm"
    slug.fill("meso-32g")
    name.press_sequentially(" sterile")
    assert slug.input_value() == "meso-32g"  # theirs now: the name no longer moves it
