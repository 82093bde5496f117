"""Stripe accepts the connection and never answers: the buyer gets the shop's 503 page
within 15 s with nothing reserved, and the shop keeps answering meanwhile."""

from __future__ import annotations

import threading
import time

from flask import Flask

from tests.conftest import WEBHOOK_SECRET
from tests.deploy.conftest import Buyer, shop_env
from tests.flows import CONTACT, SKU, SLUG, lots, stock_needle
from tests.stripe_standin import StripeStandIn


def test_a_hanging_stripe_gives_a_503_in_time_and_keeps_the_shop_up(
    app: Flask, database_url: str, stripe_standin: StripeStandIn, serve: type
) -> None:
    stock_needle(app, {"L1": 20})
    shop = serve(
        shop_env(
            database_url,
            STRIPE_SECRET_KEY="sk_test_shop",
            STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
            STRIPE_API_BASE=stripe_standin.base_url,
        )
    )
    buyers = [Buyer(shop.base_url) for _ in range(2)]
    for buyer in buyers:
        buyer.add_to_cart(SLUG, SKU, 3)
    stripe_standin.hang = True
    answers: list[tuple[int, float, str]] = []

    def check_out(buyer: Buyer) -> None:
        began = time.monotonic()
        response = buyer.post("/checkout", CONTACT, timeout=60)
        answers.append((response.status_code, time.monotonic() - began, response.text))

    threads = [threading.Thread(target=check_out, args=(b,)) for b in buyers]
    for thread in threads:
        thread.start()
    while len(stripe_standin.requests) < 2:  # both checkouts are waiting on Stripe now
        time.sleep(0.05)
    health_times = []
    while any(t.is_alive() for t in threads):
        began = time.monotonic()
        health = Buyer(shop.base_url).get("/healthz", timeout=10)
        health_times.append(time.monotonic() - began)
        assert health.status_code == 200
        time.sleep(0.5)
    for thread in threads:
        thread.join()
    assert [status for status, _, _ in answers] == [503, 503]
    assert max(seconds for _, seconds, _ in answers) < 15
    assert all("Card payment is unavailable right now" in text for _, _, text in answers)
    assert len(health_times) > 3 and max(health_times) < 2
    assert lots(app) == {"L1": (20, 0)}  # nothing stays reserved
