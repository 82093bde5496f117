"""`flask --app shop audit`: the books agree, or each breach is named and the exit is 1."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from shop.extensions import db
from tests.flows import add_to_cart, checkout, stock_needle


def test_audit_passes_on_a_shop_that_sold_and_fails_on_a_lot_changed_behind_its_back(
    app: Flask, client: FlaskClient
) -> None:
    stock_needle(app, {"L1": 20})
    add_to_cart(client, 3)
    checkout(client, payment_method="bank_transfer")
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["audit"])
    assert ok.exit_code == 0, ok.output
    assert "no breach found" in ok.output
    with app.app_context():
        db.session.execute(sa.text("UPDATE lots SET quantity = quantity + 5, reserved = 0"))
        db.session.commit()
    bad = runner.invoke(args=["audit"])
    assert bad.exit_code == 1
    assert "lot L1 (id " in bad.output
    assert "25 packs on hand, but its movements add up to 20" in bad.output
    assert "0 packs reserved, but open allocations hold 3" in bad.output
    assert "3 packs ordered, 3 reserved and 0 sold" not in bad.output
    assert "2 breach(es) found." in bad.output
