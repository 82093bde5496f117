"""The back office: one module per section; importing them registers their routes and
menu entries on the blueprint."""

from __future__ import annotations

from shop.admin import (  # noqa: F401
    buyers,
    catalog_csv,
    mail,
    orders,
    products,
    quotes,
    recall,
    staff,
    stock,
    views,
)
from shop.admin.blueprint import MENU, bp

__all__ = ["MENU", "bp"]
