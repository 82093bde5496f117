"""Words that change with a number: "1 pack", "3 packs"; for code and templates alike."""

from __future__ import annotations


def count(n: int, noun: str, plural: str | None = None) -> str:
    """`count(1, "pack")` → "1 pack", `count(3, "pack")` → "3 packs" (`plural` when the
    noun does not just take an s), with thousands separated."""
    word = noun if n == 1 else (plural or f"{noun}s")
    return f"{n:,} {word}"


def packs(n: int) -> str:
    return count(n, "pack")
