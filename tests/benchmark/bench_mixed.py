"""The mixed load: buyers browsing, searching, reading guides, filling carts and checking out
(most of them paying through the Stripe stand-in) at once, against the shop as deployed:
PostgreSQL, Redis, 2 gunicorn workers and the worker process. Then the ledger audit.

Also: the listing's throughput with checkouts running at a steady rate against without
them, in one run (a checkout must not throw away the cached listing).
"""

from __future__ import annotations

import random
import re
import secrets
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import bench_wrk
import requests
from bench_server import ROOT, Gunicorn, flask_cli

from tests.stripe_standin import StripeStandIn

WEBHOOK_SECRET = "whsec_bench_" + "0" * 24
# Share of each kind of step a user takes (browse, search, guides, add to cart, checkout).
MIX = {"browse": 45, "search": 20, "guides": 5, "add to cart": 20, "checkout": 10}
PAID_SHARE = 0.8  # checkouts paid at Stripe; the others are left open
# A buyer reads a page before the next step: a pause drawn from this range, in seconds.
THINK_SECONDS = (0.2, 1.0)
PAGE_KINDS = ("browse", "search", "guides")
TARGET_PAGE_P99_MS = 100.0
TARGET_LISTING_RATIO = 0.8
SEARCHES = ("32G", "meso", "4mm", "30G 4mm", "multi", "needle", "27G", "9 pins", "mn-3")
CONTACT = {
    "contact_name": "Dr Bench Load",
    "company": "Clinica Bench",
    "phone": "+34 600 000 000",
    "shipping_address": "Calle Mayor 1\n28013 Madrid",
    "country": "ES",
    "payment_method": "card",
}
_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@dataclass
class Sample:
    kind: str
    ms: float
    ok: bool
    what: str = ""


@dataclass
class Catalogue:
    """What the users pick from, read from the shop's API."""

    slugs: list[str]
    skus: list[tuple[str, str, int]]  # (product slug, sku, minimum order)
    guides: list[str]


def shop_env(
    base: dict[str, str], database_url: str, redis_url: str, stripe: str
) -> dict[str, str]:
    """The environment of the shop's processes under the mixed load."""
    return {
        **base,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "STRIPE_SECRET_KEY": "sk_test_bench",
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_API_BASE": stripe,
        # Every simulated buyer comes from 127.0.0.1: one address, many buyers.
        "SHOP_CHECKOUT_LIMIT": "1000000 per minute",
    }


def own_database(admin_url: str) -> tuple[str, Callable[[], None]]:
    """A new PostgreSQL database next to `admin_url`'s; its URL and how to drop it."""
    import psycopg

    name = f"shop_bench_{secrets.token_hex(4)}"
    parts = urlsplit(admin_url)
    plain = urlunsplit(("postgresql", parts.netloc, parts.path, "", ""))
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", "")), drop


def stock_up(env: dict[str, str], packs: int) -> None:
    """Give every variant a fresh lot of `packs` packs, booked through the shop's own code."""
    script = f"""
from datetime import date, timedelta
from sqlalchemy import select
from shop import create_app
from shop.catalog.models import Variant
from shop.extensions import db
from shop.inventory import services as inventory
app = create_app()
with app.app_context():
    inventory.lock_stock()
    for variant in db.session.scalars(select(Variant).where(Variant.is_active.is_(True))):
        inventory.receive_lot(
            variant, lot_number=f"BENCH-{{variant.id}}", made_on=date.today(),
            expires_on=date.today() + timedelta(days=1500), quantity={packs},
            actor="bench", reason="bench stock")
    db.session.commit()
"""
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True)  # noqa: S603


def read_catalogue(base_url: str) -> Catalogue:
    slugs, skus = [], []
    url: str | None = base_url + "/api/v1/products"
    while url:
        answer = requests.get(url, timeout=30).json()
        for product in answer["products"]:
            slugs.append(product["slug"])
            for variant in product["variants"]:
                skus.append((product["slug"], variant["sku"], variant["min_order_quantity"]))
        url = answer.get("next")
        if url:
            url = base_url + urlsplit(url).path + "?" + urlsplit(url).query
    guides = re.findall(r'href="(/guides/[a-z0-9-]+)"', requests.get(base_url + "/guides").text)
    return Catalogue(slugs, skus, sorted(set(guides)))


class User:
    """One buyer: a cookie jar, the CSRF token of its session, and what is in its cart."""

    def __init__(
        self, base_url: str, catalogue: Catalogue, standin: StripeStandIn, rng: random.Random
    ) -> None:
        self.base_url = base_url
        self.catalogue = catalogue
        self.standin = standin
        self.rng = rng
        self.http = requests.Session()
        self.token = ""
        self.in_cart = False
        self.samples: list[Sample] = []
        self.orders = 0

    def _timed(self, kind: str, method: str, path: str, ok: set[int], **kw: Any) -> Any:
        began = time.perf_counter()
        try:
            response = self.http.request(
                method, self.base_url + path, allow_redirects=False, timeout=30, **kw
            )
        except requests.RequestException as exc:
            self.samples.append(Sample(kind, (time.perf_counter() - began) * 1000, False, str(exc)))
            return None
        ms = (time.perf_counter() - began) * 1000
        good = response.status_code in ok
        what = "" if good else f"{method} {path} -> {response.status_code}"
        self.samples.append(Sample(kind, ms, good, what))
        if "text/html" in response.headers.get("Content-Type", ""):
            match = _TOKEN.search(response.text)
            if match:
                self.token = match.group(1)
        return response

    def step(self) -> None:
        kind = self.rng.choices(list(MIX), weights=list(MIX.values()))[0]
        getattr(self, "_" + kind.replace(" ", "_"))()

    def _browse(self) -> None:
        path = self.rng.choice(
            ["/", "/products", "/products?sort=price", "/products?kind=meso-needle"]
            + [f"/products/{slug}" for slug in self.rng.sample(self.catalogue.slugs, 3)]
        )
        self._timed("browse", "GET", path, {200})

    def _search(self) -> None:
        query = self.rng.choice(SEARCHES)
        self._timed("search", "GET", "/products", {200}, params={"q": query})

    def _guides(self) -> None:
        self._timed("guides", "GET", self.rng.choice(["/guides", *self.catalogue.guides]), {200})

    def _add_to_cart(self) -> None:
        slug, sku, minimum = self.rng.choice(self.catalogue.skus)
        self._timed("add to cart", "GET", f"/products/{slug}", {200})
        data = {"sku": sku, "quantity": str(minimum), "csrf_token": self.token}
        if self._timed("add to cart", "POST", "/cart/add", {303}, data=data) is not None:
            self.in_cart = True

    def _checkout(self) -> None:
        if not self.in_cart:
            self._add_to_cart()
        self._timed("checkout", "GET", "/cart", {200})
        email = f"bench{self.rng.randrange(10**9)}@clinic.example"
        data = {**CONTACT, "email": email, "csrf_token": self.token}
        response = self._timed("checkout", "POST", "/checkout", {303}, data=data)
        if response is None or response.status_code != 303:
            return
        self.in_cart = False
        self.orders += 1
        session_id = response.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
        if self.rng.random() >= PAID_SHARE:
            return  # left open at Stripe
        paid = self.standin.complete(session_id)
        body, headers = StripeStandIn.webhook_request(
            self.standin.event("checkout.session.completed", paid), WEBHOOK_SECRET
        )
        self._timed("checkout", "POST", "/stripe/webhook", {200}, data=body, headers=headers)
        self._timed("checkout", "GET", f"/checkout/success?session_id={session_id}", {200, 303})


@dataclass
class MixedResult:
    seconds: float
    users: int
    samples: list[Sample] = field(default_factory=list)
    orders: int = 0

    def by_kind(self) -> dict[str, list[Sample]]:
        kinds: dict[str, list[Sample]] = defaultdict(list)
        for sample in self.samples:
            kinds[sample.kind].append(sample)
        return kinds


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))]


def run_users(
    base_url: str, catalogue: Catalogue, standin: StripeStandIn, users: int, seconds: float
) -> MixedResult:
    """`users` buyers taking steps back to back for `seconds`."""
    crowd = [User(base_url, catalogue, standin, random.Random(n)) for n in range(users)]
    stop_at = time.monotonic() + seconds

    def loop(user: User) -> None:
        while time.monotonic() < stop_at:
            user.step()
            time.sleep(user.rng.uniform(*THINK_SECONDS))

    began = time.monotonic()
    threads = [threading.Thread(target=loop, args=(user,)) for user in crowd]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result = MixedResult(time.monotonic() - began, users)
    for user in crowd:
        result.samples.extend(user.samples)
        result.orders += user.orders
    return result


def steady_checkouts(
    base_url: str, catalogue: Catalogue, standin: StripeStandIn, per_second: float
) -> tuple[Callable[[], int], threading.Event]:
    """Buyers checking out (and paying) at `per_second` in the background until the event is
    set; returns how to read how many were placed."""
    done = threading.Event()
    placed = [0]
    lock = threading.Lock()

    def one(n: int) -> None:
        user = User(base_url, catalogue, standin, random.Random(10_000 + n))
        user._add_to_cart()
        user._checkout()
        with lock:
            placed[0] += user.orders

    def loop() -> None:
        n = 0
        next_at = time.monotonic()
        workers: list[threading.Thread] = []
        while not done.is_set():
            thread = threading.Thread(target=one, args=(n,))
            thread.start()
            workers.append(thread)
            n += 1
            next_at += 1 / per_second
            done.wait(max(0.0, next_at - time.monotonic()))
        for thread in workers:
            thread.join()

    threading.Thread(target=loop, daemon=True).start()
    return lambda: placed[0], done


def audit(env: dict[str, str]) -> tuple[int, str]:
    """`flask --app shop audit`: its exit code and output."""
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "flask", "--app", "shop", "audit"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode, (result.stdout + result.stderr).strip()


def summarise(result: MixedResult) -> list[dict[str, Any]]:
    rows = []
    for kind, samples in [*result.by_kind().items(), ("all", result.samples)]:
        times = [s.ms for s in samples]
        rows.append(
            {
                "kind": kind,
                "requests": len(samples),
                "rps": len(samples) / result.seconds,
                "p50_ms": statistics.median(times),
                "p99_ms": percentile(times, 99),
                "max_ms": max(times),
                "errors": sum(1 for s in samples if not s.ok),
                "error_examples": sorted({s.what for s in samples if not s.ok})[:5],
            }
        )
    order = [*MIX, "all"]
    return sorted(rows, key=lambda row: order.index(row["kind"]))


def page_views_p99(result: MixedResult) -> float:
    return percentile([s.ms for s in result.samples if s.kind in PAGE_KINDS], 99)


def start_worker(env: dict[str, str], log_path: Any) -> subprocess.Popen[bytes]:
    log = open(log_path, "ab")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "flask", "--app", "shop", "worker", "--interval", "1"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def stop_worker(worker: subprocess.Popen[bytes]) -> None:
    worker.terminate()
    try:
        worker.wait(timeout=20)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


def listing_under_checkouts(
    server: Gunicorn, catalogue: Catalogue, standin: StripeStandIn, seconds: int, rate: float
) -> dict[str, Any]:
    """wrk on /products without checkouts, then while checkouts run at `rate` per second."""
    url = server.base_url + "/products"
    bench_wrk.run(url, 1)
    quiet = bench_wrk.run(url, seconds)
    placed, done = steady_checkouts(server.base_url, catalogue, standin, rate)
    try:
        busy = bench_wrk.run(url, seconds)
    finally:
        done.set()
    time.sleep(2)
    return {
        "quiet": quiet.to_json(),
        "with_checkouts": busy.to_json(),
        "checkouts_placed": placed(),
        "checkout_rate": rate,
        "ratio": busy.rps / quiet.rps,
    }


__all__ = [
    "MIX",
    "TARGET_LISTING_RATIO",
    "TARGET_PAGE_P99_MS",
    "audit",
    "flask_cli",
    "listing_under_checkouts",
    "own_database",
    "page_views_p99",
    "read_catalogue",
    "run_users",
    "shop_env",
    "start_worker",
    "stock_up",
    "stop_worker",
    "summarise",
]
