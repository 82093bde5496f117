"""`flask --app shop ...` commands."""

from __future__ import annotations

import click
from flask import Flask
from sqlalchemy import func, select

from shop.catalog.models import Product
from shop.demo import load_demo, load_large
from shop.extensions import db


def register(app: Flask) -> None:
    @app.cli.command("seed-demo")
    @click.option(
        "--variants",
        type=click.IntRange(min=0),
        default=0,
        help="Also generate products until the catalogue holds this many variants.",
    )
    @click.option("--if-empty", is_flag=True, help="Do nothing when products already exist.")
    def seed_demo(variants: int, if_empty: bool) -> None:
        """Load the demo catalogue (idempotent: existing products are left alone)."""
        if if_empty and db.session.scalar(select(func.count()).select_from(Product)):
            click.echo("Catalogue not empty: demo not loaded.")
            return
        added = load_demo()
        db.session.commit()
        click.echo(f"Demo catalogue: {added} product(s) added.")
        if variants:
            with click.progressbar(length=variants, label="Generating variants") as bar:
                made = load_large(variants, progress=bar.update)
            click.echo(f"Generated {made} variant(s).")
