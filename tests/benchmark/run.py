"""`make bench`: throughput and latency of the shop's pages against a bare Flask endpoint, and
search latency on a large catalogue, all through gunicorn (2 sync workers) on a fresh database.

    .venv/bin/python tests/benchmark/run.py [--seconds 5] [--rounds 3] [--database-url URL]
                                            [--redis-url URL]

With REDIS_URL set (or --redis-url), the shop runs as documented for several processes: one
Redis cache shared by the workers. Each run keeps its keys under a prefix of its own and
deletes them at the end. Without it, each worker has its own in-process cache.

Prints tables and writes bench-results/latest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

import bench_mixed
import bench_search
import bench_wrk
from bench_server import BARE_APP, ROOT, Gunicorn, bench_gunicorn, flask_cli
from bench_wrk import WrkResult

from tests.stripe_standin import StripeStandIn

BARE = "bare Flask app"  # the reference: a separate app (wsgi_bare.py), its own gunicorn
PAGES = ("/products", "/products/meso-needle-32g")
TARGET_RATIO = 0.5
TARGET_P99_MS = 50.0
RESULTS = ROOT / "bench-results" / "latest.json"
SLOW_SEED_S = 180.0
BUSY_LOAD = 0.5


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=5, help="length of each wrk run (5)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of page runs (3)")
    parser.add_argument(
        "--database-url",
        help="use this database (e.g. postgresql+psycopg://...) instead of a temporary SQLite "
        "file; it is migrated and seeded as it is, and not dropped afterwards",
    )
    parser.add_argument(
        "--variants", type=int, default=100_000, help="size of the large catalogue (100000)"
    )
    parser.add_argument(
        "--samples", type=int, default=50, help="search requests per query class (50)"
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("REDIS_URL") or "",
        help="serve with this shared Redis cache (default: $REDIS_URL; '' for one in-process "
        "cache per worker)",
    )
    parser.add_argument(
        "--no-gc-freeze",
        action="store_true",
        help="do not have the workers call gc.freeze() after making the app",
    )
    parser.add_argument(
        "--phases",
        default="pages,search,mixed",
        help="what to run, comma-separated: pages (demo catalogue), search (large catalogue: "
        "search and pages), mixed (the mixed load on PostgreSQL and Redis); default all",
    )
    parser.add_argument("--users", type=int, default=30, help="mixed-load users (30)")
    parser.add_argument(
        "--mixed-seconds", type=int, default=30, help="length of the mixed load (30)"
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL")
        or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL server where the mixed load makes (and then drops) a database",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    if args.seconds < 1 or args.rounds < 1 or args.samples < 1:
        parser.error("--seconds, --rounds and --samples must be positive")
    args.phases = {p.strip() for p in args.phases.split(",") if p.strip()}
    if not args.phases or args.phases - {"pages", "search", "mixed"}:
        parser.error("--phases takes pages, search and mixed")
    return args


def say(text: str = "") -> None:
    print(text, flush=True)


def heading(text: str) -> None:
    say()
    say(text)
    say("=" * len(text))


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], align: str) -> None:
    """Print rows under headers; `align` holds one of '<' or '>' per column."""
    cells = [[str(c) for c in row] for row in [headers, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for number, row in enumerate(cells):
        say("  ".join(f"{c:{a}{w}}" for c, a, w in zip(row, align, widths, strict=True)).rstrip())
        if number == 0:
            say("  ".join("-" * w for w in widths))


def check_pages(server: Gunicorn, urls: Sequence[str]) -> dict[str, int]:
    """GET each URL once: it must answer 200. Returns the body sizes."""
    client = bench_search.Client(server.port)
    sizes = {}
    try:
        for url in urls:
            client.conn.request("GET", url)
            response = client.conn.getresponse()
            body = response.read()
            if response.status != 200:
                raise RuntimeError(f"GET {url} answered {response.status}")
            sizes[url] = len(body)
    finally:
        client.close()
    return sizes


def page_runs(
    server: Gunicorn, bare_server: Gunicorn, seconds: int, rounds: int
) -> dict[str, list[WrkResult]]:
    """wrk on the bare app, /products, the bare app, the product page, `rounds` times, after
    a 1 s warm-up each."""
    bare_url = bare_server.base_url + "/"
    for url in (bare_url, *(server.base_url + page for page in PAGES)):
        bench_wrk.run(url, 1)
    runs: dict[str, list[WrkResult]] = {url: [] for url in (BARE, *PAGES)}
    for number in range(1, rounds + 1):
        line = []
        for url in PAGES:
            bare = bench_wrk.run(bare_url, seconds)
            page = bench_wrk.run(server.base_url + url, seconds)
            runs[BARE].append(bare)
            runs[url].append(page)
            line.append(f"bare {bare.rps:.0f}, {url} {page.rps:.0f}")
        say(f"  round {number}/{rounds} (req/s): " + "; ".join(line))
    return runs


def summarise_pages(runs: dict[str, list[WrkResult]]) -> list[dict[str, Any]]:
    """Medians over rounds; a page's ratio pairs each run with the bare run just before it."""
    bare_runs = runs[BARE]
    summary = []
    for url, results in runs.items():
        if url == BARE:
            ratios = [1.0] * len(results)
        else:
            # bare runs alternate: [before /products, before product page] per round
            index = PAGES.index(url)
            ratios = [r.rps / bare_runs[i * len(PAGES) + index].rps for i, r in enumerate(results)]
        row: dict[str, Any] = {
            "url": url,
            "rps": statistics.median(r.rps for r in results),
            "p50_ms": statistics.median(r.p50_ms for r in results),
            "p99_ms": statistics.median(r.p99_ms for r in results),
            "p99_ms_worst": max(r.p99_ms for r in results),
            "ratio": statistics.median(ratios),
            "errors": sum(r.errors for r in results),
            "runs": [r.to_json() for r in results],
        }
        if url != BARE:
            row["pass"] = row["ratio"] >= TARGET_RATIO and row["p99_ms"] < TARGET_P99_MS
        summary.append(row)
    return summary


def print_pages(summary: list[dict[str, Any]], sizes: dict[str, int]) -> None:
    rows = []
    for row in summary:
        if "pass" not in row:
            verdict = "reference"
        else:
            misses = []
            if row["ratio"] < TARGET_RATIO:
                misses.append(f"ratio < {TARGET_RATIO}")
            if row["p99_ms"] >= TARGET_P99_MS:
                misses.append(f"p99 >= {TARGET_P99_MS:g} ms")
            verdict = "PASS" if row["pass"] else "MISS (" + ", ".join(misses) + ")"
        rows.append(
            [
                row["url"],
                f"{sizes.get(row['url'], 0) / 1024:.1f}",
                f"{row['rps']:.0f}",
                f"{row['p50_ms']:.1f}",
                f"{row['p99_ms']:.1f}",
                f"{row['ratio']:.2f}",
                row["errors"],
                verdict,
            ]
        )
    table(
        ["URL", "KiB", "req/s", "p50 ms", "p99 ms", "vs bare", "errors", "target"],
        rows,
        "<>>>>>><",
    )
    say(
        f"(medians over rounds; 'vs bare' = req/s / req/s of the bare run just before it; "
        f"target: vs bare >= {TARGET_RATIO} and p99 < {TARGET_P99_MS:g} ms)"
    )


def print_search(results: list[bench_search.ClassResult]) -> None:
    rows = []
    for result in results:
        cold = bench_search.summary([s.ms for s in result.cold])
        warm = bench_search.summary([s.ms for s in result.warm])
        rows.append(
            [
                result.query_class.name,
                f"{bench_search.median([s.matches for s in result.cold]):.0f}",
                cold["n"],
                f"{cold['p50']:.1f}",
                f"{cold['p99']:.1f}",
                f"{cold['max']:.1f}",
                warm["n"],
                f"{warm['p50']:.1f}",
                f"{warm['p99']:.1f}",
                f"{warm['max']:.1f}",
                result.errors,
            ]
        )
    table(
        [
            "class",
            "matches",
            "cold n",
            "p50 ms",
            "p99 ms",
            "max ms",
            "warm n",
            "p50 ms",
            "p99 ms",
            "max ms",
            "errors",
        ],
        rows,
        "<>>>>>>>>>>",
    )
    for result in results:
        say(f"  {result.query_class.name}: {result.query_class.describe}")


def search_note(shared_cache: bool) -> str:
    """What 'cold' and 'warm' mean in the search table."""
    if shared_cache:
        cache = "the Redis cache both workers share (this gunicorn's keys only)"
        hit = "served before by either worker"
    else:
        cache = "the in-process cache of the worker (one SimpleCache per worker)"
        hit = "served before by the same\n      worker (X-Bench-Worker header)"
    return f"""\
cold: every URL is distinct (query word x sort x page) and asked for the first time since
      gunicorn restarted, so the page is not in
      {cache}:
      the search, count, facets and rendering all run. Each worker has served /products and
      one unrelated search first: templates compiled, connection open, and what /products
      computes once per catalogue version made (the catalogue index). The database is warm
      (the SQLite file is in the OS page cache).
warm: the same URLs again, counted when {hit}: a page-cache hit.
after a change: a stock change (a lot received) or a catalogue change (a product's derived
      data refreshed, as after an edit) is committed first: the page cache misses, and the
      worker rebuilds its catalogue index when the change invalidated it.
One client, sequential requests; gunicorn's sync workers close each connection.
'matches' is the median number of products found. Percentiles are nearest-rank: with fewer
than 100 samples, p99 is the slowest one."""


def print_after_change(after: dict[tuple[str, str], list[bench_search.Sample]]) -> None:
    rows = [
        [
            kind,
            url,
            len(samples),
            f"{bench_search.median([s.ms for s in samples]):.1f}",
            f"{max(s.ms for s in samples):.1f}",
            sum(1 for s in samples if s.status != 200),
        ]
        for (kind, url), samples in after.items()
    ]
    say("Right after a change (made through the shop's code and committed before each request):")
    table(["change", "URL", "n", "p50 ms", "max ms", "errors"], rows, "<<>>>>")


def describe_database(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme.startswith("sqlite"):
        return "SQLite file " + url.split(":///", 1)[1]
    return f"{parts.scheme} on {parts.hostname}:{parts.port or ''}{parts.path}"


def describe_cache(redis_url: str, prefix: str) -> str:
    if not redis_url:
        return "SimpleCache, one per worker process (REDIS_URL not set)"
    parts = urlsplit(redis_url)
    where = f"{parts.hostname}:{parts.port or 6379}{parts.path or '/0'}"
    return f"Redis at {where}, shared by the workers (REDIS_URL set; keys under {prefix}*)"


def check_redis(redis_url: str) -> None:
    """Fail early, and clearly, when the Redis to share the cache through does not answer."""
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise RuntimeError(
            f"Redis at {redis_url} does not answer ({exc}); unset REDIS_URL or pass "
            "--redis-url '' to bench with one in-process cache per worker"
        ) from exc
    finally:
        client.close()


def delete_cache_keys(redis_url: str, prefix: str) -> int:
    """Delete this run's cache keys (and only those) from the shared Redis."""
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
        return len(keys)
    finally:
        client.close()


def run(args: argparse.Namespace, workdir: Path, servers: list[Gunicorn]) -> dict[str, Any]:
    """Every phase; `servers` collects the gunicorns started so that the caller can stop them."""
    database_url = args.database_url or f"sqlite:///{workdir / 'shop.sqlite3'}"
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": secrets.token_urlsafe(32)}
    env.pop("REDIS_URL", None)
    if args.redis_url:
        env["REDIS_URL"] = args.redis_url
    env["BENCH_GC_FREEZE"] = "0" if args.no_gc_freeze else "1"
    workers = (
        "gc.freeze() not called (--no-gc-freeze)"
        if args.no_gc_freeze
        else "gc.freeze() once the app is made (as wsgi.py should; --no-gc-freeze: without)"
    )
    cache = describe_cache(args.redis_url, args.cache_prefix)
    report: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "settings": {
            "database": describe_database(database_url),
            "cache": cache,
            "workers": workers,
            "wrk": f"-t{bench_wrk.THREADS} -c{bench_wrk.CONNECTIONS} -d{args.seconds}s --latency",
            "rounds": args.rounds,
            "gunicorn": "-w 2 -k sync",
            "variants": args.variants,
            "samples": args.samples,
        },
    }
    heading("Setup")
    say(f"database: {describe_database(database_url)}")
    if args.database_url:
        say("  (used as it is: migrated, seeded idempotently, topped up; never dropped)")
    say(f"cache: {cache}")
    say(f"workers: {workers}")
    say(f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}")
    report["load_before"] = os.getloadavg()[0]
    say(f"load average (1 min) before: {report['load_before']:.2f}")
    if report["load_before"] > BUSY_LOAD:
        say("  the machine is busy: other processes share the CPUs, expect noisy numbers")
    started = time.perf_counter()
    flask_cli(env, "db", "upgrade")
    say(flask_cli(env, "seed-demo").strip().splitlines()[-1])
    say(f"migrated and seeded in {time.perf_counter() - started:.1f} s")

    bare_server = bench_gunicorn(env, workdir / "bare.log", app=BARE_APP)
    servers.append(bare_server)
    bare_server.start()
    say(f"the bare Flask app (reference): gunicorn -w 2 -k sync on {bare_server.base_url}")
    rss: list[list[Any]] = []
    restarted = False
    if "pages" in args.phases:
        restarted |= demo_pages(args, env, workdir, servers, bare_server, report, rss)
    if "search" in args.phases:
        restarted |= large_catalogue(
            args, env, database_url, workdir, servers, bare_server, report, rss
        )
    if "mixed" in args.phases:
        restarted |= mixed_load(args, workdir, servers, bare_server, report)
    if rss:
        heading("Gunicorn workers' peak RSS (VmHWM)")
        table(["server", "worker pid", "MiB"], [[n, p, f"{m:.1f}"] for n, p, m in rss], "<>>")
    if restarted:
        say("WARNING: gunicorn replaced a worker during the run (timeout or crash); see its log")
    report["load_after"] = os.getloadavg()[0]
    say(f"\nload average (1 min) at the end, our load included: {report['load_after']:.2f}")
    report["peak_rss_mib"] = {
        "rows": [[name, pid, round(mib, 1)] for name, pid, mib in rss],
        "workers_restarted": restarted,
    }
    return report


def demo_pages(
    args: argparse.Namespace,
    env: dict[str, str],
    workdir: Path,
    servers: list[Gunicorn],
    bare_server: Gunicorn,
    report: dict[str, Any],
    rss: list[list[Any]],
) -> bool:
    """The catalogue and a product page against the bare app, demo catalogue."""
    heading(f"Pages, demo catalogue ({args.rounds} rounds x {args.seconds} s per URL)")
    server = bench_gunicorn(server_env(env, args, "demo"), workdir / "gunicorn.log")
    servers.append(server)
    server.start()
    say(f"gunicorn -w 2 -k sync on {server.base_url}, workers {server.started_workers}")
    sizes = {**check_pages(server, PAGES), BARE: check_pages(bare_server, ["/"])["/"]}
    small = summarise_pages(page_runs(server, bare_server, args.seconds, args.rounds))
    say()
    print_pages(small, sizes)
    rss.extend(["demo catalogue, pages", pid, mib] for pid, mib in server.peak_rss_mib().items())
    restarted = bool(server.workers_restarted())
    server.stop()
    report["pages_demo"] = small
    return restarted


def large_catalogue(
    args: argparse.Namespace,
    env: dict[str, str],
    database_url: str,
    workdir: Path,
    servers: list[Gunicorn],
    bare_server: Gunicorn,
    report: dict[str, Any],
    rss: list[list[Any]],
) -> bool:
    """Search latency and the pages on a large catalogue."""
    heading(f"Large catalogue ({args.variants:,} variants)")
    started = time.perf_counter()
    output = flask_cli(env, "seed-demo", "--variants", str(args.variants))
    seed_seconds = time.perf_counter() - started
    say(output.strip().splitlines()[-1])
    say(f"seed-demo --variants {args.variants} took {seed_seconds:.1f} s")
    if seed_seconds > SLOW_SEED_S:
        say(
            f"  SLOW: over {SLOW_SEED_S:.0f} s; profile it with "
            f"`python -m cProfile -o seed.prof -m flask --app shop seed-demo --variants N`"
        )
    report["seed_large"] = {"variants": args.variants, "seconds": round(seed_seconds, 2)}

    server = bench_gunicorn(server_env(env, args, "large"), workdir / "gunicorn.log")
    servers.append(server)
    server.start()
    say(f"gunicorn restarted on {server.base_url} (caches cold), workers {server.started_workers}")

    heading(f"Search latency, /products?q=... ({args.samples} requests per class)")
    classes = bench_search.query_classes(database_url, args.samples)
    primed = bench_search.prime_workers(server.port, server.workers)
    say(f"workers primed with /products and an unrelated search: {sorted(primed)}")
    started = time.perf_counter()
    searches = bench_search.measure(server.port, classes, shared_cache=bool(args.redis_url))
    say(f"measured in {time.perf_counter() - started:.1f} s")
    say()
    print_search(searches)
    say()
    after = {}
    if args.database_url:
        say("Right after a change: skipped, the changes would stay in the --database-url database")
    else:
        after = bench_search.measure_after_change(server.port, database_url)
        print_after_change(after)
    say()
    note = search_note(bool(args.redis_url))
    say(note)
    report["search"] = {
        "note": note,
        "classes": [r.to_json() for r in searches],
        "after_change": [
            {
                "change": kind,
                "url": url,
                "samples": [[s.url, round(s.ms, 2), s.status] for s in samples],
            }
            for (kind, url), samples in after.items()
        ],
    }

    heading(f"Pages, large catalogue ({args.rounds} rounds x {args.seconds} s per URL)")
    sizes = {**check_pages(server, PAGES), BARE: check_pages(bare_server, ["/"])["/"]}
    large = summarise_pages(page_runs(server, bare_server, args.seconds, args.rounds))
    say()
    print_pages(large, sizes)
    rss.extend(
        ["large catalogue, search + pages", pid, mib] for pid, mib in server.peak_rss_mib().items()
    )
    restarted = bool(server.workers_restarted())
    server.stop()
    report["pages_large"] = large
    return restarted


def mixed_load(
    args: argparse.Namespace,
    workdir: Path,
    servers: list[Gunicorn],
    bare_server: Gunicorn,
    report: dict[str, Any],
) -> bool:
    """The mixed load on PostgreSQL and Redis with 2 workers and the worker process, the
    listing under steady checkouts, and the ledger audit afterwards."""
    heading(f"Mixed load ({args.users} users, {args.mixed_seconds} s, PostgreSQL and Redis)")
    redis_url = args.redis_url or "redis://127.0.0.1:6379/0"
    check_redis(redis_url)
    database_url, drop = bench_mixed.own_database(args.postgres_url)
    say(f"database: {describe_database(database_url)} (made for this run, dropped after)")
    say(f"cache and limits: {describe_cache(redis_url, args.cache_prefix)}")
    worker = None
    try:
        with StripeStandIn() as standin:
            env = bench_mixed.shop_env(
                {**os.environ, "SECRET_KEY": secrets.token_urlsafe(32)},
                database_url,
                redis_url,
                standin.base_url,
            )
            env = server_env(env, args, "mixed")
            flask_cli(env, "db", "upgrade")
            flask_cli(env, "seed-demo")
            bench_mixed.stock_up(env, 1_000_000)
            server = bench_gunicorn(env, workdir / "mixed.log")
            servers.append(server)
            server.start()
            worker = bench_mixed.start_worker(env, workdir / "worker.log")
            say(f"gunicorn -w 2 -k sync on {server.base_url} and `flask --app shop worker`")
            catalogue = bench_mixed.read_catalogue(server.base_url)
            say(
                f"{len(catalogue.slugs)} products, {len(catalogue.skus)} variants, "
                f"{len(catalogue.guides)} guides; mix: "
                + ", ".join(f"{k} {v} %" for k, v in bench_mixed.MIX.items())
                + f"; {bench_mixed.PAID_SHARE:.0%} of checkouts paid; each user pauses "
                + "{:g}-{:g} s between steps".format(*bench_mixed.THINK_SECONDS)
            )
            bench_mixed.run_users(server.base_url, catalogue, standin, args.users, 3)  # warm-up
            bare = bench_wrk.run(bare_server.base_url + "/", args.seconds)
            result = bench_mixed.run_users(
                server.base_url, catalogue, standin, args.users, args.mixed_seconds
            )
            rows = bench_mixed.summarise(result)
            say()
            table(
                ["kind", "requests", "req/s", "p50 ms", "p99 ms", "max ms", "errors"],
                [
                    [
                        r["kind"],
                        r["requests"],
                        f"{r['rps']:.1f}",
                        f"{r['p50_ms']:.1f}",
                        f"{r['p99_ms']:.1f}",
                        f"{r['max_ms']:.1f}",
                        r["errors"],
                    ]
                    for r in rows
                ],
                "<>>>>>>",
            )
            for row in rows:
                for example in row["error_examples"]:
                    say(f"  error ({row['kind']}): {example}")
            page_p99 = bench_mixed.page_views_p99(result)
            total_rps = rows[-1]["rps"]
            say(
                f"orders placed: {result.orders}; page views p99 {page_p99:.1f} ms "
                f"(target < {bench_mixed.TARGET_PAGE_P99_MS:g} ms); mixed load {total_rps:.1f} "
                f"req/s = {total_rps / bare.rps:.2f} of the bare app's {bare.rps:.0f} req/s "
                f"(wrk, {bench_wrk.CONNECTIONS} connections, just before)"
            )
            rate = 5.0
            listing = bench_mixed.listing_under_checkouts(
                server, catalogue, standin, args.seconds, rate
            )
            say(
                f"/products: {listing['quiet']['rps']:.0f} req/s alone, "
                f"{listing['with_checkouts']['rps']:.0f} req/s while {rate:g} checkouts a second "
                f"ran ({listing['checkouts_placed']} placed): ratio {listing['ratio']:.2f} "
                f"(target >= {bench_mixed.TARGET_LISTING_RATIO})"
            )
            bench_mixed.stop_worker(worker)
            worker = None
            code, output = bench_mixed.audit(env)
            say(f"ledger audit (flask --app shop audit): exit {code}")
            say("  " + output.replace("\n", "\n  "))
            restarted = bool(server.workers_restarted())
            server.stop()
            report["mixed"] = {
                "users": args.users,
                "seconds": round(result.seconds, 1),
                "kinds": rows,
                "orders": result.orders,
                "page_views_p99_ms": page_p99,
                "bare_rps": bare.rps,
                "ratio_to_bare": total_rps / bare.rps,
                "listing_under_checkouts": listing,
                "audit_exit": code,
                "audit": output,
                "pass": (
                    rows[-1]["errors"] == 0
                    and code == 0
                    and page_p99 < bench_mixed.TARGET_PAGE_P99_MS
                    and listing["ratio"] >= bench_mixed.TARGET_LISTING_RATIO
                ),
            }
            return restarted
    finally:
        if worker is not None:
            bench_mixed.stop_worker(worker)
        for server in servers:
            if server.app != BARE_APP:
                server.stop()
        drop()


def server_env(env: dict[str, str], args: argparse.Namespace, phase: str) -> dict[str, str]:
    """The environment of one gunicorn: a cache key prefix of its own, so that it starts cold
    even when the cache is a Redis shared with earlier phases or runs."""
    return {**env, "BENCH_CACHE_KEY_PREFIX": f"{args.cache_prefix}{phase}:"}


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    args.cache_prefix = f"shop-bench-{secrets.token_hex(4)}-"
    if args.redis_url:
        try:
            check_redis(args.redis_url)
        except RuntimeError as exc:
            say(str(exc))
            return 2
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with it ignored
    began = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="shop-bench-"))
    servers: list[Gunicorn] = []
    try:
        report = run(args, workdir, servers)
    except KeyboardInterrupt:
        say("\ninterrupted: stopping gunicorn, removing the temporary directory")
        return 130
    except SystemExit:
        say("\nterminated: stopping gunicorn, removing the temporary directory")
        raise
    except Exception:
        for server in servers:
            if server.process is not None:
                say(f"gunicorn log (last lines):\n{server.log_tail()}")
        raise
    finally:
        for server in servers:
            server.stop()
        if args.redis_url:
            try:
                deleted = delete_cache_keys(args.redis_url, args.cache_prefix)
                say(f"deleted this run's {deleted} cache key(s) from Redis")
            except Exception as exc:  # the results matter more than the tidying
                say(f"could not delete the cache keys {args.cache_prefix}* from Redis: {exc}")
        if args.keep:
            say(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    report["total_seconds"] = round(time.perf_counter() - began, 1)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    say()
    say(f"total {report['total_seconds']:.0f} s; results in {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
