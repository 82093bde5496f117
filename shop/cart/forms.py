"""The quick order form."""

from __future__ import annotations

from wtforms import SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length

from shop.cart.quick import MAX_TEXT
from shop.forms import ShopForm, strip


class QuickOrderForm(ShopForm):
    lines = TextAreaField(
        "SKU and packs, one line each",
        filters=[strip],
        validators=[
            DataRequired("Type or paste at least one line: a SKU and a number of packs."),
            Length(max=MAX_TEXT, message="Paste at most 100 lines at a time."),
        ],
        render_kw={"rows": 8, "spellcheck": "false", "autocapitalize": "characters"},
    )
    check = SubmitField("Check the lines")
    add = SubmitField("Add to cart")
