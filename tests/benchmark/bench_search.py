"""Search latency per query class, cold and warm, with one sequential HTTP client."""

from __future__ import annotations

import http.client
import itertools
import math
import random
import re
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
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
    """Have every worker render a search page not measured later (templates compiled, DB open).

    Requests go out four at a time, so that each worker takes some.
    """

    def one(number: int) -> int:
        client = Client(port)
        try:
            return client.get(search_url("meso", "name", 100 + number)).worker
        finally:
            client.close()

    seen: set[int] = set()
    with ThreadPoolExecutor(max_workers=4) as pool:
        for attempt in range(attempts):
            seen.update(pool.map(one, range(attempt * 4, attempt * 4 + 4)))
            if len(seen) >= workers:
                break
    return seen


def measure(port: int, classes: Iterable[QueryClass], max_passes: int = 10) -> list[ClassResult]:
    """Cold: every URL once, in order. Warm: the same URLs again until each one has been
    served by a worker that had already rendered it (the page cache is per worker)."""
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
                    if (sample.worker, url) in served:
                        result.warm.append(sample)
                    else:
                        served.add((sample.worker, url))
                        still.append(url)
                waiting = still
    finally:
        client.close()
    return results
