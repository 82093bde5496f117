"""The buyer's details at checkout."""

from __future__ import annotations

from wtforms import Field, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from shop.countries import COUNTRIES
from shop.forms import ShopForm, email_field
from shop.tax import InvalidVatId, check_vat_id

# The fields a buyer typed, kept in the session while they pay at Stripe so that a cancel
# brings them back filled; the payment method is chosen again, a card never reaches us.
REMEMBERED = (
    "email",
    "contact_name",
    "company",
    "phone",
    "shipping_address",
    "country",
    "vat_id",
)


class CheckoutForm(ShopForm):
    email = email_field("name@clinic.com", render_kw={"autocomplete": "email"})
    contact_name = StringField(
        "Your name",
        validators=[InputRequired("Enter your name."), Length(max=120)],
        render_kw={"autocomplete": "name"},
    )
    company = StringField(
        "Clinic or company",
        validators=[Optional(), Length(max=160)],
        render_kw={"autocomplete": "organization"},
    )
    phone = StringField(
        "Phone", validators=[Optional(), Length(max=40)], render_kw={"autocomplete": "tel"}
    )
    shipping_address = TextAreaField(
        "Shipping address",
        validators=[
            InputRequired("Enter the address we ship to."),
            Length(min=10, max=600, message="Enter the full address: street, postcode and town."),
        ],
        # One box for street, postcode and town: the token for a whole address.
        render_kw={"autocomplete": "shipping street-address"},
    )
    country = SelectField(
        "Country",
        choices=[SelectChoice("", "Choose a country"), *COUNTRIES],
        validators=[InputRequired("Choose the country we ship to.")],
        render_kw={"autocomplete": "shipping country"},
    )
    # Pre-filled from the buyer's account when it has one; checked offline (format and check
    # digits) against the country the order ships to.
    vat_id = StringField(
        "VAT ID (EU businesses)",
        validators=[Optional(), Length(max=40)],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
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

    def validate_vat_id(self, field: Field) -> None:
        """A VAT ID of the country the order ships to, kept compact (`DE136695976`)."""
        if not field.data or not self.country.data:
            return
        try:
            field.data = check_vat_id(field.data, self.country.data)
        except InvalidVatId as exc:
            raise ValidationError(str(exc)) from None
