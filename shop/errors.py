"""The shop's domain exceptions: every package raises these (or its own subclasses)."""

from __future__ import annotations


class ShopError(Exception):
    """Base of the shop's domain errors."""


class ValidationError(ShopError):
    """Input that breaks a rule; `errors` maps a field name to its message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors
