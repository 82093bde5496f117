"""Search latency per query class, cold and warm, with one sequential HTTP client."""

from __future__ import annotations

import http.client
import itertools
import math
import random
import re
import secrets
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa

from shop.demo import SERIES

# Sort orders in the order the cold URLs use them, "name" (the default) first.
SORTS = ("name", "-price", "price", "-name")
# A word only the hand-written demo catalogue has ("Meso Needle 32G Thin Wall").
DEMO_ONLY_WORD = "thin"
COMMON_WORD = "needle"
PREFIXES = tuple("mscpnrtabdeghlwfkoiuyvqz")
_TOTAL = re.compile(r'class="results-count"[^>]*>\s*(\d+) products?')


@dataclass
class QueryClass:
    """A kind of search and the distinct URLs that exercise it."""

    name: str
    describe: str
    urls: list[str]


@dataclass
class Sample:
    url: str
    ms: float
    status: int
    worker: int
    matches: int


@dataclass
class ClassResult:
    """Cold and warm samples of one query class."""

    query_class: QueryClass
    cold: list[Sample] = field(default_factory=list)
    warm: list[Sample] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(1 for s in self.cold + self.warm if s.status != 200)

    def to_json(self) -> dict[str, Any]:
        return {
            "class": self.query_class.name,
            "describe": self.query_class.describe,
            "urls": len(self.query_class.urls),
            "median_matches": median([s.matches for s in self.cold]),
            "errors": self.errors,
            "cold_ms": summary([s.ms for s in self.cold]),
            "warm_ms": summary([s.ms for s in self.warm]),
            "cold_samples": [[s.url, round(s.ms, 2), s.status, s.matches] for s in self.cold],
        }


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (with 50 samples, p99 is the largest)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


def summary(values: Sequence[float]) -> dict[str, float | int]:
    return {
        "n": len(values),
        "p50": round(percentile(values, 50), 2),
        "p99": round(percentile(values, 99), 2),
        "max": round(max(values), 2) if values else math.nan,
    }


def search_url(q: str, sort: str = "name", page: int = 1) -> str:
    args: dict[str, str | int] = {"q": q}
    if sort != "name":
        args["sort"] = sort
    if page != 1:
        args["page"] = page
    return "/products?" + urlencode(args)


def distinct_urls(words: Sequence[str], count: int) -> list[str]:
    """`count` distinct search URLs: every word first, then other sorts, then further pages."""
    combos = (
        search_url(word, sort, page)
        for page in itertools.count(1)
        for sort in SORTS
        for word in words
    )
    return list(itertools.islice(combos, count))


def random_skus(database_url: str, count: int, seed: int = 1) -> list[str]:
    """`count` real SKUs, picked at random (but repeatably) from the database."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            skus = list(conn.execute(sa.text("SELECT sku FROM variants ORDER BY id")).scalars())
    finally:
        engine.dispose()
    return random.Random(seed).sample(skus, min(count, len(skus)))


def query_classes(database_url: str, count: int) -> list[QueryClass]:
    """The four classes, `count` distinct URLs each."""
    rare = [DEMO_ONLY_WORD, *SERIES]
    return [
        QueryClass(
            "rare word",
            f"a series name (~1/{len(SERIES)} of generated products) or '{DEMO_ONLY_WORD}'",
            distinct_urls(rare, count),
        ),
        QueryClass(
            "common word",
            f"'{COMMON_WORD}' (every meso needle), other sorts and pages",
            distinct_urls([COMMON_WORD], count),
        ),
        QueryClass(
            "1-letter prefix",
            f"'{PREFIXES[0]}', '{PREFIXES[1]}', ... (prefix of many words), other sorts",
            distinct_urls(PREFIXES, count),
        ),
        QueryClass(
            "SKU",
            "a whole SKU picked at random from the database",
            distinct_urls(random_skus(database_url, count), count),
        ),
    ]


class Client:
    """A sequential HTTP/1.1 client asking for keep-alive (gunicorn's sync workers close)."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def get(self, url: str) -> Sample:
        start = time.perf_counter()
        self.conn.request("GET", url, headers={"Connection": "keep-alive"})
        response = self.conn.getresponse()
        body = response.read()
        ms = (time.perf_counter() - start) * 1000
        total = _TOTAL.search(body.decode("utf-8", "replace"))
        return Sample(
            url=url,
            ms=ms,
            status=response.status,
            worker=int(response.getheader("X-Bench-Worker") or 0),
            matches=int(total.group(1)) if total else 0,
        )

    def close(self) -> None:
        self.conn.close()


def prime_workers(port: int, workers: int, attempts: int = 20) -> set[int]:
    """Have every worker render a catalogue page and a search page not measured later: its
    templates compiled, its database connection open, and what it keeps per catalogue version
    (whatever /products itself computes) made, as in a shop that is already serving.

    Requests go out four at a time, so that each worker takes some.
    """
    urls = ("/products?page={n}", "/products?q=meso&page={n}")

    def one(number: int) -> tuple[int, int]:
        client = Client(port)
        try:
            kind = number % len(urls)
            return client.get(urls[kind].format(n=100 + number)).worker, kind
        finally:
            client.close()

    seen: dict[int, set[int]] = {}
    with ThreadPoolExecutor(max_workers=4) as pool:
        for attempt in range(attempts):
            for worker, kind in pool.map(one, range(attempt * 4, attempt * 4 + 4)):
                seen.setdefault(worker, set()).add(kind)
            primed = {w for w, kinds in seen.items() if len(kinds) == len(urls)}
            if len(primed) >= workers:
                break
    return {w for w, kinds in seen.items() if len(kinds) == len(urls)}


def measure(
    port: int, classes: Iterable[QueryClass], *, shared_cache: bool, max_passes: int = 10
) -> list[ClassResult]:
    """Cold: every URL once, in order. Warm: the same URLs again until each one has been
    served from the page cache: by a worker that had already rendered it when each worker has
    its own cache, by any worker when they share one (Redis)."""
    results = [ClassResult(c) for c in classes]
    served: set[tuple[int, str]] = set()
    client = Client(port)
    try:
        for result in results:
            for url in result.query_class.urls:
                sample = client.get(url)
                result.cold.append(sample)
                served.add((sample.worker, url))
        for result in results:
            waiting = list(result.query_class.urls)
            for _ in range(max_passes):
                if not waiting:
                    break
                still = []
                for url in waiting:
                    sample = client.get(url)
                    if shared_cache or (sample.worker, url) in served:
                        result.warm.append(sample)
                    else:
                        served.add((sample.worker, url))
                        still.append(url)
                waiting = still
    finally:
        client.close()
    return results


AFTER_CHANGE_URLS = (
    "/products",
    search_url(COMMON_WORD, "price"),
    search_url(PREFIXES[0], "-name"),
    search_url(SERIES[0], "-price"),
)


class Changes:
    """Stock and catalogue changes made through the shop's own code (as staff, an order or
    the admin make them), committed to the benchmark's database."""

    def __init__(self, database_url: str) -> None:
        from shop import create_app

        self.app = create_app(
            {"SQLALCHEMY_DATABASE_URI": database_url, "CACHE_TYPE": "SimpleCache"}
        )
        self.made = 0
        self.run = secrets.token_hex(3)  # lot numbers of this run only

    def stock(self) -> None:
        """A lot of one pack received: a stock change."""
        from shop.catalog.models import Variant
        from shop.extensions import db
        from shop.inventory.services import receive_lot

        self.made += 1
        today = date.today()
        with self.app.app_context():
            variant = db.session.scalar(sa.select(Variant).order_by(Variant.id).limit(1))
            receive_lot(
                variant,
                lot_number=f"BENCH-{self.run}-{self.made}",
                made_on=today - timedelta(days=10),
                expires_on=today + timedelta(days=1500),
                quantity=1,
                actor="bench",
            )
            db.session.commit()

    def catalogue(self) -> None:
        """One product's derived data refreshed, as after an edit: a catalogue change."""
        from shop.catalog.models import Product
        from shop.catalog.services import refresh_derived
        from shop.extensions import db

        with self.app.app_context():
            refresh_derived([db.session.scalar(sa.select(Product).order_by(Product.id).limit(1))])
            db.session.commit()

    def close(self) -> None:
        from shop.extensions import db

        with self.app.app_context():
            db.session.remove()
            db.engine.dispose()


def measure_after_change(
    port: int, database_url: str, rounds: int = 3
) -> dict[tuple[str, str], list[Sample]]:
    """Each of AFTER_CHANGE_URLS (with a page number not asked for before) right after a
    stock change, and right after a catalogue change: the page cache misses, and the worker
    rebuilds its catalogue index if the change invalidated it."""
    changes = Changes(database_url)
    client = Client(port)
    samples: dict[tuple[str, str], list[Sample]] = {}
    try:
        number = 0
        for kind, change in (("stock", changes.stock), ("catalogue", changes.catalogue)):
            for _ in range(rounds):
                for url in AFTER_CHANGE_URLS:
                    change()
                    number += 1
                    separator = "&" if "?" in url else "?"
                    sample = client.get(f"{url}{separator}page={50 + number}")
                    samples.setdefault((kind, url), []).append(sample)
    finally:
        client.close()
        changes.close()
    return samples
