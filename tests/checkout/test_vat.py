"""VAT at checkout: the buyer's country and VAT ID decide it, the form refuses a bad VAT
ID, and Stripe charges the order's gross total."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from shop.extensions import db
from shop.mail.models import OutboxEmail
from shop.orders.models import Order
from tests.flows import add_to_cart, checkout, stock_needle
from tests.flows import order as only_order
from tests.stripe_standin import StripeStandIn

GERMAN = {"country": "DE", "shipping_address": "Hafenstrasse 1\n20457 Hamburg"}


def test_an_invalid_vat_id_re_renders_the_form_and_changes_nothing(
    stripe_app: Flask, client: FlaskClient
) -> None:
    stock_needle(stripe_app)
    add_to_cart(client, 2)
    response = checkout(client, vat_id="DE136695977", **GERMAN)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "That is not a valid VAT ID: the check digits of DE136695977 do not match." in page
    assert 'value="DE136695977"' in page
    response = checkout(client, vat_id="ATU13585627")  # Austrian, shipping to Spain
    assert response.status_code == 422
    assert (
        "This VAT ID is from Austria; the order ships to Spain. Enter a Spanish VAT ID or "
        "leave it empty."
    ) in response.get_data(as_text=True)
    with stripe_app.app_context():
        assert db.session.query(Order).count() == 0


def test_a_domestic_business_pays_german_vat_and_stripe_charges_the_gross(
    stripe_app: Flask, client: FlaskClient, stripe_standin: StripeStandIn
) -> None:
    stock_needle(stripe_app)
    add_to_cart(client, 3)
    response = checkout(client, vat_id="de 136 695 976", **GERMAN)
    assert response.status_code == 303
    order = only_order(stripe_app)
    # 3 packs at $30.00 and $15.00 shipping, 19 %: $17.10 and $2.85.
    assert (order.tax_treatment, order.tax_rate, order.buyer_vat_id) == (
        "domestic",
        1900,
        "DE136695976",
    )
    assert (order.subtotal, order.shipping_amount, order.tax_amount, order.total) == (
        9000,
        1500,
        1995,
        12495,
    )
    session = stripe_standin.sessions[order.stripe_session_id]
    vat = session.params["line_items"][-1]["price_data"]
    assert vat["product_data"]["name"] == "VAT 19 % (Germany)" and vat["unit_amount"] == "1995"
    assert session["amount_total"] == order.total
    page = client.get(f"/orders/{order.token}").get_data(as_text=True)
    assert "VAT 19 % (Germany)" in page and "$19.95" in page and "$124.95" in page
    assert "DE136695976" in page


def test_an_eu_business_with_a_valid_vat_id_is_reverse_charged(
    stripe_app: Flask, client: FlaskClient, stripe_standin: StripeStandIn
) -> None:
    stock_needle(stripe_app)
    add_to_cart(client, 3)
    checkout(client, vat_id="ATU13585627", country="AT")
    order = only_order(stripe_app)
    assert (order.tax_treatment, order.tax_amount, order.total) == ("reverse_charge", 0, 10500)
    session = stripe_standin.sessions[order.stripe_session_id]
    assert len(session.params["line_items"]) == 1  # no VAT line
    assert session["amount_total"] == 10500
    page = client.get(f"/orders/{order.token}").get_data(as_text=True)
    assert "Reverse charge: VAT to be accounted for by the recipient" in page


def test_an_eu_consumer_pays_the_rate_of_their_country_and_exports_pay_none(
    stripe_app: Flask, client: FlaskClient
) -> None:
    stock_needle(stripe_app)
    add_to_cart(client, 3)
    page = client.get("/cart").get_data(as_text=True)
    assert "VAT 19 % (Germany), worked out at checkout from the shipping country" in page
    checkout(client, country="HU", payment_method="bank_transfer")
    order = only_order(stripe_app)
    assert (order.tax_treatment, order.tax_rate, order.tax_amount) == ("eu_distance", 2700, 2835)
    with stripe_app.app_context():
        mail = db.session.scalars(select(OutboxEmail)).one()
        assert "Net: $105.00\nVAT 27 % (Hungary): $28.35\nTotal: $133.35" in mail.body_text
        assert "Please transfer $133.35" in mail.body_text
    add_to_cart(client, 3)
    checkout(client, country="CH", email="other@clinic.example", payment_method="bank_transfer")
    with stripe_app.app_context():
        export = db.session.query(Order).filter_by(country="CH").one()
        assert (export.tax_treatment, export.tax_amount, export.total) == ("export", 0, 10500)
