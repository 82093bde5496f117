"""`flask --app shop guides-check`: read every guide as the site would, say what is wrong."""

from __future__ import annotations

import click
from flask import Flask

from shop.guides.library import guides_folder
from shop.guides.services import check_guides


def register(app: Flask) -> None:
    @app.cli.command("guides-check")
    def guides_check() -> None:
        """Check every guide: front matter, product slugs, what the sanitiser removes."""
        result = check_guides(guides_folder())
        for name, warnings in result.warnings.items():
            for warning in warnings:
                click.echo(f"warning: {name}: {warning}", err=True)
        for name, errors in result.errors.items():
            for error in errors:
                click.echo(f"error: {name}: {error}", err=True)
        count = sum(len(e) for e in result.errors.values())
        click.echo(
            f"{result.checked} guide(s) checked: {count} error(s) in {len(result.errors)} file(s)."
        )
        if count:
            raise click.exceptions.Exit(1)
