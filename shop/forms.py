"""Form fields every part of the shop uses: text boxes parsed into numbers and money that
keep what was typed and say one clear thing when it is wrong, and the strip filter."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_wtf import FlaskForm
from wtforms import DateField, EmailField, Form, StringField
from wtforms.validators import InputRequired, Length, StopValidation, ValidationError

from shop.money import decimal_amount, parse_amount


class ShopForm(FlaskForm):  # type: ignore[misc]  # Flask-WTF ships no type information
    """Every form a person sends: bound to the request's data, with Flask-WTF's CSRF token."""


class SubForm(Form):  # type: ignore[misc]  # WTForms ships no type information
    """Fields repeated inside a ShopForm (a FieldList or FormField entry), or a form of query
    parameters: no CSRF token of its own."""


def show_errors(
    form: Form, errors: dict[str, str], *, aliases: dict[str, str] | None = None
) -> None:
    """Put a service's errors next to the fields they name (or above the form)."""
    for name, message in errors.items():
        field = getattr(form, (aliases or {}).get(name, name), None)
        if field is None:
            form.form_errors.append(message)
        else:
            field.errors = [*field.errors, message]


EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2999, 12, 31)


class DateInput(DateField):  # type: ignore[misc]  # WTForms ships no type information
    """A date field that echoes back only a valid date: a date input cannot show other text.

    Dates outside EARLIEST_DATE..LATEST_DATE are refused with a message: no lot, order or
    quote has one, and a day after 9999-12-31 cannot be computed (a filter "up to and
    including" a day adds one)."""

    def pre_validate(self, form: Any) -> None:
        if isinstance(self.data, date) and not EARLIEST_DATE <= self.data <= LATEST_DATE:
            raise StopValidation(
                f"Enter a date between {EARLIEST_DATE.year} and {LATEST_DATE.year}."
            )

    def _value(self) -> str:
        return self.data.isoformat() if isinstance(self.data, date) else ""


def strip(value: Any) -> Any:
    """A WTForms filter: text without surrounding white space; anything else as it is."""
    return value.strip() if isinstance(value, str) else value


PLAIN_ADDRESS = (
    "Use an address written in plain letters (a to z, digits, dots and dashes) before the @: "
    "mail cannot be delivered to this one."
)


class ASCIIAddress:
    """A WTForms validator: an address whose part before the @ is plain ASCII. Others can
    only be delivered by servers with SMTPUTF8, which the shop's mail does not rely on; the
    part after it may be internationalised (it is sent in its IDNA form). For sign-in,
    where a stored address is only looked up, not checked again."""

    def __call__(self, form: Any, field: Any) -> None:
        local = str(field.data or "").rpartition("@")[0]
        if not local.isascii():
            raise StopValidation(PLAIN_ADDRESS)


class EmailAddress(ASCIIAddress):
    """A WTForms validator: an address the shop can send mail to (a plain part before the @,
    a domain that could exist); `example` shows what an address looks like."""

    def __init__(self, example: str) -> None:
        self.message = f"Enter an email address like {example}."

    def __call__(self, form: Any, field: Any) -> None:
        super().__call__(form, field)
        try:
            validate_email(str(field.data or ""), check_deliverability=False, allow_smtputf8=False)
        except EmailNotValidError:
            raise ValidationError(self.message) from None


def email_field(example: str, **kwargs: Any) -> Any:
    """The email box every form asks for an address with: required, one the shop can send
    mail to (`example` shows what one looks like), at most 254 characters."""
    return EmailField(
        "Email",
        validators=[
            InputRequired("Enter your email address."),
            EmailAddress(example),
            Length(max=254),
        ],
        **kwargs,
    )


def shop_currency() -> str:
    return str(current_app.config["SHOP_SETTINGS"].currency)


class TypedField(StringField):  # type: ignore[misc]  # WTForms ships no type information
    """A text box parsed into a value. What was typed is shown again as typed; a typo gets
    one clear message and stops the field's other checks."""

    inputmode = "decimal"

    def __init__(self, label: str, validators: Sequence[Any] = (), **kwargs: Any) -> None:
        kwargs.setdefault("render_kw", {"inputmode": self.inputmode})
        super().__init__(label, validators, **kwargs)

    def _parse(self, text: str) -> Any:
        raise NotImplementedError

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = None
        if valuelist and str(valuelist[0]).strip():
            self.data = self._parse(str(valuelist[0]).strip())

    def pre_validate(self, form: Any) -> None:
        if self.process_errors:
            raise StopValidation()

    def _value(self) -> str:
        if self.raw_data:
            return str(self.raw_data[0])
        return "" if self.data is None else self._shown(self.data)

    def _shown(self, value: Any) -> str:
        return str(value)


class WholeNumberField(TypedField):
    inputmode = "numeric"

    def _parse(self, text: str) -> int:
        if not re.fullmatch(r"-?\d{1,9}", text, re.ASCII):
            raise ValueError("Enter a whole number.")
        return int(text)


class DecimalNumberField(TypedField):
    """A number with at most two decimals, as a Decimal (parsed from the text, not a float)."""

    def _parse(self, text: str) -> Decimal:
        if not re.fullmatch(r"-?\d{1,6}(?:\.\d{1,2})?", text, re.ASCII):
            raise ValueError("Enter a number like 4 or 1.5.")
        return Decimal(text)

    def _shown(self, value: Any) -> str:
        return f"{value:g}"


class MoneyField(TypedField):
    """An amount typed in the shop's currency (`45.00`, `45,00`, `$1,250`), held as integer
    minor units; above zero, or zero too with `allow_zero`. See `money.parse_amount`."""

    def __init__(
        self,
        label: str,
        validators: Sequence[Any] = (),
        *,
        allow_zero: bool = False,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("render_kw", {"inputmode": "decimal", "autocomplete": "off"})
        super().__init__(label, validators, **kwargs)
        self.allow_zero = allow_zero

    def _parse(self, text: str) -> int:
        return parse_amount(text, shop_currency(), allow_zero=self.allow_zero)

    @property
    def cents(self) -> int:
        """The amount typed, once the form has validated (an empty box reads as zero)."""
        return int(self.data or 0)

    def _shown(self, value: Any) -> str:
        return decimal_amount(int(value), shop_currency())
