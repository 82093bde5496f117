"""The countries the shop ships to, by ISO 3166 code, for every form that asks."""

from __future__ import annotations

import pycountry
from wtforms.fields.choices import SelectChoice

COUNTRIES = [
    SelectChoice(c.alpha_2, c.name) for c in sorted(pycountry.countries, key=lambda c: c.name)
]
NAMES: dict[str, str] = {str(choice.value): str(choice.label) for choice in COUNTRIES}


def country_name(code: str) -> str:
    """`DE` → `Germany`; an unknown code as it is."""
    return NAMES.get(code, code)
