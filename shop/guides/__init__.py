"""Treatment guides: Markdown files in the repository, read and rendered once per app."""

from __future__ import annotations

from pathlib import Path

from flask import Flask


def register(app: Flask) -> None:
    """Load the guides and connect them: product pages list the guides naming them,
    templates get `latest_guides(n)`, and `flask guides-check` checks the files."""
    from shop.guides.cli import register as register_cli
    from shop.guides.library import CONTENT, Library

    library = Library.load(Path(app.config.get("GUIDES_DIR") or CONTENT))
    app.extensions["guides"] = library
    app.extensions["guides_for_product"] = library.for_product
    app.jinja_env.globals["latest_guides"] = library.latest
    register_cli(app)
