"""The distributor's request form, the accept and decline forms, and the staff's answer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from wtforms import (
    BooleanField,
    FieldList,
    FormField,
    HiddenField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional
from wtforms.widgets import NumberInput

from shop.countries import COUNTRIES
from shop.forms import DateInput, ShopForm, SubForm, email_field, strip
from shop.input_guard import whole_number
from shop.money import parse_amount
from shop.quotes.models import BusinessType, Supply
from shop.quotes.services import LineSupply

MAX_LINES = 30
# Packs on one line of a request: a year of a large distributor's needs. Priced at most
# at the shop's largest amount per pack, the total is still checked when staff answer.
MAX_PACKS = 100_000

BUSINESS_TYPES = {
    BusinessType.DISTRIBUTOR: "Distributor",
    BusinessType.CLINIC_CHAIN: "Clinic chain",
    BusinessType.OTHER: "Other",
}


class QuoteLineForm(SubForm):
    """One line: a catalogue SKU or a free-text item, in packs. A line left empty is
    dropped."""

    sku = StringField("Catalogue SKU", validators=[Length(max=64)], filters=[strip])
    description = StringField("Or describe the item", validators=[Length(max=500)], filters=[strip])
    quantity = StringField(
        "Packs",
        validators=[Length(max=12)],
        filters=[strip],
        widget=NumberInput(min=1, step=1),
    )
    private_label = BooleanField("Private label (your brand on the packs)")
    note = StringField("Note for this line", validators=[Length(max=1000)], filters=[strip])

    def is_blank(self) -> bool:
        return not (self.sku.data or self.description.data or self.quantity.data or self.note.data)

    def packs(self) -> int | None:
        """The quantity typed, when it is a whole number of packs in range."""
        return whole_number(self.quantity.data, low=1, high=MAX_PACKS)


class QuoteRequestForm(ShopForm):
    company = StringField(
        "Company",
        validators=[InputRequired("Enter your company's name."), Length(max=160)],
        filters=[strip],
    )
    contact_name = StringField(
        "Contact name",
        validators=[InputRequired("Enter the name of the person we answer."), Length(max=120)],
        filters=[strip],
    )
    email = email_field("name@company.com", filters=[strip])
    phone = StringField(
        "Phone",
        validators=[InputRequired("Enter a phone number we can call."), Length(max=40)],
        filters=[strip],
    )
    country = SelectField(
        "Country",
        choices=[SelectChoice("", "Choose a country"), *COUNTRIES],
        validators=[InputRequired("Choose the country we ship to.")],
    )
    business_type = SelectField(
        "Type of business",
        choices=[
            SelectChoice("", "Choose one"),
            *(SelectChoice(k.value, label) for k, label in BUSINESS_TYPES.items()),
        ],
        validators=[InputRequired("Choose the type of your business.")],
    )
    vat_number = StringField(
        "VAT or tax number (optional)", validators=[Optional(), Length(max=40)], filters=[strip]
    )
    message = TextAreaField(
        "Message (optional)", validators=[Optional(), Length(max=5000)], filters=[strip]
    )
    lines = FieldList(FormField(QuoteLineForm), min_entries=1, max_entries=MAX_LINES)
    # The honeypot: hidden from people and assistive technology, filled by bots.
    website = StringField("Leave this field empty", filters=[strip])

    lines_error: str | None = None

    def add_line(self) -> bool:
        """One more empty line, up to MAX_LINES; False when the form is full."""
        if len(self.lines.entries) >= MAX_LINES:
            self.lines_error = f"A request holds at most {MAX_LINES} lines."
            return False
        entry = self.lines.append_entry()
        entry.form.sku.render_kw = {"autofocus": True}
        return True

    def validate(self, extra_validators: Mapping[str, Sequence[Any]] | None = None) -> bool:
        valid = bool(super().validate(extra_validators))
        filled = [entry.form for entry in self.lines.entries if not entry.form.is_blank()]
        if not filled:
            self.lines_error = "Add at least one line: a catalogue SKU or an item you describe."
            return False
        for line in filled:
            if not line.sku.data and not line.description.data:
                line.sku.errors = [
                    *line.sku.errors,
                    "Enter a catalogue SKU or describe the item in the next field.",
                ]
                valid = False
            if line.packs() is None:
                line.quantity.errors = [
                    *line.quantity.errors,
                    f"Enter a whole number of packs, from 1 to {MAX_PACKS:,}.",
                ]
                valid = False
        return valid

    def field_for(self, key: str) -> Any:
        """The field a service's error key names: `email` or `lines-2-sku`."""
        if key.startswith("lines-"):
            _, index, name = key.split("-", 2)
            return getattr(self.lines.entries[int(index)].form, name)
        return getattr(self, key)


class AcceptForm(ShopForm):
    """Accepting carries no prices: the order is made from the stored quote."""

    payment_method = RadioField(
        "Payment",
        choices=[
            SelectChoice("card", "Card (Stripe Checkout)"),
            SelectChoice("bank_transfer", "Bank transfer"),
        ],
        default="bank_transfer",
        validators=[InputRequired("Choose how you will pay.")],
    )
    # The version of the quote the buyer read: an accept of an older one is refused.
    version = HiddenField()
    shipping_address = TextAreaField(
        "Shipping address",
        validators=[
            InputRequired("Enter the address we ship to."),
            Length(min=10, max=600, message="Enter the full address: street, postcode and town."),
        ],
        filters=[strip],
    )


class DeclineForm(ShopForm):
    reason = TextAreaField(
        "Why do you decline?",
        # DataRequired: a reason of spaces only is empty once stripped.
        validators=[DataRequired("Tell us why, so we can do better."), Length(max=2000)],
        filters=[strip],
    )


class RevisionRequestForm(ShopForm):
    """The distributor asks staff to revise a quote that cannot be accepted as it stands."""

    message = TextAreaField(
        "Anything we should know (optional)",
        validators=[Optional(), Length(max=2000)],
        filters=[strip],
    )


class AnswerForm(ShopForm):
    """The staff's prices: one unit price per line (in the quote's order), shipping, a
    validity date and a note."""

    prices = FieldList(StringField("Price per pack", filters=[strip]))
    # Per line: in stock, partly backordered or made to order; packs from stock; the date
    # the rest ship. A form without them (an older page) leaves the stock's suggestion.
    supply = FieldList(StringField("Supply", filters=[strip]))
    quantities = FieldList(StringField("Packs", filters=[strip]))  # a revision only
    ships_now = FieldList(StringField("Packs from stock", filters=[strip]))
    rest_ships_on = FieldList(StringField("The rest ship by", filters=[strip]))
    shipping = StringField(
        "Shipping", validators=[InputRequired("Enter the shipping amount (0 for free).")]
    )
    valid_until = DateInput(
        "Valid until", validators=[InputRequired("Choose the last day the quote holds.")]
    )
    staff_note = TextAreaField(
        "Note to the distributor (optional)",
        validators=[Optional(), Length(max=5000)],
        filters=[strip],
    )

    def amounts(self, currency: str) -> tuple[list[int], int] | None:
        """Unit prices and shipping in cents, or None with the errors set on the fields."""
        unit_amounts: list[int] = []
        ok = True
        for entry in self.prices.entries:
            try:
                cents = parse_amount(entry.data, currency)
            except ValueError as exc:
                entry.errors = [str(exc) if entry.data else "Enter the price of one pack."]
                cents, ok = 0, False
            unit_amounts.append(cents)
        try:
            shipping = parse_amount(self.shipping.data, currency, allow_zero=True)
        except ValueError as exc:
            self.shipping.errors = [f"{str(exc).rstrip('.')}, or 0 for free shipping."]
            return None
        return (unit_amounts, shipping) if ok else None

    def packs(self, count: int) -> list[int] | None:
        """The packs per line of a revision (`quantities-<i>`), or None with the errors set."""
        found: list[int] = []
        for i in range(count):
            entry = self._entry(self.quantities, i)
            packs = whole_number(entry.data if entry is not None else "", low=1, high=MAX_PACKS)
            if packs is None:
                if entry is not None:
                    entry.errors = [f"Enter a whole number of packs, from 1 to {MAX_PACKS:,}."]
                return None
            found.append(packs)
        return found

    def supplies(self, quantities: Sequence[int]) -> list[LineSupply] | None:
        """What ships now and later per line, or None when the form did not say. Entries
        that cannot be read get their error and a placeholder the service refuses."""
        if not self.supply.entries:
            return None
        result: list[LineSupply] = []
        for i, quantity in enumerate(quantities):
            choice = self._entry(self.supply, i)
            try:
                supply = Supply(choice.data if choice is not None else "")
            except ValueError:
                if choice is not None:
                    choice.errors = ["Choose in stock, partly backordered or made to order."]
                return None
            now = self._entry(self.ships_now, i)
            packs = whole_number(now.data if now is not None else "", low=0, high=quantity)
            if supply is Supply.BACKORDERED and packs is None and now is not None:
                now.errors = [f"Enter the packs shipped from stock, from 1 to {quantity - 1}."]
                return None
            when = self._entry(self.rest_ships_on, i)
            rest: date | None = None
            if when is not None and when.data:
                try:
                    rest = date.fromisoformat(when.data)
                except ValueError:
                    when.errors = ["Enter a date like 2027-03-15."]
                    return None
            result.append(LineSupply(supply, packs or 0, rest))
        return result

    @staticmethod
    def _entry(field: FieldList, index: int) -> Any:
        """The entry posted for line `index` (by its name: a form may leave some out)."""
        name = f"{field.name}-{index}"
        return next((entry for entry in field.entries if entry.name == name), None)

    def entry_for(self, key: str) -> Any:
        """The entry a service's error key names (`ships_now-0`), or None when not posted."""
        name, index = key.rsplit("-", 1)
        return self._entry(getattr(self, name), int(index))


class StaffDeclineForm(ShopForm):
    reason = TextAreaField(
        "Reason (kept in the history)",
        validators=[DataRequired("Give a reason."), Length(max=2000)],
        filters=[strip],
    )
