"""Words that change with a number ("1 pack", "3 packs") and text typed into a box split
into paragraphs; for code and templates alike."""

from __future__ import annotations

import re

_BLANK_LINES = re.compile(r"\n[ \t]*\n\s*")


def count(n: int, noun: str, plural: str | None = None) -> str:
    """`count(1, "pack")` → "1 pack", `count(3, "pack")` → "3 packs" (`plural` when the
    noun does not just take an s), with thousands separated."""
    word = noun if n == 1 else (plural or f"{noun}s")
    return f"{n:,} {word}"


def packs(n: int) -> str:
    return count(n, "pack")


def paragraphs(text: str | None) -> list[list[str]]:
    """Text as typed into a form (any line endings) as paragraphs, each a list of its lines:
    a blank line starts a new paragraph, a single line break stays a line break."""
    if not text:
        return []
    plain = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    return [
        [line.strip() for line in block.split("\n") if line.strip()]
        for block in _BLANK_LINES.split(plain)
        if block.strip()
    ]
