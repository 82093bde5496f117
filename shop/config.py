"""Typed settings read from the environment (and a `.env` file when present)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


def _development_secret_key(instance_dir: Path) -> str:
    """A key made once and kept under instance/, so every worker process shares it."""
    instance_dir.mkdir(parents=True, exist_ok=True)
    path = instance_dir / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


@dataclass(frozen=True)
class Settings:
    """Everything the shop reads from its environment."""

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
    bank_details: str = "Meso Needle Works Ltd · IBAN DE00 0000 0000 0000 0000 00 · BIC EXAMPLEXXX"
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
        if not secret_key:
            if production:
                raise ConfigError("SECRET_KEY is required when SHOP_ENV=production")
            secret_key = _development_secret_key(instance_dir)
        database_url = os.environ.get("DATABASE_URL")
        if not database_url:
            instance_dir.mkdir(parents=True, exist_ok=True)
            database_url = f"sqlite:///{instance_dir / 'shop.sqlite3'}"
        currency = os.environ.get("SHOP_CURRENCY", "usd").lower()
        if len(currency) != 3 or not currency.isalpha():
            raise ConfigError(f"SHOP_CURRENCY must be an ISO 4217 code, got {currency!r}")
        return cls(
            database_url=database_url,
            secret_key=secret_key,
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
            base_url=os.environ.get("SHOP_BASE_URL", cls.base_url).rstrip("/"),
            shipping_amount=_int("SHOP_SHIPPING_AMOUNT", 1500),
            free_shipping_from=_int("SHOP_FREE_SHIPPING_FROM", 50000),
            bank_transfer_days=_int("SHOP_BANK_TRANSFER_DAYS", 7),
            guest_transfer_hours=_int("SHOP_GUEST_TRANSFER_HOURS", 48),
            max_open_transfers=_int("SHOP_MAX_OPEN_TRANSFERS", 3),
            bank_details=os.environ.get("SHOP_BANK_DETAILS", cls.bank_details),
        )

    def flask_config(self) -> dict[str, Any]:
        """The mapping handed to `app.config`."""
        return {
            "SECRET_KEY": self.secret_key,
            "SQLALCHEMY_DATABASE_URI": self.database_url,
            "SQLALCHEMY_ENGINE_OPTIONS": engine_options(self.database_url),
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "SESSION_COOKIE_SECURE": self.production,
            "REMEMBER_COOKIE_SECURE": self.production,
            "PREFERRED_URL_SCHEME": "https" if self.production else "http",
            "WTF_CSRF_TIME_LIMIT": None,
            "SEND_FILE_MAX_AGE_DEFAULT": 3600,
            "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
            "RATELIMIT_STORAGE_URI": self.redis_url or "memory://",
            "RATELIMIT_HEADERS_ENABLED": True,
            "REMEMBER_COOKIE_HTTPONLY": True,
            "REMEMBER_COOKIE_SAMESITE": "Lax",
            "CACHE_TYPE": "RedisCache" if self.redis_url else "SimpleCache",
            "CACHE_REDIS_URL": self.redis_url,
            "CACHE_DEFAULT_TIMEOUT": 600,
            "CACHE_KEY_PREFIX": "shop:",
            "SHOP_SETTINGS": self,
            **self.extra,
        }


def engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30}}
    return {"pool_pre_ping": True, "pool_size": 5, "max_overflow": 5}
