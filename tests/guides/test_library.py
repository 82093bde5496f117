"""Reading guide files: rendering, sanitising, the table of contents and `guides-check`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flask import Flask
from flask.testing import FlaskCliRunner

from shop.extensions import db
from shop.guides.library import CONTENT, Library, read_guide
from shop.guides.markup import render
from tests.factories import make_product, make_variant
from tests.guides.conftest import guide_text

SCRIPT = '<script>alert("owned")</script>\n\n<p onclick="steal()">Click</p>'


def test_headings_get_stable_unique_ids_and_make_the_toc() -> None:
    rendered = render(
        "## Before the session\n\ntext\n\n### Detail\n\n## Before the session\n\n## Sources\n",
        reserved_ids=frozenset({"sources"}),
    )
    assert '<h2 id="before-the-session">' in rendered.html
    assert '<h3 id="detail">' in rendered.html
    assert '<h2 id="before-the-session-2">' in rendered.html
    assert '<h2 id="sources-2">' in rendered.html
    assert [(e.id, e.title) for e in rendered.toc] == [
        ("before-the-session", "Before the session"),
        ("before-the-session-2", "Before the session"),
        ("sources-2", "Sources"),
    ]
    assert rendered.removed == ()


def test_markdown_tables_and_product_links_stay() -> None:
    rendered = render(
        "| Gauge | Use |\n|---|---|\n| 32G | scalp |\n\n[32G](/products/meso-needle-32g)"
    )
    assert "<table>" in rendered.html and "<td>32G</td>" in rendered.html
    assert '<a href="/products/meso-needle-32g">32G</a>' in rendered.html
    assert rendered.removed == ()


def test_sanitiser_strips_script_and_event_handlers_and_says_so() -> None:
    rendered = render(f'## Part\n\n{SCRIPT}\n\n<a href="javascript:alert(1)">bad</a>')
    html = str(rendered.html)
    assert "<script" not in html and "owned" not in html
    assert "onclick" not in html and "<p>Click</p>" in html
    assert "javascript:" not in html and "<a>bad</a>" in html
    assert "<script> removed (1×)" in rendered.removed
    assert any(r.startswith("onclick=") for r in rendered.removed)


def test_every_shipped_guide_reads_without_problems() -> None:
    for path in sorted(CONTENT.glob("*.md")):
        reading = read_guide(path)
        assert reading.guide is not None, path.name
        assert reading.problems == [], (path.name, reading.problems)
        assert reading.guide.long and reading.guide.reading_minutes >= 3


def test_short_guide_has_no_toc(guides_dir: Path) -> None:
    path = guides_dir / "test-guide.md"
    path.write_text(guide_text(body="## Only part\n\nShort."), encoding="utf-8")
    guide = read_guide(path).guide
    assert guide is not None
    assert not guide.long and guide.reading_minutes == 1


def test_missing_keys_and_wrong_slug_are_problems_and_hide_the_guide(guides_dir: Path) -> None:
    path = guides_dir / "broken.md"
    path.write_text("---\ntitle: Broken\nslug: other\n---\n\nBody.\n", encoding="utf-8")
    reading = read_guide(path)
    assert reading.guide is None
    assert "front matter lacks description" in reading.problems
    assert "front matter lacks sources" in reading.problems
    assert "slug 'other' is not the file name 'broken'" in reading.problems
    assert Library.load(guides_dir).guides == ()


def test_guide_with_script_is_shown_sanitised(
    guides_app: Callable[[Path], Flask], guides_dir: Path
) -> None:
    (guides_dir / "test-guide.md").write_text(
        guide_text(body=f"## Part one\n\n{SCRIPT}\n\n## Part two\n\nSafe."), encoding="utf-8"
    )
    shop = guides_app(guides_dir)
    response = shop.test_client().get("/guides/test-guide")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    body = html.split('<div class="guide-body">', 1)[1].split("</div>", 1)[0]
    assert "<script" not in body and "owned" not in body and "onclick" not in body
    assert "<p>Click</p>" in body and "Safe." in body


def test_guides_check_passes_on_the_shipped_guides(runner: FlaskCliRunner, demo: None) -> None:
    result = runner.invoke(args=["guides-check"])
    assert result.exit_code == 0, result.output
    assert "6 guide(s) checked: 0 error(s)" in result.output


def test_guides_check_reports_unknown_products_missing_keys_and_sanitising(
    guides_app: Callable[[Path], Flask], guides_dir: Path
) -> None:
    (guides_dir / "test-guide.md").write_text(
        guide_text(products="[test-needle, no-such-needle]", body=f"## Part\n\n{SCRIPT}"),
        encoding="utf-8",
    )
    (guides_dir / "broken.md").write_text("---\ntitle: Broken\n---\n\nBody.\n", encoding="utf-8")
    shop = guides_app(guides_dir)
    with shop.app_context():
        make_variant(product=make_product(slug="test-needle"))
        db.session.commit()
    result = shop.test_cli_runner().invoke(args=["guides-check"])
    assert result.exit_code == 1
    out = result.output
    assert "error: test-guide.md: unknown product slug 'no-such-needle'" in out
    assert "error: test-guide.md: sanitiser: <script> removed (1×)" in out
    assert "error: broken.md: front matter lacks slug" in out
    assert "error: broken.md: not shown on the site until this is fixed" in out
    assert "'test-needle'" not in out
    assert "2 guide(s) checked: " in out


def test_guides_check_warns_about_inactive_products(
    guides_app: Callable[[Path], Flask], guides_dir: Path
) -> None:
    (guides_dir / "test-guide.md").write_text(guide_text(), encoding="utf-8")
    shop = guides_app(guides_dir)
    with shop.app_context():
        make_variant(product=make_product(slug="test-needle", is_active=False))
        db.session.commit()
    result = shop.test_cli_runner().invoke(args=["guides-check"])
    assert result.exit_code == 0, result.output
    assert "warning: test-guide.md: product 'test-needle' is not active" in result.output


def test_advice_without_a_listing_is_a_problem_and_the_guide_still_shows(
    guides_dir: Path,
) -> None:
    path = guides_dir / "test-guide.md"
    text = guide_text().replace("sources:", "advice:\n  text: fine needles\nsources:", 1)
    path.write_text(text, encoding="utf-8")
    reading = read_guide(path)
    assert reading.guide is not None and reading.guide.advice is None
    assert "advice must have a text and a listing (URL query arguments)" in reading.problems
