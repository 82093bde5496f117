"""VAT: which treatment a delivery gets, the amounts rounded per line, VAT IDs checked
offline, and the rates read from the environment."""

from __future__ import annotations

import pytest

from shop.config import EU_STANDARD_RATES, ConfigError, Settings
from shop.tax import (
    EXPORT_NOTE,
    REVERSE_CHARGE_NOTE,
    InvalidVatId,
    TaxRules,
    Treatment,
    check_vat_id,
    rules,
    share,
    tax_of,
    work_out,
)

RULES = TaxRules()
GERMAN_ID = "DE136695976"
AUSTRIAN_ID = "ATU13585627"
FRENCH_ID = "FR40303265045"
GREEK_ID = "EL094259216"


def test_a_german_consumer_pays_german_vat_on_goods_and_shipping() -> None:
    tax = work_out(RULES, destination="DE", vat_id="", line_nets=[10000, 4500], shipping=1500)
    assert tax.treatment is Treatment.DOMESTIC
    assert (tax.rate, tax.line_taxes, tax.shipping_tax, tax.amount) == (
        1900,
        (1900, 855),
        285,
        3040,
    )
    assert tax.label == "VAT 19 % (Germany)" and tax.note == ""


def test_a_german_business_pays_german_vat_its_id_is_only_recorded() -> None:
    tax = work_out(RULES, destination="DE", vat_id=GERMAN_ID, line_nets=[10000], shipping=0)
    assert (tax.treatment, tax.amount, tax.buyer_vat_id) == (Treatment.DOMESTIC, 1900, GERMAN_ID)


def test_an_eu_business_with_a_valid_vat_id_is_reverse_charged() -> None:
    tax = work_out(RULES, destination="AT", vat_id=AUSTRIAN_ID, line_nets=[10000], shipping=1500)
    assert (tax.treatment, tax.rate, tax.amount) == (Treatment.REVERSE_CHARGE, 0, 0)
    assert tax.label == "Reverse charge"
    assert tax.note == REVERSE_CHARGE_NOTE
    assert "Art. 196 Council Directive 2006/112/EC" in tax.note


def test_an_eu_business_without_a_valid_vat_id_pays_the_destination_rate() -> None:
    for vat_id in ("", "ATU13585628", GERMAN_ID):  # none, bad check digit, wrong country
        tax = work_out(RULES, destination="AT", vat_id=vat_id, line_nets=[10000], shipping=1500)
        assert (tax.treatment, tax.rate, tax.amount) == (Treatment.EU_DISTANCE, 2000, 2300)


def test_an_eu_consumer_pays_the_rate_of_the_country_it_ships_to() -> None:
    tax = work_out(RULES, destination="FI", vat_id="", line_nets=[10001], shipping=0)
    assert tax.treatment is Treatment.EU_DISTANCE
    assert (tax.rate, tax.amount) == (2550, 2550)  # 2550.255 rounds down
    assert tax.label == "VAT 25.5 % (Finland)"


def test_a_delivery_outside_the_eu_is_an_export_without_vat() -> None:
    tax = work_out(RULES, destination="CH", vat_id="", line_nets=[10000], shipping=1500)
    assert (tax.treatment, tax.rate, tax.amount) == (Treatment.EXPORT, 0, 0)
    assert tax.label == "Export: no VAT" and tax.note == EXPORT_NOTE


def test_vat_is_rounded_half_up_per_line_not_on_the_total() -> None:
    # 3 lines of 0.50 at 19 %: 9.5 cents each rounds to 10, so 30; on the total (150) 28.5 → 29.
    tax = work_out(RULES, destination="DE", vat_id="", line_nets=[50, 50, 50], shipping=0)
    assert tax.line_taxes == (10, 10, 10) and tax.amount == 30
    assert tax_of(150, 1900) == 29
    # Hungary, 27 %: 2 cents carry 0.54 each, 1 per line, so 5 in all; the total's 2.7 → 3.
    tax = work_out(RULES, destination="HU", vat_id="", line_nets=[2, 2, 2, 2], shipping=2)
    assert tax.amount == 5
    assert tax_of(10, 2700) == 3


def test_rounding_is_half_up_and_never_a_float() -> None:
    assert tax_of(50, 1900) == 10  # 9.5 → 10, where round-half-even would give 10 too
    assert tax_of(250, 1900) == 48  # 47.5 → 48 (round-half-even: 48)
    assert tax_of(150, 1900) == 29  # 28.5 → 29 (round-half-even: 28)
    assert tax_of(0, 1900) == 0


def test_returned_packs_carry_their_share_of_the_line_tax_rounded_half_up() -> None:
    assert share(1001, 7, 7) == 1001
    assert share(1001, 7, 1) == 143
    assert share(1001, 2, 1) == 501  # 500.5 → 501
    assert share(1001, 7, 0) == 0


def test_a_vat_id_is_compacted_and_greece_is_el() -> None:
    assert check_vat_id(" de 136 695 976 ", "DE") == GERMAN_ID
    assert check_vat_id(GREEK_ID, "GR") == GREEK_ID
    assert check_vat_id("GR094259216", "GR") == GREEK_ID
    assert check_vat_id("", "FR") == ""
    assert check_vat_id("CHE-123.456.788", "CH") == "CHE-123.456.788"  # export: recorded


def test_a_bad_vat_id_says_what_is_wrong() -> None:
    with pytest.raises(InvalidVatId, match="That is not a valid VAT ID: the check digits"):
        check_vat_id("DE136695977", "DE")
    with pytest.raises(InvalidVatId, match="That is not a valid VAT ID"):
        check_vat_id("hello", "DE")
    with pytest.raises(InvalidVatId) as raised:
        check_vat_id(AUSTRIAN_ID, "FR")
    assert str(raised.value) == (
        "This VAT ID is from Austria; the order ships to France. Enter a French VAT ID or "
        "leave it empty."
    )


def test_rates_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_VAT_RATES", "DE=16, fi=24")
    monkeypatch.setenv("SHOP_SELLER_COUNTRY", "at")
    monkeypatch.setenv("SHOP_SELLER_VAT_ID", AUSTRIAN_ID)
    settings = Settings.from_env()
    assert settings.vat_rates == {**EU_STANDARD_RATES, "DE": 1600, "FI": 2400}
    shop_rules = rules(settings)
    assert (shop_rules.seller_country, shop_rules.seller_rate) == ("AT", 2000)
    assert shop_rules.seller_vat_id == AUSTRIAN_ID
    tax = work_out(shop_rules, destination="DE", vat_id="", line_nets=[10000], shipping=0)
    assert (tax.treatment, tax.amount) == (Treatment.EU_DISTANCE, 1600)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("SHOP_VAT_RATES", "US=7", "not an EU member state"),
        ("SHOP_VAT_RATES", "DE=nineteen", "not a percentage"),
        ("SHOP_VAT_RATES", "DE=19.125", "at most two decimals"),
        ("SHOP_SELLER_COUNTRY", "CH", "SHOP_SELLER_COUNTRY"),
    ],
)
def test_a_malformed_rate_setting_is_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        Settings.from_env()


def test_the_default_rates_are_every_eu_member_state() -> None:
    assert len(EU_STANDARD_RATES) == 27
    assert EU_STANDARD_RATES["DE"] == 1900 and RULES.seller_rate == 1900
