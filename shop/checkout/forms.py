"""The buyer's details at checkout."""

from __future__ import annotations

from wtforms import EmailField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional

from shop.countries import COUNTRIES
from shop.forms import EmailAddress, ShopForm


class CheckoutForm(ShopForm):
    email = EmailField(
        "Email",
        validators=[
            InputRequired("Enter your email address."),
            EmailAddress("name@clinic.com"),
            Length(max=254),
        ],
    )
    contact_name = StringField(
        "Your name", validators=[InputRequired("Enter your name."), Length(max=120)]
    )
    company = StringField("Clinic or company", validators=[Optional(), Length(max=160)])
    phone = StringField("Phone", validators=[Optional(), Length(max=40)])
    shipping_address = TextAreaField(
        "Shipping address",
        validators=[
            InputRequired("Enter the address we ship to."),
            Length(min=10, max=600, message="Enter the full address: street, postcode and town."),
        ],
    )
    country = SelectField(
        "Country",
        choices=[SelectChoice("", "Choose a country"), *COUNTRIES],
        validators=[InputRequired("Choose the country we ship to.")],
    )
    payment_method = RadioField(
        "Payment",
        choices=[
            SelectChoice("card", "Card (Stripe Checkout)"),
            SelectChoice("bank_transfer", "Bank transfer"),
        ],
        default="card",
        validators=[InputRequired("Choose how you will pay.")],
    )
