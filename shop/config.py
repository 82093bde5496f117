"""Typed settings read from the environment (and a `.env` file when present)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dotenv import load_dotenv

INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the message says which and why."""


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


def _list(name: str) -> tuple[str, ...] | None:
    """A comma-separated setting as a tuple (None when unset or empty)."""
    items = tuple(x.strip() for x in os.environ.get(name, "").split(",") if x.strip())
    return items or None


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _development_secret_key(instance_dir: Path) -> str:
    """A key made once and kept under instance/, so every worker process shares it."""
    instance_dir.mkdir(parents=True, exist_ok=True)
    path = instance_dir / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


# Standard VAT rates of the EU member states in 2026, in basis points (1900 = 19 %).
EU_STANDARD_RATES: dict[str, int] = {
    "AT": 2000,
    "BE": 2100,
    "BG": 2000,
    "CY": 1900,
    "CZ": 2100,
    "DE": 1900,
    "DK": 2500,
    "EE": 2400,
    "ES": 2100,
    "FI": 2550,
    "FR": 2000,
    "GR": 2400,
    "HR": 2500,
    "HU": 2700,
    "IE": 2300,
    "IT": 2200,
    "LT": 2100,
    "LU": 1700,
    "LV": 2100,
    "MT": 1800,
    "NL": 2100,
    "PL": 2300,
    "PT": 2300,
    "RO": 2100,
    "SE": 2500,
    "SI": 2200,
    "SK": 2300,
}


def parse_rate(text: str) -> int:
    """`"19"` → 1900, `"25.5"` → 2550: a percentage as basis points (ConfigError otherwise)."""
    try:
        percent = Decimal(text.strip())
    except InvalidOperation:
        raise ConfigError(f"{text!r} is not a percentage") from None
    points = percent * 100
    if not percent.is_finite() or points != points.to_integral_value() or not 0 <= percent < 100:
        raise ConfigError(f"{text!r} is not a percentage from 0 to 100 with at most two decimals")
    return int(points)


def _vat_rates() -> dict[str, int]:
    """The EU standard rates, with SHOP_VAT_RATES ("DE=19,FI=25.5") overriding entries."""
    rates = dict(EU_STANDARD_RATES)
    for item in _list("SHOP_VAT_RATES") or ():
        country, _, percent = item.partition("=")
        country = country.strip().upper()
        if country not in EU_STANDARD_RATES:
            raise ConfigError(
                f"SHOP_VAT_RATES: {country!r} is not an EU member state (use GR for Greece); "
                "deliveries outside the EU carry no VAT"
            )
        try:
            rates[country] = parse_rate(percent)
        except ConfigError as exc:
            raise ConfigError(f"SHOP_VAT_RATES: {country}: {exc}") from None
    return rates


LOG_FORMATS = ("json", "text")
# What production needs that an operator may waive, one by one, in SHOP_WAIVE.
WAIVABLE = ("postgres", "redis", "mail")


# The seller's bank account for transfers: demo values, valid in form, obviously not real.
DEMO_BANK = {
    "holder": "Meso Needle Works Ltd (demo account)",
    "iban": "DE89370400440532013000",
    "bic": "COBADEFFXXX",
    "name": "Demo Bank (example only)",
}


def grouped_iban(iban: str) -> str:
    """An IBAN as printed for people: groups of four characters."""
    compact = "".join(iban.split()).upper()
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def bank_details_line(holder: str, iban: str, bic: str, name: str) -> str:
    """The bank details on one line, as pages, mail and invoices print them."""
    return f"Account holder {holder} · IBAN {grouped_iban(iban)} · BIC {bic} · {name}"


@dataclass(frozen=True)
class Settings:
    """Everything the shop reads from its environment.

    Mail, besides MAIL_SERVER, MAIL_PORT and MAIL_DEFAULT_SENDER:

    - MAIL_USE_TLS=1: STARTTLS on a plain port (often 587); MAIL_USE_SSL=1: TLS from the
      start (often 465). Not both. Either verifies the server's certificate against
      MAIL_CA_FILE (a PEM file of certificate authorities) when set, else the system's.
    - MAIL_USERNAME, MAIL_PASSWORD: sign in to the server (production refuses a
      MAIL_USERNAME without TLS).
    - SENTRY_DSN: errors go to Sentry (no personal data sent).

    Logs: SHOP_LOG_FORMAT=json (the default in production) writes one JSON object a line,
    with a request id, route, status and duration for each request; `text` (the default in
    development) plain lines.
    """

    database_url: str
    secret_key: str
    production: bool = False
    stripe_secret_key: str | None = None
    stripe_webhook_secret: str | None = None
    stripe_api_base: str | None = None
    redis_url: str | None = None
    mail_server: str | None = None
    mail_port: int = 25
    mail_default_sender: str = "shop@meso-needles.example"
    currency: str = "usd"
    min_shelf_life_months: int = 12
    base_url: str = "http://127.0.0.1:5000"
    shipping_amount: int = 1500
    free_shipping_from: int = 50000
    bank_transfer_days: int = 7
    guest_transfer_hours: int = 48
    max_open_transfers: int = 3
    # Checkouts one client address may start (clinics behind one NAT may need more).
    checkout_limit: str = "10 per minute;60 per hour"
    bank_account_holder: str = DEMO_BANK["holder"]
    bank_iban: str = DEMO_BANK["iban"]
    bank_bic: str = DEMO_BANK["bic"]
    bank_name: str = DEMO_BANK["name"]
    # SHOP_BANK_DETAILS overrides the line made from the four settings above.
    bank_details: str = bank_details_line(*DEMO_BANK.values())
    # Where the shop tells staff about quote requests and accepts that fail for stock.
    staff_email: str = "staff@meso-needles.example"
    # Host names the shop answers to (None: any, in development); from TRUSTED_HOSTS.
    trusted_hosts: tuple[str, ...] | None = None
    # Reverse proxies in front that set X-Forwarded-For/-Proto/-Host.
    proxy_hops: int = 0
    # Deadlines of the database: connecting, one statement, waiting for a pooled connection.
    db_connect_timeout: int = 3
    db_statement_timeout_ms: int = 10_000
    db_pool_timeout: int = 5
    # SMTP: STARTTLS on a plain port, or TLS from the start; a login when given.
    mail_use_tls: bool = False
    mail_use_ssl: bool = False
    mail_username: str | None = None
    mail_password: str | None = None
    mail_ca_file: str | None = None
    sentry_dsn: str | None = None
    # "json" (one object a line) or "text"; SHOP_LOG_FORMAT, json by default in production.
    log_format: str = "text"
    # Only staff-verified professional buyers may check out and accept quotes.
    require_verified_buyers: bool = False
    waived: frozenset[str] = frozenset()
    # VAT: the seller's country and VAT ID, and the standard rate (basis points, 1900 =
    # 19 %) of every EU member state; SHOP_VAT_RATES overrides entries.
    seller_country: str = "DE"
    seller_vat_id: str = "DE136695976"
    vat_rates: dict[str, int] = field(default_factory=lambda: dict(EU_STANDARD_RATES))
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def card_payments(self) -> bool:
        """Card payment through Stripe Checkout is set up (a secret key is given)."""
        return self.stripe_secret_key is not None

    @classmethod
    def from_env(cls, instance_dir: Path = INSTANCE_DIR) -> Settings:
        load_dotenv(override=False)
        production = os.environ.get("SHOP_ENV", "development") == "production"
        secret_key = os.environ.get("SECRET_KEY")
        if not secret_key and not production:
            secret_key = _development_secret_key(instance_dir)
        database_url = os.environ.get("DATABASE_URL")
        if not database_url and not production:
            instance_dir.mkdir(parents=True, exist_ok=True)
            database_url = f"sqlite:///{instance_dir / 'shop.sqlite3'}"
        currency = os.environ.get("SHOP_CURRENCY", "usd").lower()
        if len(currency) != 3 or not currency.isalpha():
            raise ConfigError(f"SHOP_CURRENCY must be an ISO 4217 code, got {currency!r}")
        waived = frozenset(_list("SHOP_WAIVE") or ())
        unknown = waived - set(WAIVABLE)
        if unknown:
            raise ConfigError(
                f"SHOP_WAIVE names {', '.join(sorted(unknown))}: only {', '.join(WAIVABLE)} "
                "can be waived"
            )
        base_url = os.environ.get("SHOP_BASE_URL", "").rstrip("/")
        if _flag("MAIL_USE_TLS") and _flag("MAIL_USE_SSL"):
            raise ConfigError(
                "MAIL_USE_TLS (STARTTLS on a plain port, often 587) and MAIL_USE_SSL (TLS from "
                "the start, often 465) exclude each other: set one"
            )
        log_format = os.environ.get("SHOP_LOG_FORMAT") or ("json" if production else "text")
        if log_format not in LOG_FORMATS:
            raise ConfigError(f"SHOP_LOG_FORMAT must be json or text, got {log_format!r}")
        bank = {
            key: os.environ.get(f"SHOP_BANK_{name}") or default
            for (key, default), name in zip(
                DEMO_BANK.items(), ("ACCOUNT_HOLDER", "IBAN", "BIC", "NAME"), strict=True
            )
        }
        seller_country = (os.environ.get("SHOP_SELLER_COUNTRY") or "DE").strip().upper()
        vat_rates = _vat_rates()
        if seller_country not in vat_rates:
            raise ConfigError(
                f"SHOP_SELLER_COUNTRY must be an EU member state's code, got {seller_country!r}"
            )
        settings = cls(
            database_url=database_url or "",
            secret_key=secret_key or "",
            production=production,
            stripe_secret_key=os.environ.get("STRIPE_SECRET_KEY") or None,
            stripe_webhook_secret=os.environ.get("STRIPE_WEBHOOK_SECRET") or None,
            stripe_api_base=os.environ.get("STRIPE_API_BASE") or None,
            redis_url=os.environ.get("REDIS_URL") or None,
            mail_server=os.environ.get("MAIL_SERVER") or None,
            mail_port=_int("MAIL_PORT", 25),
            mail_default_sender=os.environ.get("MAIL_DEFAULT_SENDER", "shop@meso-needles.example"),
            currency=currency,
            min_shelf_life_months=_int("SHOP_MIN_SHELF_LIFE_MONTHS", 12),
            base_url=base_url or cls.base_url,
            shipping_amount=_int("SHOP_SHIPPING_AMOUNT", 1500),
            free_shipping_from=_int("SHOP_FREE_SHIPPING_FROM", 50000),
            bank_transfer_days=_int("SHOP_BANK_TRANSFER_DAYS", 7),
            guest_transfer_hours=_int("SHOP_GUEST_TRANSFER_HOURS", 48),
            max_open_transfers=_int("SHOP_MAX_OPEN_TRANSFERS", 3),
            checkout_limit=os.environ.get("SHOP_CHECKOUT_LIMIT") or cls.checkout_limit,
            bank_account_holder=bank["holder"],
            bank_iban=bank["iban"],
            bank_bic=bank["bic"],
            bank_name=bank["name"],
            bank_details=os.environ.get("SHOP_BANK_DETAILS") or bank_details_line(*bank.values()),
            staff_email=os.environ.get("SHOP_STAFF_EMAIL") or cls.staff_email,
            trusted_hosts=_list("TRUSTED_HOSTS")
            or ((urlsplit(base_url).hostname or "",) if production and base_url else None),
            proxy_hops=_int("SHOP_PROXY_HOPS", 0),
            db_connect_timeout=_int("DATABASE_CONNECT_TIMEOUT", 3),
            db_statement_timeout_ms=_int("DATABASE_STATEMENT_TIMEOUT_MS", 10_000),
            db_pool_timeout=_int("DATABASE_POOL_TIMEOUT", 5),
            mail_use_tls=_flag("MAIL_USE_TLS"),
            mail_use_ssl=_flag("MAIL_USE_SSL"),
            mail_username=os.environ.get("MAIL_USERNAME") or None,
            mail_password=os.environ.get("MAIL_PASSWORD") or None,
            mail_ca_file=os.environ.get("MAIL_CA_FILE") or None,
            sentry_dsn=os.environ.get("SENTRY_DSN") or None,
            log_format=log_format,
            require_verified_buyers=_flag("SHOP_REQUIRE_VERIFIED_BUYERS"),
            waived=waived,
            seller_country=seller_country,
            seller_vat_id=os.environ.get("SHOP_SELLER_VAT_ID") or cls.seller_vat_id,
            vat_rates=vat_rates,
        )
        if production:
            settings.check_production(base_url_given=bool(base_url))
        return settings

    def check_production(self, *, base_url_given: bool = True) -> None:
        """Refuse to run in production without what it needs; say everything missing."""
        missing = []
        if not self.secret_key:
            missing.append("SECRET_KEY (sessions and CSRF tokens are signed with it)")
        if not base_url_given:
            missing.append("SHOP_BASE_URL (every link in email and at Stripe is built on it)")
        if not self.database_url.startswith("postgresql") and "postgres" not in self.waived:
            missing.append("DATABASE_URL of PostgreSQL (or SHOP_WAIVE=postgres)")
        if not self.redis_url and "redis" not in self.waived:
            missing.append("REDIS_URL, shared by every process (or SHOP_WAIVE=redis)")
        if not self.mail_server and "mail" not in self.waived:
            missing.append("MAIL_SERVER (or SHOP_WAIVE=mail, and mail is only logged)")
        if self.mail_username and not (self.mail_use_tls or self.mail_use_ssl):
            missing.append("MAIL_USE_TLS or MAIL_USE_SSL (MAIL_USERNAME's password goes in clear)")
        if missing:
            raise ConfigError(
                "SHOP_ENV=production refuses to start without: " + "; ".join(missing) + "."
            )

    def flask_config(self) -> dict[str, Any]:
        """The mapping handed to `app.config`."""
        redis_deadlines = {"socket_timeout": REDIS_TIMEOUT, "socket_connect_timeout": REDIS_TIMEOUT}
        return {
            "SECRET_KEY": self.secret_key,
            "SQLALCHEMY_DATABASE_URI": self.database_url,
            "SQLALCHEMY_ENGINE_OPTIONS": engine_options(self.database_url, self),
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "SESSION_COOKIE_SECURE": self.production,
            "PERMANENT_SESSION_LIFETIME": timedelta(days=30),
            "REMEMBER_COOKIE_SECURE": self.production,
            "PREFERRED_URL_SCHEME": "https" if self.production else "http",
            "TRUSTED_HOSTS": list(self.trusted_hosts) if self.trusted_hosts else None,
            "WTF_CSRF_TIME_LIMIT": None,
            "SEND_FILE_MAX_AGE_DEFAULT": 3600,
            "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
            # Said outright: Flask-Limiter otherwise keeps what an earlier app in the same
            # process set (one app's tests turning limits off would turn them off for all).
            "RATELIMIT_ENABLED": True,
            "RATELIMIT_STORAGE_URI": self.redis_url or "memory://",
            "RATELIMIT_STORAGE_OPTIONS": redis_deadlines if self.redis_url else {},
            # Redis down: every process counts on its own until it is back, and says so.
            "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
            "RATELIMIT_SWALLOW_ERRORS": True,
            "RATELIMIT_HEADERS_ENABLED": True,
            "REMEMBER_COOKIE_HTTPONLY": True,
            "REMEMBER_COOKIE_SAMESITE": "Lax",
            "CACHE_TYPE": "RedisCache" if self.redis_url else "SimpleCache",
            "CACHE_REDIS_URL": self.redis_url,
            "CACHE_OPTIONS": redis_deadlines if self.redis_url else {},
            "CACHE_DEFAULT_TIMEOUT": 600,
            "CACHE_KEY_PREFIX": "shop:",
            "SHOP_CHECKOUT_LIMIT": self.checkout_limit,
            "SHOP_SETTINGS": self,
            **self.extra,
        }


# Seconds Redis may take to connect or answer before the shop goes on without it.
REDIS_TIMEOUT = 0.5


def engine_options(url: str, settings: Settings | None = None) -> dict[str, Any]:
    """SQLAlchemy's engine options: deadlines for connecting, for each statement and for
    a connection from the pool (PostgreSQL), the busy timeout on SQLite."""
    settings = settings or Settings(database_url=url, secret_key="")
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 15}}
    statement = settings.db_statement_timeout_ms
    return {
        "pool_size": 5,
        "max_overflow": 5,
        "pool_timeout": settings.db_pool_timeout,
        "pool_recycle": 1800,
        "connect_args": {
            "connect_timeout": settings.db_connect_timeout,
            # Server-side deadlines; a server that stops answering at all is cut off by the
            # client's own deadline (shop.db.limit_statement_time).
            "options": (
                f"-c statement_timeout={statement} -c lock_timeout={statement} "
                "-c idle_in_transaction_session_timeout=60000"
            ),
            "keepalives": 1,
            "keepalives_idle": 10,
            "keepalives_interval": 5,
            "keepalives_count": 3,
        },
    }
