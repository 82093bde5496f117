"""Absolute links (email, Stripe's return pages, canonical links, the sitemap, the API):
built on SHOP_BASE_URL only, never on the Host header a request came with."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from werkzeug.routing import MapAdapter


def _adapter() -> MapAdapter:
    adapter: MapAdapter | None = current_app.extensions.get("base_url_adapter")
    if adapter is None:
        base = urlsplit(current_app.config["SHOP_SETTINGS"].base_url)
        adapter = current_app.url_map.bind(
            base.netloc, script_name=base.path or "/", url_scheme=base.scheme or "http"
        )
        current_app.extensions["base_url_adapter"] = adapter
    return adapter


def external_url(endpoint: str, **values: Any) -> str:
    """The absolute URL of an endpoint on the shop's own address (SHOP_BASE_URL)."""
    return _adapter().build(endpoint, values, force_external=True)
