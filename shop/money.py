"""Money as integer minor units (cents) in the shop's one currency: the one parser of
amounts people type, and the one way amounts are shown."""

from __future__ import annotations

import re

# ISO 4217 currencies Stripe treats as having no minor unit.
ZERO_DECIMAL = frozenset(
    [
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    ]
)
SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "chf": "CHF ", "cad": "CA$", "aud": "A$"}


# Stripe's largest amount, in minor units.
MAX_AMOUNT = 99_999_999


def format_money(cents: int, currency: str) -> str:
    """`4500, "usd"` → `$45.00`; integers only, never floats."""
    if not isinstance(cents, int):
        raise TypeError(f"money is integer minor units, got {type(cents).__name__}")
    code = currency.lower()
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    prefix = SYMBOLS.get(code, code.upper() + " ")
    if code in ZERO_DECIMAL:
        return f"{sign}{prefix}{cents:,}"
    return f"{sign}{prefix}{cents // 100:,}.{cents % 100:02d}"


def per_unit(cents: int, units: int) -> int:
    """The price of one of `units` in a pack of `cents`, to the nearest minor unit (half up):
    a 20-pack at 750 is 38 a needle. Shown beside a pack price only; nothing is charged
    per needle, so the rounding never reaches an order."""
    if units <= 0:
        raise ValueError("a pack holds at least one needle")
    return (2 * cents + units) // (2 * units)


def decimal_amount(cents: int, currency: str) -> str:
    """`4500, "usd"` → `"45.00"`: the plain decimal string schema.org and CSV want."""
    if currency.lower() in ZERO_DECIMAL:
        return str(cents)
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


_SPACES = re.compile(r"[\s\u00a0\u202f'’]")
_PLAIN = re.compile(r"\d+", re.ASCII)
_DECIMAL = re.compile(r"(\d+)[.,](\d{1,2})", re.ASCII)
_GROUPED = re.compile(r"\d{1,3}(?:([.,])\d{3}){2,}", re.ASCII)
_AMBIGUOUS = re.compile(r"\d{1,3}[.,]\d{3}", re.ASCII)
_GROUPED_DECIMAL = re.compile(r"(\d{1,3}(?:([.,])\d{3})+)([.,])(\d{1,2})", re.ASCII)


def parse_amount(text: str, currency: str, *, allow_zero: bool = False) -> int:
    """An amount a person typed, as integer minor units, by string arithmetic (never a float).

    Takes `45`, `45.5`, `45.50`, `45,50`, `1250`, `1,250.50`, `1.250,50`, `1 250,50`,
    `1,250,000`, with or without the currency's symbol or code: a separator followed by one
    or two digits is the decimal point. `1,250` or `1.250` alone could be either, so it is
    refused rather than guessed. Currencies without a minor unit take whole amounts only.
    Raises ValueError with a sentence for the person when the text is not an amount above
    zero (or zero and above, with `allow_zero`), or is more than Stripe can take.
    """
    code = currency.lower()
    whole_only = code in ZERO_DECIMAL
    example = "Enter an amount like 4500." if whole_only else "Enter an amount like 45.00."
    cleaned = _SPACES.sub("", text or "")
    for mark in (SYMBOLS.get(code, "").strip(), code, code.upper(), "$", "€", "£", "¥"):
        if mark:
            cleaned = cleaned.removeprefix(mark).removesuffix(mark)
    if cleaned.startswith("-"):
        raise ValueError(
            "Enter zero or an amount above it." if allow_zero else "Enter an amount above zero."
        )
    units, fraction = _split(cleaned)
    if units is None and _AMBIGUOUS.fullmatch(cleaned):
        plain = cleaned.replace(",", "").replace(".", "")
        raise ValueError(
            f"“{cleaned}” could be read two ways: write {plain} without a thousands "
            "separator, or an amount with at most two decimals, like 45.00."
        )
    if units is None or (whole_only and fraction):
        raise ValueError(example)
    amount = int(units) if whole_only else int(units) * 100 + int(fraction.ljust(2, "0"))
    if amount == 0 and not allow_zero:
        raise ValueError("Enter an amount above zero.")
    if amount > MAX_AMOUNT:
        raise ValueError(f"Enter at most {format_money(MAX_AMOUNT, code)}.")
    return amount


def _split(text: str) -> tuple[str | None, str]:
    """(whole units, fraction digits) of an amount's text, or (None, "") if it is none."""
    if len(text) > 20:
        return None, ""
    if _PLAIN.fullmatch(text):
        return text, ""
    if match := _DECIMAL.fullmatch(text):
        return match.group(1), match.group(2)
    if match := _GROUPED.fullmatch(text):
        return re.sub(r"[.,]", "", text), ""
    if (match := _GROUPED_DECIMAL.fullmatch(text)) and match.group(2) != match.group(3):
        return re.sub(r"[.,]", "", match.group(1)), match.group(4)
    return None, ""
