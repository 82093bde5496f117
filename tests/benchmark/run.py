"""`make bench`: throughput and latency of the shop's pages against a bare Flask endpoint, and
search latency on a large catalogue, all through gunicorn (2 sync workers) on a fresh database.

    .venv/bin/python tests/benchmark/run.py [--seconds 5] [--rounds 3] [--database-url URL]

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

import bench_search
import bench_wrk
from bench_server import ROOT, Gunicorn, flask_cli
from bench_wrk import WrkResult

BARE = "/_bench/bare"
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
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    if args.seconds < 1 or args.rounds < 1 or args.samples < 1:
        parser.error("--seconds, --rounds and --samples must be positive")
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


def page_runs(server: Gunicorn, seconds: int, rounds: int) -> dict[str, list[WrkResult]]:
    """wrk on bare, /products, bare, product page, `rounds` times, after a 1 s warm-up each."""
    for url in (BARE, *PAGES):
        bench_wrk.run(server.base_url + url, 1)
    runs: dict[str, list[WrkResult]] = {url: [] for url in (BARE, *PAGES)}
    for number in range(1, rounds + 1):
        line = []
        for url in PAGES:
            bare = bench_wrk.run(server.base_url + BARE, seconds)
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


SEARCH_NOTE = """\
cold: every URL is distinct (query word x sort x page) and asked for the first time since
      gunicorn restarted, so no worker has it in its page cache (one SimpleCache per worker,
      keyed by catalogue version, day and filters): the search, count, facets and rendering all
      run. The database itself is warm (just written: the SQLite file is in the OS page cache).
warm: the same URLs again; a request counts only when the worker that served it
      (X-Bench-Worker header) had rendered that URL before, i.e. a page-cache hit.
One client, sequential requests; gunicorn's sync workers close each connection.
'matches' is the median number of products found. Percentiles are nearest-rank: with fewer
than 100 samples, p99 is the slowest one."""


def describe_database(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme.startswith("sqlite"):
        return "SQLite file " + url.split(":///", 1)[1]
    return f"{parts.scheme} on {parts.hostname}:{parts.port or ''}{parts.path}"


def run(args: argparse.Namespace, workdir: Path, servers: list[Gunicorn]) -> dict[str, Any]:
    """Every phase; `servers` collects the gunicorns started so that the caller can stop them."""
    database_url = args.database_url or f"sqlite:///{workdir / 'shop.sqlite3'}"
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": secrets.token_urlsafe(32)}
    report: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "settings": {
            "database": describe_database(database_url),
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
    say(f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}")
    report["load_before"] = os.getloadavg()[0]
    say(f"load average (1 min) before: {report['load_before']:.2f}")
    if report["load_before"] > BUSY_LOAD:
        say("  the machine is busy: other processes share the CPUs, expect noisy numbers")
    started = time.perf_counter()
    flask_cli(env, "db", "upgrade")
    say(flask_cli(env, "seed-demo").strip().splitlines()[-1])
    say(f"migrated and seeded in {time.perf_counter() - started:.1f} s")

    heading(f"Pages, demo catalogue ({args.rounds} rounds x {args.seconds} s per URL)")
    server = Gunicorn(env, workdir / "gunicorn.log")
    servers.append(server)
    server.start()
    say(f"gunicorn -w 2 -k sync on {server.base_url}, workers {server.started_workers}")
    sizes = check_pages(server, (BARE, *PAGES))
    small = summarise_pages(page_runs(server, args.seconds, args.rounds))
    say()
    print_pages(small, sizes)
    rss_small = server.peak_rss_mib()
    restarted_small = server.workers_restarted()
    server.stop()
    report["pages_demo"] = small

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

    server = Gunicorn(env, workdir / "gunicorn.log")
    servers.append(server)
    server.start()
    say(f"gunicorn restarted on {server.base_url} (caches cold), workers {server.started_workers}")

    heading(f"Search latency, /products?q=... ({args.samples} requests per class)")
    classes = bench_search.query_classes(database_url, args.samples)
    primed = bench_search.prime_workers(server.port, server.workers)
    say(f"workers primed with an unrelated search (templates, connections): {sorted(primed)}")
    started = time.perf_counter()
    searches = bench_search.measure(server.port, classes)
    say(f"measured in {time.perf_counter() - started:.1f} s")
    say()
    print_search(searches)
    say()
    say(SEARCH_NOTE)
    report["search"] = {"note": SEARCH_NOTE, "classes": [r.to_json() for r in searches]}

    heading(f"Pages, large catalogue ({args.rounds} rounds x {args.seconds} s per URL)")
    sizes = check_pages(server, (BARE, *PAGES))
    large = summarise_pages(page_runs(server, args.seconds, args.rounds))
    say()
    print_pages(large, sizes)
    rss_large = server.peak_rss_mib()
    restarted_large = server.workers_restarted()
    server.stop()
    report["pages_large"] = large

    heading("Gunicorn workers' peak RSS (VmHWM)")
    rss_rows = [["demo catalogue, pages", pid, f"{mib:.1f}"] for pid, mib in rss_small.items()] + [
        ["large catalogue, search + pages", pid, f"{mib:.1f}"] for pid, mib in rss_large.items()
    ]
    table(["server", "worker pid", "MiB"], rss_rows, "<>>")
    if restarted_small or restarted_large:
        say("WARNING: gunicorn replaced a worker during the run (timeout or crash); see its log")
    report["load_after"] = os.getloadavg()[0]
    say(f"\nload average (1 min) at the end, our load included: {report['load_after']:.2f}")
    report["peak_rss_mib"] = {
        "demo": {str(k): round(v, 1) for k, v in rss_small.items()},
        "large": {str(k): round(v, 1) for k, v in rss_large.items()},
        "workers_restarted": restarted_small or restarted_large,
    }
    return report


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
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
