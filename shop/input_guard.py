"""What every request's input must be before a view sees it, and the parsing of numbers
from it that every view shares.

PostgreSQL refuses any text holding a NUL byte (even to compare it), so a `%00` in a path,
a query or a form would reach the database as a 500: one guard answers 400 first, for
every route. Numbers are read only from ASCII digits (`"²".isdigit()` is true, `int("²")`
fails) and only within what an INTEGER column and an OFFSET can hold: a route parameter
out of range is a 404, a page out of range too.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, abort, request
from werkzeug.datastructures import MultiDict
from werkzeug.routing import IntegerConverter

# The largest value of an INTEGER column (PostgreSQL's, and the ids SQLite hands out here).
MAX_INT = 2**31 - 1
# No listing has this many pages; a larger page number is a made-up URL.
MAX_PAGE = 100_000
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def whole_number(text: str | None, *, low: int = 0, high: int = MAX_INT) -> int | None:
    """The number written in `text` (ASCII digits, an optional leading minus) when it lies
    in low..high, else None."""
    raw = (text or "").strip()
    digits = raw.removeprefix("-")
    if not (digits.isascii() and digits.isdigit()) or len(digits) > len(str(MAX_INT)):
        return None
    number = int(raw)
    return number if low <= number <= high else None


def page_number(args: MultiDict[str, str] | None = None) -> int:
    """The `page` of a listing's query: 1 when it is missing or not a number from 1; a 404
    past MAX_PAGE (no listing is that long, and the database's OFFSET has a limit)."""
    raw = (args if args is not None else request.args).get("page", "").strip()
    if not (raw.isascii() and raw.isdigit()):
        return 1
    if len(raw) > len(str(MAX_PAGE)) or int(raw) > MAX_PAGE:
        abort(404, description=f"There are at most {MAX_PAGE:,} pages.")
    return max(int(raw), 1)


class IdConverter(IntegerConverter):
    """`<int:...>` in every route: ASCII digits only, at most MAX_INT (an INTEGER column's
    largest value); anything else matches no route (404) instead of failing in the
    database."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_INT)
        super().__init__(map, *args, **kwargs)
        self.regex = f"[0-9]{{1,{len(str(MAX_INT))}}}"


def _holds_nul(values: MultiDict[str, Any]) -> bool:
    return any("\x00" in key or "\x00" in str(value) for key, value in values.items(multi=True))


def refuse_nul_bytes() -> None:
    """Answer 400 (the shop's own page) when the path, the query, a form value or an uploaded
    file's name holds a NUL byte."""
    if "\x00" in request.path or _holds_nul(request.args):
        abort(400, description="The address holds a character the shop does not accept.")
    if request.mimetype in FORM_TYPES:
        names = MultiDict((key, f.filename or "") for key, f in request.files.items(multi=True))
        if _holds_nul(request.form) or _holds_nul(names):
            abort(400, description="The form holds a character the shop does not accept.")


def register(app: Flask) -> None:
    """The bounded `int` converter (before any route is added) and the NUL guard."""
    app.url_map.converters["int"] = IdConverter
    app.before_request(refuse_nul_bytes)
