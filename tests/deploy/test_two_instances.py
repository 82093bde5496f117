"""Two gunicorn instances (two workers each) on one database and one Redis, as behind a load
balancer: the sign-in limit counts across both, and buyers checking out at the same moment
on both never get more packs than the lots hold."""

from __future__ import annotations

import threading

from flask import Flask

from shop.extensions import db
from tests.conftest import WEBHOOK_SECRET
from tests.deploy.conftest import Buyer, RedisServer, shop_env
from tests.factories import make_user
from tests.flows import CONTACT, SKU, SLUG, lots, stock_needle
from tests.stripe_standin import StripeStandIn

SIGN_INS_PER_MINUTE = 10  # the sign-in form's limit per client address


def _wrong_sign_in(base_url: str) -> int:
    buyer = Buyer(base_url)
    buyer.get("/account/login")
    data = {"email": "buyer@clinic.example", "password": "not the password"}
    return buyer.post("/account/login", data, timeout=10).status_code


def test_the_sign_in_limit_counts_across_both_instances(
    app: Flask, database_url: str, own_redis: RedisServer, serve: type
) -> None:
    with app.app_context():
        make_user("buyer@clinic.example", role="buyer")
        db.session.commit()
    env = shop_env(database_url, REDIS_URL=own_redis.url)
    first, second = serve(env), serve(env)

    answers = [
        _wrong_sign_in((first if attempt % 2 else second).base_url)
        for attempt in range(SIGN_INS_PER_MINUTE + 2)
    ]

    # Each instance saw six attempts, under the limit on its own: only a shared count stops
    # the eleventh and twelfth.
    assert answers == [401] * SIGN_INS_PER_MINUTE + [429, 429]


def test_checkouts_at_once_on_both_instances_never_oversell(
    app: Flask,
    database_url: str,
    own_redis: RedisServer,
    stripe_standin: StripeStandIn,
    serve: type,
) -> None:
    stock_needle(app, {"L1": 8, "L2": 12})  # 20 packs in two lots
    env = shop_env(
        database_url,
        REDIS_URL=own_redis.url,
        STRIPE_SECRET_KEY="sk_test_shop",
        STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        STRIPE_API_BASE=stripe_standin.base_url,
        SHOP_CHECKOUT_LIMIT="1000 per minute",  # every buyer here comes from 127.0.0.1
    )
    shops = [serve(env), serve(env)]
    buyers = [Buyer(shops[n % 2].base_url) for n in range(12)]
    for buyer in buyers:
        buyer.add_to_cart(SLUG, SKU, 3)  # 12 buyers want 36 packs of the 20
    start = threading.Barrier(len(buyers))
    answers: list[tuple[int, str, str]] = []

    def check_out(number: int, buyer: Buyer) -> None:
        contact = {**CONTACT, "email": f"buyer{number}@clinic.example"}
        start.wait()
        response = buyer.post("/checkout", contact, timeout=60)
        answers.append((response.status_code, response.headers.get("Location", ""), response.text))

    threads = [threading.Thread(target=check_out, args=item) for item in enumerate(buyers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    sent_to_stripe = [a for a in answers if a[0] == 303]
    refused = [a for a in answers if a[0] == 409]
    others = [(s, t[t.find("<main") :][:600]) for s, _, t in answers if s not in (303, 409)]
    assert len(sent_to_stripe) + len(refused) == len(buyers), others
    assert len(sent_to_stripe) == 6  # 6 x 3 = 18 packs; a seventh would need 21
    assert all(location.startswith(stripe_standin.base_url) for _, location, _ in sent_to_stripe)
    assert all("Only 2 packs left." in text for _, _, text in refused)
    assert lots(app) == {"L1": (8, 8), "L2": (12, 10)}
