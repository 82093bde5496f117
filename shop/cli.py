"""`flask --app shop ...` commands."""

from __future__ import annotations

import sys

import click
from flask import Flask
from sqlalchemy import func, select

from shop import audit
from shop.accounts import services as accounts
from shop.accounts.models import Role
from shop.catalog.models import Product
from shop.demo import load_demo, load_large
from shop.errors import ValidationError
from shop.extensions import db
from shop.mail.worker import chosen_tasks, run_worker
from shop.orders import services as orders
from shop.orders.models import Order


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

    @app.cli.command("create-admin")
    @click.argument("email")
    @click.option("--name", default="", help="The admin's name.")
    @click.option("--role", type=click.Choice(["admin", "staff"]), default="admin")
    def create_admin(email: str, name: str, role: str) -> None:
        """Make a back-office account; the password comes from a prompt or stdin."""
        if sys.stdin.isatty():
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        else:
            password = sys.stdin.readline().rstrip("\n")
        try:
            user = accounts.create_user(email, password, name=name, role=Role(role))
        except ValidationError as exc:
            raise click.ClickException(" ".join(exc.errors.values())) from None
        db.session.commit()
        click.echo(f"{user.role.title()} account {user.email} created.")

    @app.cli.command("mark-paid")
    @click.argument("number")
    @click.option("--amount", type=int, required=True, help="Amount received, in cents.")
    @click.option("--by", "actor", default="staff (command line)", help="Who records it.")
    def mark_paid(number: str, amount: int, actor: str) -> None:
        """Record a bank transfer received for order NUMBER."""
        order = db.session.scalar(select(Order).where(Order.number == number))
        if order is None:
            raise click.ClickException(f"No order {number}.")
        try:
            made = orders.record_transfer(order, amount=amount, actor=actor)
        except (orders.ActionRefused, ValidationError) as exc:
            raise click.ClickException(str(exc)) from None
        db.session.commit()
        if made is orders.PaymentOutcome.PAID:
            click.echo(f"Order {number} is paid.")
        elif made is orders.PaymentOutcome.ALREADY_PAID:
            click.echo(f"Order {number} was already paid.")
        else:
            raise click.ClickException(order.attention_reason)

    @app.cli.command("audit")
    def audit_command() -> None:
        """Check the stock and money invariants; print each breach, exit 1 on any."""
        breaches = audit.breaches()
        for breach in breaches:
            click.echo(breach)
        if breaches:
            raise click.ClickException(f"{len(breaches)} breach(es) found.")
        click.echo("Stock and money agree: no breach found.")

    @app.cli.command("worker")
    @click.option("--once", is_flag=True, help="Run each task once and stop.")
    @click.option("--interval", type=float, default=5.0, help="Seconds between a task's runs.")
    @click.option(
        "--only",
        multiple=True,
        metavar="TASK[,TASK]",
        help="Run only these tasks: mail, settle, quotes (repeatable or comma-separated).",
    )
    def worker(once: bool, interval: float, only: tuple[str, ...]) -> None:
        """Send queued email, settle lapsed reservations and expire quotes, until stopped.

        Each task runs on its own (a slow Stripe never holds back mail), so operators may
        also split them over several worker processes with --only.
        """
        names = [name.strip() for value in only for name in value.split(",") if name.strip()]
        try:
            chosen_tasks(names)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--only") from None
        run_worker(once=once, interval=interval, only=names)
