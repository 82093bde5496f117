"""Sign-in, registration, the account's details, addresses and password forms."""

from __future__ import annotations

from typing import Any

from stdnum.eu import vat
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import EqualTo, InputRequired, Length, Optional, StopValidation

from shop.countries import COUNTRIES
from shop.forms import ASCIIAddress, ShopForm, email_field, strip


class LoginForm(ShopForm):
    email = EmailField(
        "Email",
        validators=[InputRequired("Enter your email address."), ASCIIAddress(), Length(max=254)],
        render_kw={"autocomplete": "username"},
    )
    password = PasswordField(
        "Password",
        validators=[InputRequired("Enter your password."), Length(max=200)],
        render_kw={"autocomplete": "current-password"},
    )


def _new_password(label: str = "Password") -> PasswordField:
    return PasswordField(
        label,
        validators=[
            InputRequired("Choose a password."),
            Length(min=12, max=200, message="Use at least 12 characters."),
        ],
        render_kw={"autocomplete": "new-password"},
    )


def _repeat(of: str) -> PasswordField:
    return PasswordField(
        "Repeat the password",
        validators=[
            InputRequired("Repeat the password."),
            EqualTo(of, message="The two passwords differ."),
        ],
        render_kw={"autocomplete": "new-password"},
    )


class ValidVatId:
    """A WTForms validator: an EU VAT ID with its country's format and check digits
    (offline, python-stdnum), stored in its compact form (DE136695976)."""

    def __call__(self, form: Any, field: Any) -> None:
        raw = str(field.data or "").strip()
        if not raw:
            return
        try:
            field.data = vat.validate(raw)
        except Exception:  # stdnum raises its own ValidationError subclasses
            raise StopValidation(
                "That is not a valid EU VAT ID: check the country prefix and the digits "
                "(for example DE136695976)."
            ) from None


class DetailsFields(ShopForm):
    """What a buyer says about themselves and their clinic."""

    name = StringField(
        "Your name",
        filters=[strip],
        validators=[InputRequired("Enter your name."), Length(max=120)],
        render_kw={"autocomplete": "name"},
    )
    company = StringField(
        "Clinic or company",
        filters=[strip],
        validators=[InputRequired("Enter your clinic or company."), Length(max=160)],
        render_kw={"autocomplete": "organization"},
    )
    phone = StringField(
        "Phone",
        filters=[strip],
        validators=[Optional(), Length(max=40)],
        render_kw={"autocomplete": "tel"},
    )
    country = SelectField(
        "Country",
        choices=[SelectChoice("", "Choose a country"), *COUNTRIES],
        validators=[InputRequired("Choose your country.")],
        render_kw={"autocomplete": "country"},
    )
    vat_id = StringField(
        "VAT ID (optional)",
        filters=[strip],
        validators=[Optional(), Length(max=20), ValidVatId()],
    )
    licence_number = StringField(
        "Professional registration or licence number",
        filters=[strip],
        validators=[Optional(), Length(max=80)],
    )


class RegisterForm(DetailsFields):
    email = email_field("name@clinic.com", render_kw={"autocomplete": "email"})
    password = _new_password()
    confirm = _repeat("password")


class ForgotForm(ShopForm):
    email = EmailField(
        "Email",
        validators=[InputRequired("Enter your email address."), ASCIIAddress(), Length(max=254)],
        render_kw={"autocomplete": "email"},
    )


class ResetForm(ShopForm):
    password = _new_password("New password")
    confirm = _repeat("password")


class PasswordChangeForm(ShopForm):
    current_password = PasswordField(
        "Current password",
        validators=[InputRequired("Enter your current password."), Length(max=200)],
        render_kw={"autocomplete": "current-password"},
    )
    new_password = _new_password("New password")
    confirm = _repeat("new_password")


class AddressForm(ShopForm):
    label = StringField(
        "Name for this address (optional)",
        filters=[strip],
        validators=[Optional(), Length(max=60)],
    )
    contact_name = StringField(
        "Recipient",
        filters=[strip],
        validators=[InputRequired("Enter who receives the parcel."), Length(max=120)],
        render_kw={"autocomplete": "shipping name"},
    )
    company = StringField(
        "Clinic or company",
        filters=[strip],
        validators=[Optional(), Length(max=160)],
        render_kw={"autocomplete": "shipping organization"},
    )
    phone = StringField(
        "Phone",
        filters=[strip],
        validators=[Optional(), Length(max=40)],
        render_kw={"autocomplete": "shipping tel"},
    )
    street_address = TextAreaField(
        "Address",
        validators=[
            InputRequired("Enter the address: street, postcode and town."),
            Length(min=10, max=600, message="Enter the full address: street, postcode and town."),
        ],
        render_kw={"autocomplete": "shipping street-address"},
    )
    country = SelectField(
        "Country",
        choices=[SelectChoice("", "Choose a country"), *COUNTRIES],
        validators=[InputRequired("Choose the country.")],
        render_kw={"autocomplete": "shipping country"},
    )
    is_default = BooleanField("Use this address at checkout unless I choose another")


class CloseForm(ShopForm):
    password = PasswordField(
        "Your password",
        validators=[InputRequired("Enter your password to close the account."), Length(max=200)],
        render_kw={"autocomplete": "current-password"},
    )


class VerificationForm(ShopForm):
    note = TextAreaField(
        "Note to the buyer (needed when refusing)",
        filters=[strip],
        validators=[Optional(), Length(max=1000)],
    )
