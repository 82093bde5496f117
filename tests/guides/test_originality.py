"""The treatment guides: written in the shop's own words, with complete front matter.

The originality check compares every guide with the source articles kept in `shared/seeds`
beside the checkout and fails on any run of ten consecutive words found in both.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CONTENT = REPO / "shop" / "guides" / "content"
SEEDS = REPO.parent / "shared" / "seeds"

RUN_LENGTH = 10
EXPECTED_GUIDES = {
    "what-is-hair-mesotherapy",
    "side-effects-causes-and-prevention",
    "managing-side-effects",
    "aftercare",
    "contraindications",
    "choosing-a-needle-for-scalp-mesotherapy",
}
REQUIRED_KEYS = {"title", "slug", "description", "published", "updated", "products", "sources"}
PRODUCT_SLUGS = {
    "meso-needle-27g",
    "meso-needle-30g",
    "meso-needle-31g",
    "meso-needle-32g",
    "meso-needle-33g",
    "meso-needle-34g",
    "meso-needle-32g-thin-wall",
    "multi-injector-3-pin",
    "multi-injector-5-pin",
    "multi-injector-7-pin",
    "multi-injector-9-pin",
    "multi-injector-5-pin-34g",
}

LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
PRODUCT_LINK = re.compile(r"\]\(/products/([^)\s#?]+)\)")
PUNCTUATION = re.compile(r"[^\w\s]|_")


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """Return the YAML front matter (parsed) and the Markdown body of a guide."""
    match = re.match(r"\A---\n(.*?)\n---\n", text, flags=re.DOTALL)
    if match is None:
        raise ValueError("no YAML front matter between '---' lines at the top")
    meta = yaml.safe_load(match.group(1))
    if not isinstance(meta, dict):
        raise ValueError("front matter is not a mapping")
    return meta, text[match.end() :]


def words(text: str) -> list[str]:
    """Normalise text for comparison: lowercase, link text only, no punctuation."""
    text = LINK.sub(r"\1", text.lower())
    return PUNCTUATION.sub(" ", text).split()


def copied_runs(text: str, seed_text: str, n: int = RUN_LENGTH) -> list[str]:
    """Runs of `n` consecutive words of `text` that also occur in `seed_text`, in order."""
    seed_words = words(seed_text)
    seed_runs = {tuple(seed_words[i : i + n]) for i in range(len(seed_words) - n + 1)}
    mine = words(text)
    found: list[str] = []
    for i in range(len(mine) - n + 1):
        run = tuple(mine[i : i + n])
        if run in seed_runs:
            found.append(" ".join(run))
    return found


def checked_parts(text: str) -> dict[str, str]:
    """The parts of a guide that must be original: title, description and body."""
    meta, body = split_front_matter(text)
    return {
        "title": str(meta.get("title", "")),
        "description": str(meta.get("description", "")),
        "body": body,
    }


def guide_files() -> list[Path]:
    return sorted(CONTENT.glob("*.md"))


@pytest.fixture(scope="module")
def seeds() -> dict[str, str]:
    if not SEEDS.is_dir():
        pytest.skip("../shared/seeds not beside the checkout: originality not checked")
    texts = {p.name: p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))}
    if not texts:
        pytest.skip("../shared/seeds holds no .txt articles: originality not checked")
    return texts


def test_expected_guides_exist() -> None:
    missing = EXPECTED_GUIDES - {p.stem for p in guide_files()}
    assert not missing, f"guides missing from {CONTENT}: {sorted(missing)}"


@pytest.mark.parametrize("path", guide_files(), ids=lambda p: p.stem)
def test_guide_copies_no_ten_word_run_from_the_seeds(path: Path, seeds: dict[str, str]) -> None:
    parts = checked_parts(path.read_text(encoding="utf-8"))
    problems = [
        f'  {part} of {path.name} copies {RUN_LENGTH} words from {seed_name}: "{run}"'
        for part, text in parts.items()
        for seed_name, seed_text in seeds.items()
        for run in copied_runs(text, seed_text)
    ]
    assert not problems, f"guide {path.stem} is not in the shop's own words:\n" + "\n".join(
        problems
    )


@pytest.mark.parametrize("path", guide_files(), ids=lambda p: p.stem)
def test_guide_front_matter_and_structure(path: Path) -> None:
    meta, body = split_front_matter(path.read_text(encoding="utf-8"))
    name = path.name

    missing = REQUIRED_KEYS - meta.keys()
    assert not missing, f"{name}: front matter lacks {sorted(missing)}"
    assert meta["slug"] == path.stem, f"{name}: slug {meta['slug']!r} is not the file name"
    for key in ("title", "description"):
        assert isinstance(meta[key], str) and meta[key].strip(), f"{name}: empty {key}"
    assert len(meta["description"]) < 160, (
        f"{name}: description has {len(meta['description'])} characters (limit 159)"
    )
    for key in ("published", "updated"):
        assert isinstance(meta[key], dt.date), f"{name}: {key} is not a YYYY-MM-DD date"
    assert meta["updated"] >= meta["published"], f"{name}: updated before published"

    sources = meta["sources"]
    assert isinstance(sources, list) and sources, f"{name}: sources is empty"
    assert all(isinstance(s, str) and s.strip() for s in sources), f"{name}: blank source"

    products = meta["products"]
    assert isinstance(products, list), f"{name}: products is not a list"
    unknown = set(products) - PRODUCT_SLUGS
    assert not unknown, f"{name}: unknown product slugs {sorted(unknown)}"
    unlisted = set(PRODUCT_LINK.findall(body)) - set(products)
    assert not unlisted, f"{name}: body links to products not in front matter {sorted(unlisted)}"

    sections = [line for line in body.splitlines() if line.startswith("## ")]
    assert len(sections) >= 4, f"{name}: {len(sections)} '## ' sections, at least 4 needed"
    assert not any(line.startswith("# ") for line in body.splitlines()), (
        f"{name}: body has an H1; the page renders the title as H1"
    )
