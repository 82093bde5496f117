"""Buyers in a separate process, for the oversell test (imported by spawned processes)."""

from __future__ import annotations

import dataclasses
import os
import re
import threading
from typing import Any

from shop import create_app

CONTACT = {
    "email": "buyer@clinic.example",
    "contact_name": "Buyer",
    "shipping_address": "Calle Mayor 1, 28013 Madrid",
    "country": "ES",
    "payment_method": "card",
}


def _token(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match
    return match.group(1)


def buy(
    database_url: str,
    stripe_base: str,
    secret: str,
    buyers: int,
    sku: str,
    slug: str,
    start: Any,
    results: Any,
) -> None:
    """`buyers` threads each put one pack in a cart, wait for `start`, then check out."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "TESTING": True})
    app.config["SHOP_SETTINGS"] = dataclasses.replace(
        app.config["SHOP_SETTINGS"],
        stripe_secret_key="sk_test_shop",
        stripe_webhook_secret=secret,
        stripe_api_base=stripe_base,
    )
    ready = threading.Barrier(buyers + 1)

    def one(n: int) -> None:
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"10.{os.getpid() % 250}.{n}.1"  # many clinics
        page = client.get(f"/products/{slug}").get_data(as_text=True)
        added = client.post(
            "/cart/add", data={"sku": sku, "quantity": "1", "csrf_token": _token(page)}
        )
        token = _token(client.get("/cart").get_data(as_text=True))
        ready.wait()
        start.wait()
        response = client.post("/checkout", data={**CONTACT, "csrf_token": token})
        body = response.get_data(as_text=True)
        left = re.search(r"Only \d+ packs? left\.", body)
        results.put(
            (
                added.status_code,
                response.status_code,
                response.location,
                left.group(0) if left else "",
            )
        )

    threads = [threading.Thread(target=one, args=(n,)) for n in range(buyers)]
    for thread in threads:
        thread.start()
    ready.wait()
    for thread in threads:
        thread.join()
