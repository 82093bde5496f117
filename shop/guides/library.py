"""The guides as the shop knows them: read once from Markdown files with YAML front matter.

One relation links guides and products: the `products` list of a guide's front matter.
A guide page reads it forwards, a product page backwards (`Library.for_product`). A guide
whose products are many may give its `advice` (a sentence and the catalogue listing it
means, as URL query arguments): its page then ends with only the products that fit it.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from flask import current_app, url_for
from markupsafe import Markup

from shop.guides import markup

log = logging.getLogger(__name__)

CONTENT = Path(__file__).resolve().parent / "content"
REQUIRED_KEYS = ("title", "slug", "description", "published", "updated", "products", "sources")
DESCRIPTION_LIMIT = 160
TOC_MIN_SECTIONS = 4
PAGE_IDS = frozenset(
    {
        "main",
        "site-q",
        "guide-disclaimer",
        "guide-toc",
        "guide-sources",
        "guide-products",
        "more-guides",
    }
)
"""Ids the guide page itself uses; a heading never takes one of them."""

_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", flags=re.DOTALL)
_PRODUCT_LINK = re.compile(r"\]\(/products/([^)\s#?]+)[^)]*\)")
_TRAILING_URL = re.compile(r"\s*(https?://\S+)\s*$")


@dataclass(frozen=True)
class Source:
    """A published reference: the citation and, when it ends with one, its address."""

    citation: str
    url: str | None

    @classmethod
    def parse(cls, text: str) -> Source:
        match = _TRAILING_URL.search(text)
        if match is None:
            return cls(text.strip(), None)
        return cls(text[: match.start()].strip(), match.group(1))


@dataclass(frozen=True)
class Advice:
    """A guide's main advice, e.g. "point-by-point scalp work: 30G to 32G, 4 mm", and the
    catalogue listing it names (`kind=meso-needle&gauge=30&length=4`)."""

    text: str
    listing: str


@dataclass(frozen=True)
class Guide:
    slug: str
    title: str
    description: str
    published: dt.date
    updated: dt.date
    products: tuple[str, ...]
    sources: tuple[Source, ...]
    html: Markup
    toc: tuple[markup.TocEntry, ...]
    reading_minutes: int
    advice: Advice | None = None

    @property
    def url(self) -> str:
        return url_for("guides.guide_page", slug=self.slug)

    @property
    def long(self) -> bool:
        """Long enough to need a table of contents."""
        return len(self.toc) >= TOC_MIN_SECTIONS


@dataclass
class Reading:
    """What reading one guide file gave: the guide (None when it cannot be shown) and
    every problem found, in the file's own terms."""

    path: Path
    guide: Guide | None
    problems: list[str] = field(default_factory=list)


def _date(meta: dict[str, Any], key: str, problems: list[str]) -> dt.date | None:
    value = meta.get(key)
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if key in meta:
        problems.append(f"{key} is not a YYYY-MM-DD date: {value!r}")
    return None


def _text(meta: dict[str, Any], key: str, problems: list[str]) -> str:
    value = meta.get(key)
    if isinstance(value, str) and value.strip():
        return value.strip()
    if key in meta:
        problems.append(f"{key} is empty or not text")
    return ""


def _advice(meta: dict[str, Any], problems: list[str]) -> Advice | None:
    value = meta.get("advice")
    if value is None:
        return None
    if isinstance(value, dict):
        text, listing = value.get("text"), value.get("listing")
        if isinstance(text, str) and text.strip() and isinstance(listing, str) and listing:
            return Advice(text.strip(), listing.strip().lstrip("?"))
    problems.append("advice must have a text and a listing (URL query arguments)")
    return None


def _strings(meta: dict[str, Any], key: str, problems: list[str]) -> list[str]:
    value = meta.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        problems.append(f"{key} must be a list of non-empty texts")
        return []
    return [v.strip() for v in value]


def read_guide(path: Path) -> Reading:
    """Parse and render one guide file.

    Every problem is reported; the guide is still given when it has what its page needs
    (slug matching the file, title, description, dates): the HTML is sanitised whatever
    the Markdown held, so a problem is for staff to fix, not a reason to hide the page.
    """
    text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
    match = _FRONT_MATTER.match(text)
    if match is None:
        return Reading(path, None, ["no YAML front matter between '---' lines at the top"])
    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        return Reading(path, None, [f"front matter is not valid YAML: {exc}"])
    if not isinstance(meta, dict):
        return Reading(path, None, ["front matter is not a mapping of keys to values"])
    body = text[match.end() :]

    problems = [f"front matter lacks {key}" for key in REQUIRED_KEYS if key not in meta]
    slug = _text(meta, "slug", problems)
    if slug and slug != path.stem:
        problems.append(f"slug {slug!r} is not the file name {path.stem!r}")
    title = _text(meta, "title", problems)
    description = _text(meta, "description", problems)
    if len(description) >= DESCRIPTION_LIMIT:
        problems.append(
            f"description has {len(description)} characters (under {DESCRIPTION_LIMIT}, please)"
        )
    published = _date(meta, "published", problems)
    updated = _date(meta, "updated", problems)
    if published and updated and updated < published:
        problems.append("updated is before published")
    products = _strings(meta, "products", problems)
    sources = _strings(meta, "sources", problems)
    if "sources" in meta and not sources:
        problems.append("sources is empty: a guide cites what it relies on")
    unlisted = sorted(set(_PRODUCT_LINK.findall(body)) - set(products))
    if unlisted:
        problems.append(f"body links to products missing from front matter: {unlisted}")
    if any(line.startswith("# ") for line in body.splitlines()):
        problems.append("body has a level-1 heading; the page shows the title as the only one")

    rendered = markup.render(body, reserved_ids=PAGE_IDS)
    problems += [f"sanitiser: {what}" for what in rendered.removed]
    if slug != path.stem or not (title and description and published and updated):
        return Reading(path, None, problems)
    guide = Guide(
        slug=slug,
        title=title,
        description=description,
        published=published,
        updated=updated,
        products=tuple(dict.fromkeys(products)),
        sources=tuple(Source.parse(s) for s in sources),
        html=rendered.html,
        toc=rendered.toc,
        reading_minutes=rendered.reading_minutes,
        advice=_advice(meta, problems),
    )
    return Reading(path, guide, problems)


def read_folder(folder: Path) -> list[Reading]:
    return [read_guide(path) for path in sorted(folder.glob("*.md"))]


class Library:
    """Every guide that can be shown, newest first, and the guide ↔ product relation."""

    def __init__(self, guides: Iterable[Guide]):
        self.guides = tuple(
            sorted(
                guides, key=lambda g: (-g.updated.toordinal(), -g.published.toordinal(), g.title)
            )
        )
        self._by_slug = {g.slug: g for g in self.guides}
        by_product: dict[str, list[Guide]] = defaultdict(list)
        for guide in self.guides:
            for product in guide.products:
                by_product[product].append(guide)
        self._by_product = dict(by_product)

    @classmethod
    def load(cls, folder: Path) -> Library:
        """Read a folder of guides; files with problems are logged, and left out when
        they cannot be shown."""
        readings = read_folder(folder)
        for reading in readings:
            for problem in reading.problems:
                log.warning("guide %s: %s", reading.path.name, problem)
        return cls(r.guide for r in readings if r.guide is not None)

    def get(self, slug: str) -> Guide | None:
        return self._by_slug.get(slug)

    def for_product(self, product_slug: str) -> list[Guide]:
        """The guides that name this product, newest first."""
        return list(self._by_product.get(product_slug, ()))

    def latest(self, limit: int = 3) -> list[Guide]:
        return list(self.guides[:limit])

    @property
    def updated(self) -> dt.date | None:
        return max((g.updated for g in self.guides), default=None)


def guides_folder() -> Path:
    return Path(current_app.config.get("GUIDES_DIR") or CONTENT)


def library() -> Library:
    """The current app's guides (loaded once, when the app was made)."""
    lib: Library = current_app.extensions["guides"]
    return lib
