"""Markdown of a guide to safe HTML: CommonMark with tables, headings with stable ids,
then a sanitiser that keeps only what the guides need."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from html.parser import HTMLParser

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

ALLOWED_TAGS = {
    "p", "h2", "h3", "h4", "ul", "ol", "li", "strong", "em", "a", "code", "pre",
    "blockquote", "hr", "br", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "h2": {"id"},
    "h3": {"id"},
    "h4": {"id"},
    "ol": {"start"},
}
URL_SCHEMES = {"http", "https", "mailto"}
WORDS_PER_MINUTE = 200

_markdown = MarkdownIt("commonmark", {"html": True}).enable("table")


@dataclass(frozen=True)
class TocEntry:
    """One section of a guide: its heading's id and text."""

    id: str
    title: str


@dataclass(frozen=True)
class Rendered:
    html: Markup
    toc: tuple[TocEntry, ...]
    words: int
    removed: tuple[str, ...]
    """What the sanitiser took out of the rendered Markdown (empty for a clean guide)."""

    @property
    def reading_minutes(self) -> int:
        return max(1, -(-self.words // WORDS_PER_MINUTE))


def heading_id(text: str, taken: set[str]) -> str:
    """A URL fragment for a heading, unique among `taken` (which it joins)."""
    base = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    taken.add(candidate)
    return candidate


def _inline_text(token: Token) -> str:
    return "".join(c.content for c in token.children or [] if c.type in {"text", "code_inline"})


def render(markdown: str, *, reserved_ids: frozenset[str] = frozenset()) -> Rendered:
    """Render a guide body. Level-2 headings make the table of contents; ids never
    repeat one of `reserved_ids` (ids the page around the guide uses)."""
    tokens = _markdown.parse(markdown)
    taken = set(reserved_ids)
    toc: list[TocEntry] = []
    for i, token in enumerate(tokens):
        if token.type == "heading_open":
            title = _inline_text(tokens[i + 1])
            anchor = heading_id(title, taken)
            token.attrSet("id", anchor)
            if token.tag == "h2":
                toc.append(TocEntry(anchor, title))
    raw = _markdown.renderer.render(tokens, _markdown.options, {})
    clean = nh3.clean(
        raw,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel=None,
        strip_comments=True,
    )
    before, after = _Outline.of(raw), _Outline.of(clean)
    return Rendered(
        html=Markup(clean),  # noqa: S704 - sanitised just above
        toc=tuple(toc),
        words=len(after.text.split()),
        removed=tuple(before.lost_in(after)),
    )


class _Outline(HTMLParser):
    """Tags, attributes and text of an HTML fragment, to see what sanitising removed."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: Counter[str] = Counter()
        self.attributes: Counter[tuple[str, str, str]] = Counter()
        self.chunks: list[str] = []

    @classmethod
    def of(cls, html: str) -> _Outline:
        outline = cls()
        outline.feed(html)
        outline.close()
        return outline

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        for name, value in attrs:
            self.attributes[(tag, name, value or "")] += 1

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)

    @property
    def text(self) -> str:
        return " ".join("".join(self.chunks).split())

    def lost_in(self, after: _Outline) -> list[str]:
        lost = [f"<{tag}> removed ({n}×)" for tag, n in (self.tags - after.tags).items()]
        lost += [
            f'{name}="{value}" removed from <{tag}>'
            for (tag, name, value) in (self.attributes - after.attributes)
            if tag in after.tags
        ]
        if self.text != after.text:
            kept = set(after.text.split())
            dropped = [w for w in self.text.split() if w not in kept]
            lost.append(f"text removed: {' '.join(dropped[:12]) or '(whitespace)'}")
        return lost
