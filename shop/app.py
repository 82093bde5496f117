"""The application factory: a list of small register steps."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, request, url_for
from werkzeug.middleware.proxy_fix import ProxyFix

from shop.config import Settings, engine_options
from shop.db import StatementDeadline
from shop.extensions import cache, csrf, db, limiter, login_manager, migrate
from shop.money import decimal_amount, format_money, per_unit
from shop.urls import external_url
from shop.wording import count, packs, paragraphs

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the shop. `config` overrides settings read from the environment (tests)."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(ROOT / "instance"),
    )
    settings = Settings.from_env()
    if config and "SHOP_SETTINGS" in config:
        settings = config["SHOP_SETTINGS"]
    app.config.update(settings.flask_config())
    if config:
        app.config.update(config)
        if "SQLALCHEMY_ENGINE_OPTIONS" not in config:
            app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(
                app.config["SQLALCHEMY_DATABASE_URI"], settings
            )
    register_logging(app)
    register_proxy(app)
    register_input_guard(app)
    register_extensions(app)
    register_blueprints(app)
    register_template_helpers(app)
    register_security_headers(app)
    register_background_work(app)
    register_error_handlers(app)
    register_cli(app)
    return app


def register_logging(app: Flask) -> None:
    from shop.logs import register

    register(app)


def register_proxy(app: Flask) -> None:
    """Behind SHOP_PROXY_HOPS reverse proxies, the client's address, scheme and host are
    the ones they forward (rate limits count per real client); never trusted otherwise."""
    hops = app.config["SHOP_SETTINGS"].proxy_hops
    if hops > 0:
        # Flask's documented way to wrap its WSGI app; typeshed calls wsgi_app a method.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops
        )


def register_input_guard(app: Flask) -> None:
    """Before any route exists: ids in routes within an INTEGER column's range, and no NUL
    byte in a request's path, query or form (see shop.input_guard)."""
    from shop.input_guard import register

    register(app)


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    settings = app.config["SHOP_SETTINGS"]
    deadline = StatementDeadline(settings.db_statement_timeout_ms / 1000 + 1)
    with app.app_context():
        deadline.install(db.engine)
    app.extensions["db_deadline"] = deadline
    migrate.init_app(
        app, db, directory=str(ROOT / "migrations"), compare_type=True, render_as_batch=True
    )
    csrf.init_app(app)
    cache.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "Please sign in to see that page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"
    # Models register their tables on import.
    import shop.accounts.models  # noqa: F401
    import shop.cart.models  # noqa: F401
    import shop.catalog.models  # noqa: F401
    import shop.inventory.models  # noqa: F401
    import shop.mail.models  # noqa: F401
    import shop.orders.models  # noqa: F401
    import shop.payments.models  # noqa: F401
    import shop.quotes.models  # noqa: F401
    from shop.compression import register as register_compression

    register_compression(app)


def register_blueprints(app: Flask) -> None:
    import shop.accounts.auth  # noqa: F401  (registers the user loader)
    from shop.accounts.views import bp as accounts_bp
    from shop.admin import MENU as ADMIN_MENU
    from shop.admin import bp as admin_bp
    from shop.api.views import bp as api_bp
    from shop.cart.views import bp as cart_bp
    from shop.catalog.views import bp as catalog_bp
    from shop.catalog.views import media_bp
    from shop.checkout.views import bp as checkout_bp
    from shop.guides import register as register_guides
    from shop.guides.views import bp as guides_bp
    from shop.health import bp as health_bp
    from shop.payments.views import bp as payments_bp
    from shop.quotes.views import bp as quotes_bp
    from shop.seo import bp as seo_bp

    app.register_blueprint(catalog_bp)
    app.register_blueprint(media_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(admin_bp)
    app.jinja_env.globals["admin_menu"] = ADMIN_MENU
    app.register_blueprint(cart_bp)
    app.register_blueprint(checkout_bp)
    app.register_blueprint(payments_bp)
    app.register_blueprint(quotes_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(guides_bp)
    app.register_blueprint(seo_bp)
    register_guides(app)  # product pages' guides_for_product, latest_guides, guides-check
    csrf.exempt(api_bp)
    csrf.exempt(payments_bp)  # Stripe signs its requests instead


def register_template_helpers(app: Flask) -> None:
    currency = app.config["SHOP_SETTINGS"].currency

    @app.template_filter("money")
    def money(cents: int) -> str:
        return format_money(cents, currency)

    @app.template_filter("per_needle")
    def per_needle(cents: int, pack_size: int) -> str:
        return f"{format_money(per_unit(cents, pack_size), currency)} per needle"

    @app.template_filter("decimal_amount")
    def decimal(cents: int) -> str:
        return decimal_amount(cents, currency)

    app.jinja_env.filters["packs"] = packs
    app.jinja_env.filters["count"] = count
    app.jinja_env.filters["paragraphs"] = paragraphs
    app.jinja_env.globals["shop_currency"] = currency
    app.jinja_env.globals["external_url"] = external_url
    fingerprints: dict[str, str] = {}

    def asset(filename: str) -> str:
        """URL of a static file with its content hash, so it can be cached for a year."""
        if filename not in fingerprints or app.debug:
            path = Path(app.static_folder or "") / filename
            fingerprints[filename] = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        return url_for("static", filename=filename, v=fingerprints[filename])

    app.jinja_env.globals["asset"] = asset
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True


CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self' https://checkout.stripe.com{extra}; "
    "frame-ancestors 'none'"
)


@functools.cache
def content_security_policy(stripe_api_base: str | None) -> str:
    """The policy; checkout's redirect may also go to a configured Stripe stand-in."""
    if not stripe_api_base:
        return CSP.format(extra="")
    parts = urlsplit(stripe_api_base)
    return CSP.format(extra=f" {parts.scheme}://{parts.netloc}")


def register_security_headers(app: Flask) -> None:
    production = app.config["SHOP_SETTINGS"].production

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers.setdefault(
            "Content-Security-Policy",
            content_security_policy(app.config["SHOP_SETTINGS"].stripe_api_base),
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        response.headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=()"
        )
        if production:
            response.headers.setdefault(
                "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
            )
        if request.path.startswith("/static/") and request.args.get("v"):
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


def register_background_work(app: Flask) -> None:
    """Mail sent after the request in development; the worker's recurring tasks."""
    from shop.mail.services import register as register_mail
    from shop.payments.services import resend_refunds, settle_lapsed_orders
    from shop.quotes.services import expire_due_task

    register_mail(app)
    # Named groups the worker runs side by side (with `mail`); `--only` picks among them.
    app.extensions["worker_tasks"] = {
        "settle": [settle_lapsed_orders, resend_refunds],
        "quotes": [expire_due_task],
    }


def register_error_handlers(app: Flask) -> None:
    from shop.error_pages import register_error_handlers as register

    register(app)


def register_cli(app: Flask) -> None:
    from shop.cli import register

    register(app)
