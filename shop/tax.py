"""VAT of a sale from the seller's country: which treatment applies and how much, per line.

Pure functions over integer cents and rates in basis points (1900 = 19 %); no Flask. The
shop's settings hold the rates (`Settings.tax_rules()`); checkout and quote acceptance ask
`work_out` for the tax of an order, the pages and documents show what it decided.

Rules (seller in an EU member state, its own rate at home):

- domestic (destination = seller country): the seller's rate, for consumers and businesses
  alike (a VAT ID is recorded but changes nothing);
- another EU member state, with a valid VAT ID of that state: reverse charge, no VAT;
- another EU member state without one: that state's rate (distance sale, OSS);
- anywhere else: export, no VAT.

Shipping is taxed like the goods. Each line's tax and the shipping's tax are rounded half up
to the cent on their own; the order's tax is their sum.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

import pycountry
from stdnum import exceptions as stdnum_errors
from stdnum.eu import vat as eu_vat

from shop.config import EU_STANDARD_RATES, Settings

EU_MEMBERS = frozenset(EU_STANDARD_RATES)

# What a VAT ID of each member state is called in "Enter a French VAT ID".
_ADJECTIVES = {
    "AT": "Austrian",
    "BE": "Belgian",
    "BG": "Bulgarian",
    "CY": "Cypriot",
    "CZ": "Czech",
    "DE": "German",
    "DK": "Danish",
    "EE": "Estonian",
    "ES": "Spanish",
    "FI": "Finnish",
    "FR": "French",
    "GR": "Greek",
    "HR": "Croatian",
    "HU": "Hungarian",
    "IE": "Irish",
    "IT": "Italian",
    "LT": "Lithuanian",
    "LU": "Luxembourg",
    "LV": "Latvian",
    "MT": "Maltese",
    "NL": "Dutch",
    "PL": "Polish",
    "PT": "Portuguese",
    "RO": "Romanian",
    "SE": "Swedish",
    "SI": "Slovenian",
    "SK": "Slovak",
}

REVERSE_CHARGE_NOTE = (
    "Reverse charge: VAT to be accounted for by the recipient "
    "(Art. 196 Council Directive 2006/112/EC)"
)
EXPORT_NOTE = "Tax-free export delivery (§ 4 No. 1a UStG)"


class Treatment(enum.StrEnum):
    DOMESTIC = "domestic"
    EU_DISTANCE = "eu_distance"
    REVERSE_CHARGE = "reverse_charge"
    EXPORT = "export"


class InvalidVatId(ValueError):
    """A VAT ID that cannot be used for this order; the message is for the buyer."""


def country_name(code: str) -> str:
    """`DE` → `Germany`, `NL` → `Netherlands` (the common name where one exists)."""
    country = pycountry.countries.get(alpha_2=code.upper()) if len(code) == 2 else None
    if country is None:
        return code
    return str(getattr(country, "common_name", None) or country.name)


def rate_label(rate: int) -> str:
    """1900 → `19 %`, 2550 → `25.5 %`."""
    percent = (Decimal(rate) / 100).normalize()
    return f"{percent:f} %"


def tax_of(net: int, rate: int) -> int:
    """VAT in cents of a net amount in cents at `rate` basis points, rounded half up."""
    exact = Decimal(net) * Decimal(rate) / Decimal(10_000)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def vat_country(vat_id: str) -> str:
    """The ISO country code of a compact VAT ID: its prefix, with Greece's EL as GR."""
    prefix = vat_id[:2].upper()
    return "GR" if prefix == "EL" else prefix


def _adjective(country: str) -> str:
    return _ADJECTIVES.get(country, country_name(country))


def check_vat_id(raw: str, destination: str) -> str:
    """The VAT ID as recorded on the order (compact, e.g. `DE136695976`), or "" when none.

    For a delivery into the EU it must be a well-formed EU VAT ID (format and check digits,
    checked offline) of the destination country; InvalidVatId says what is wrong. For a
    delivery outside the EU (an export, never taxed) it is recorded as given.
    """
    text = " ".join(raw.split())
    if not text:
        return ""
    destination = destination.upper()
    if destination not in EU_MEMBERS:
        return text[:40]
    try:
        compact = str(eu_vat.validate(text))
    except stdnum_errors.InvalidChecksum:
        raise InvalidVatId(
            f"That is not a valid VAT ID: the check digits of {text} do not match."
        ) from None
    except stdnum_errors.InvalidLength:
        raise InvalidVatId(
            f"That is not a valid VAT ID: {text} has the wrong number of characters."
        ) from None
    except stdnum_errors.ValidationError:
        raise InvalidVatId(
            f"That is not a valid VAT ID: {text} does not start with an EU country code "
            "followed by the number in its country's format."
        ) from None
    if compact.startswith("GR"):  # Greece's VAT IDs carry EL, not its country code
        compact = "EL" + compact[2:]
    issuer = vat_country(compact)
    if issuer not in EU_MEMBERS:
        raise InvalidVatId(f"That is not a valid VAT ID: {text} is not from an EU member state.")
    if issuer != destination:
        raise InvalidVatId(
            f"This VAT ID is from {country_name(issuer)}; the order ships to "
            f"{country_name(destination)}. Enter a {_adjective(destination)} VAT ID or "
            "leave it empty."
        )
    return compact


def valid_for(vat_id: str, destination: str) -> bool:
    """Whether `vat_id` is a valid VAT ID of the EU member state `destination`."""
    if not vat_id or destination.upper() not in EU_MEMBERS:
        return False
    try:
        return check_vat_id(vat_id, destination) != ""
    except InvalidVatId:
        return False


def rules(settings: Settings) -> TaxRules:
    """The VAT rules of the shop's settings (SHOP_SELLER_COUNTRY, SHOP_VAT_RATES, ...)."""
    return TaxRules(
        seller_country=settings.seller_country,
        seller_vat_id=settings.seller_vat_id,
        rates=dict(settings.vat_rates),
    )


@dataclass(frozen=True)
class TaxRules:
    """The seller's country and VAT ID and the standard rate of every EU member state."""

    seller_country: str = "DE"
    seller_vat_id: str = "DE136695976"
    rates: Mapping[str, int] = field(default_factory=lambda: dict(EU_STANDARD_RATES))

    @property
    def seller_rate(self) -> int:
        return self.rates[self.seller_country]

    def treatment(self, destination: str, vat_id: str) -> Treatment:
        """How a delivery to `destination` for a buyer with `vat_id` ("" for none) is taxed."""
        destination = destination.upper()
        if destination == self.seller_country:
            return Treatment.DOMESTIC
        if destination not in self.rates:
            return Treatment.EXPORT
        if valid_for(vat_id, destination):
            return Treatment.REVERSE_CHARGE
        return Treatment.EU_DISTANCE

    def rate(self, destination: str, treatment: Treatment) -> int:
        """The rate in basis points that applies: 0 under reverse charge and for exports."""
        if treatment is Treatment.DOMESTIC:
            return self.seller_rate
        if treatment is Treatment.EU_DISTANCE:
            return self.rates[destination.upper()]
        return 0


@dataclass(frozen=True)
class Tax:
    """The VAT of one order (or one cart, as an estimate): per line, on shipping, in all."""

    treatment: Treatment
    rate: int  # basis points
    country: str  # the destination whose rate applies (the seller's for domestic)
    line_taxes: tuple[int, ...]
    shipping_tax: int
    buyer_vat_id: str = ""

    @property
    def amount(self) -> int:
        """The order's VAT: the sum of the rounded line and shipping taxes."""
        return sum(self.line_taxes) + self.shipping_tax

    @property
    def label(self) -> str:
        return label(self.treatment, self.rate, self.country)

    @property
    def note(self) -> str:
        return note(self.treatment)


def label(treatment: Treatment | str, rate: int, country: str) -> str:
    """What the VAT line is called: `VAT 19 % (Germany)`, `Reverse charge`, `Export: no VAT`."""
    treatment = Treatment(treatment)
    if treatment is Treatment.REVERSE_CHARGE:
        return "Reverse charge"
    if treatment is Treatment.EXPORT:
        return "Export: no VAT"
    return f"VAT {rate_label(rate)} ({country_name(country)})"


def note(treatment: Treatment | str) -> str:
    """The legal note an invoice carries for this treatment ("" when none is needed)."""
    treatment = Treatment(treatment)
    if treatment is Treatment.REVERSE_CHARGE:
        return REVERSE_CHARGE_NOTE
    if treatment is Treatment.EXPORT:
        return EXPORT_NOTE
    return ""


def work_out(
    rules: TaxRules,
    *,
    destination: str,
    vat_id: str,
    line_nets: Sequence[int],
    shipping: int,
) -> Tax:
    """The VAT of a delivery to `destination`: each line's net (unit amount × packs) and the
    shipping taxed at the rate that applies, each rounded half up to the cent."""
    destination = destination.upper()
    treatment = rules.treatment(destination, vat_id)
    rate = rules.rate(destination, treatment)
    country = rules.seller_country if treatment is Treatment.DOMESTIC else destination
    return Tax(
        treatment=treatment,
        rate=rate,
        country=country,
        line_taxes=tuple(tax_of(net, rate) for net in line_nets),
        shipping_tax=tax_of(shipping, rate),
        buyer_vat_id=vat_id,
    )


def share(line_tax: int, quantity: int, packs: int) -> int:
    """The part of a line's VAT that `packs` of its `quantity` packs carry, rounded half up
    (all its packs carry all of it)."""
    if quantity <= 0 or packs <= 0:
        return 0
    return (2 * line_tax * packs + quantity) // (2 * quantity)
