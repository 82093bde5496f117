"""The course planner's arithmetic, and its page: the packs a course takes, priced with the
quantity breaks, and one button that puts them in the cart."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from shop.cart.models import Cart
from shop.catalog.models import Kind, Variant
from shop.catalog.planner import Course, plan
from shop.extensions import db
from tests.conftest import csrf_token
from tests.factories import make_lot, make_product, make_variant


@pytest.mark.parametrize(
    ("course", "pack_size", "minimum", "needles", "packs"),
    [
        # 10 patients x 6 sessions, 100 injections a session, a fresh needle every 100: 60.
        (Course(10, 6, 100, 100), 20, 1, 60, 3),
        # 250 injections with a fresh needle every 100: three needles a session.
        (Course(10, 6, 250, 100), 20, 1, 180, 9),
        # 61 needles take a fourth pack of 20, with 19 to spare.
        (Course(61, 1, 10, 100), 20, 1, 61, 4),
        # A single patient still buys the minimum order.
        (Course(1, 6, 100, 100), 100, 5, 6, 5),
    ],
)
def test_the_needles_and_packs_a_course_takes(
    app: Flask, course: Course, pack_size: int, minimum: int, needles: int, packs: int
) -> None:
    with app.app_context():
        variant = make_variant(
            pack_size=pack_size,
            min_order_quantity=minimum,
            prices=((1, 750), (5, 700), (10, 650)),
        )
        result = plan(variant, course)
        assert (result.needles, result.packs) == (needles, packs)
        assert result.spare == packs * pack_size - needles
        assert result.unit_amount == variant.unit_amount_for(packs)
        assert result.amount == packs * result.unit_amount


def test_a_multi_injector_head_serves_a_whole_session(app: Flask) -> None:
    with app.app_context():
        head = make_variant(
            product=make_product(slug="mi-5", kind=Kind.MULTI_INJECTOR), pins=5, pack_size=10
        )
        result = plan(head, Course(patients=4, sessions=8, injections=400, per_needle=50))
        assert (result.needles_per_session, result.needles, result.packs) == (1, 32, 4)


PLAN = "/planner?sku=MN-32G-4MM-20&patients=20&sessions=8&injections=120&per_needle=100"


def test_the_planner_page_works_it_out_and_fills_the_cart(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        product = make_product(slug="meso-32", name="Meso needle 32G")
        small = make_variant(
            product=product, sku="MN-32G-4MM-20", pack_size=20, prices=((1, 750), (10, 700))
        )
        large = make_variant(
            product=product, sku="MN-32G-4MM-100", pack_size=100, prices=((1, 3000), (10, 2760))
        )
        make_lot(small, quantity=200)
        make_lot(large, quantity=2)
        db.session.commit()
    form = client.get("/planner?sku=MN-32G-4MM-20")
    assert form.status_code == 200
    assert '<option selected value="MN-32G-4MM-20">' in form.get_data(as_text=True)
    page = client.get(PLAN)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    # 20 x 8 x 2 = 320 needles: 16 packs of 20 at the 10-pack price.
    assert "20 patients × 8 sessions × 2 needles a session = <strong>320 needles</strong>" in html
    assert "<strong>16 packs</strong> of 20" in html and "$112.00 at $7.00 a pack" in html
    # The same course in packs of 100 (4 packs, 80 spare), where only 2 are in stock.
    assert "MN-32G-4MM-100</a> (100)" in html and "$120.00" in html
    match = re.search(
        r'<form method="post" action="/cart/add">.*?name="sku" value="([^"]+)".*?'
        r'name="quantity" value="(\d+)".*?Put 16 packs in the cart',
        html,
        re.S,
    )
    assert match and match.groups() == ("MN-32G-4MM-20", "16")
    response = client.post(
        "/cart/add",
        data={
            "sku": "MN-32G-4MM-20",
            "quantity": "16",
            "csrf_token": csrf_token(client, PLAN),
        },
    )
    assert response.status_code == 303
    with app.app_context():
        cart = db.session.scalars(select(Cart)).one()
        variant = db.session.scalars(select(Variant).where(Variant.sku == "MN-32G-4MM-20")).one()
        assert [(line.variant_id, line.quantity) for line in cart.lines] == [(variant.id, 16)]
    short = client.get(
        "/planner?sku=MN-32G-4MM-100&patients=20&sessions=8&injections=120&per_needle=100"
    ).get_data(as_text=True)
    assert "Only 2 packs of MN-32G-4MM-100 can be had online now." in short


def test_bad_numbers_are_named_and_kept(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        make_variant(sku="MN-32G-4MM-20", pack_size=20)
        db.session.commit()
    page = client.get(
        "/planner?sku=MN-32G-4MM-20&patients=ten&sessions=0&injections=5&per_needle=1"
    )
    html = page.get_data(as_text=True)
    assert page.status_code == 422
    assert "Enter a whole number." in html and 'value="ten"' in html
    assert "Enter a number from 1 to 50." in html
    unknown = client.get("/planner?sku=NOPE&patients=1&sessions=1&injections=1&per_needle=1")
    assert unknown.status_code == 422 and "Not a valid choice" in unknown.get_data(as_text=True)
