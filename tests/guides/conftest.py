"""A shop reading its guides from a folder the test writes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask

from shop import create_app
from shop.extensions import db

GUIDE = """---
title: {title}
slug: {slug}
description: A short test guide for practitioners.
published: 2026-01-10
updated: 2026-02-01
products: {products}
sources:
  - "Author, A. (2020). A review. Journal of Tests, 1(1). https://doi.org/10.1000/test"
---

An opening paragraph about the [test needle](/products/test-needle).

{body}
"""
SECTIONS = "\n\n".join(f"## Part {n}\n\nText of part {n}." for n in range(1, 6))


def guide_text(
    slug: str = "test-guide",
    *,
    title: str = "A test guide",
    products: str = "[test-needle]",
    body: str = SECTIONS,
) -> str:
    return GUIDE.format(slug=slug, title=title, products=products, body=body)


@pytest.fixture
def guides_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "guides"
    folder.mkdir()
    return folder


@pytest.fixture
def guides_app(app: Flask, database_url: str) -> Iterator[Callable[[Path], Flask]]:
    """Make a shop whose guides are the files of a folder (on the test database)."""
    made: list[Flask] = []

    def make(folder: Path) -> Flask:
        shop = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": database_url,
                "TESTING": True,
                "CACHE_TYPE": "SimpleCache",
                "GUIDES_DIR": str(folder),
            }
        )
        made.append(shop)
        return shop

    yield make
    for shop in made:
        with shop.app_context():
            db.session.remove()
            db.engine.dispose()
