"""Money as integer minor units (cents) in the shop's one currency."""

from __future__ import annotations

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


def format_amount(cents: int, currency: str) -> str:
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


def decimal_amount(cents: int, currency: str) -> str:
    """`4500, "usd"` → `"45.00"`: the plain decimal string schema.org and CSV want."""
    if currency.lower() in ZERO_DECIMAL:
        return str(cents)
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"
