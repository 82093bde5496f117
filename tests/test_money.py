"""One way to read an amount a person types, and one way to show it, everywhere."""

from __future__ import annotations

import pytest

from shop.money import format_money, parse_amount, per_unit


@pytest.mark.parametrize(
    ("typed", "cents"),
    [
        ("45", 4500),
        ("45.00", 4500),
        ("45.5", 4550),
        (" 0.01 ", 1),
        ("12,50", 1250),
        ("12,5", 1250),
        ("1,250.50", 125050),
        ("1.250,50", 125050),
        ("1 250,50", 125050),
        ("1 200.00", 120000),
        ("12,500.00", 1250000),
        ("$45.00", 4500),
        ("45.00 USD", 4500),
        ("usd 45", 4500),
    ],
)
def test_amounts_typed_every_usual_way_are_read_as_cents_without_floats(
    typed: str, cents: int
) -> None:
    assert parse_amount(typed, "usd") == cents


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("-1.00", "above zero"),
        ("0", "above zero"),
        ("0.00", "above zero"),
        ("1e3", "like 45.00"),
        ("abc", "like 45.00"),
        ("", "like 45.00"),
        ("12.", "like 45.00"),
        ("12.345", "could be read two ways"),
        ("1,250", "could be read two ways: write 1250"),
        ("1.250", "could be read two ways"),
        ("1.250.50", "like 45.00"),
        ("1,25,0", "like 45.00"),
        ("nan", "like 45.00"),
        ("²", "like 45.00"),
        ("１２", "like 45.00"),
        ("12\x0050", "like 45.00"),
        ("9" * 10_000, "like 45.00"),
        ("1000000.00", r"at most \$999,999\.99"),
    ],
)
def test_what_is_not_an_amount_is_refused_with_a_sentence(typed: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_amount(typed, "usd")


def test_zero_is_an_amount_where_it_is_allowed() -> None:
    assert parse_amount("0", "usd", allow_zero=True) == 0
    with pytest.raises(ValueError, match="Enter zero or an amount above it"):
        parse_amount("-5", "usd", allow_zero=True)


def test_currencies_without_a_minor_unit_take_whole_amounts() -> None:
    assert parse_amount("4500", "jpy") == 4500
    assert parse_amount("¥1,250,000", "jpy") == parse_amount("1.250.000", "jpy") == 1250000
    with pytest.raises(ValueError, match="like 4500"):
        parse_amount("45.00", "jpy")


@pytest.mark.parametrize(
    ("cents", "currency", "shown"),
    [
        (5850, "usd", "$58.50"),
        (600000, "usd", "$6,000.00"),
        (4500, "jpy", "JPY 4,500"),
        (-100, "eur", "-€1.00"),
    ],
)
def test_money_reads_as_money(cents: int, currency: str, shown: str) -> None:
    assert format_money(cents, currency) == shown


def test_money_is_never_a_float() -> None:
    with pytest.raises(TypeError):
        format_money(12.5, "usd")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("cents", "needles", "each"),
    [(750, 20, 38), (3000, 100, 30), (2760, 100, 28), (690, 20, 35), (1, 3, 0), (5, 10, 1)],
)
def test_a_pack_price_per_needle_rounds_half_up_to_a_cent(
    cents: int, needles: int, each: int
) -> None:
    assert per_unit(cents, needles) == each


def test_a_pack_without_needles_has_no_price_per_needle() -> None:
    with pytest.raises(ValueError):
        per_unit(750, 0)
