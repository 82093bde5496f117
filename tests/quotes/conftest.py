"""The quote tests' catalogue: one needle with quantity breaks, in two lots."""

from __future__ import annotations

import pytest
from flask import Flask

from shop.extensions import db
from tests.factories import make_lot, make_product, make_variant
from tests.quotes.flow import SKU


@pytest.fixture
def stocked(app: Flask) -> Flask:
    with app.app_context():
        variant = make_variant(
            product=make_product(slug="meso-32", name="Meso Needle 32G"),
            sku=SKU,
            prices=((1, 3000), (10, 2760), (100, 2400)),
        )
        make_lot(variant, quantity=100, expires_in_days=700, lot_number="EARLY")
        make_lot(variant, quantity=200, expires_in_days=1200, lot_number="LATE")
        db.session.commit()
    return app
