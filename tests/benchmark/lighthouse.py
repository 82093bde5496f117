"""`make lighthouse`: Lighthouse (mobile, simulated throttling) on storefront pages of the
shop as gunicorn serves it with the demo catalogue, in Debian's Chromium.

    .venv/bin/python tests/benchmark/lighthouse.py [--pages /products/meso-needle-32g ...]

Lighthouse comes from npm into a temporary prefix (never `playwright install`; the browser
is /usr/bin/chromium). Prints each page's category scores and main timings, and writes
bench-results/lighthouse.json. The issue's bar: performance 90 or more on a product page.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_server import ROOT, flask_cli

from tests.browser.conftest import CHROMIUM, CHROMIUM_FLAGS
from tests.served import Gunicorn

PAGES = (
    "/products/meso-needle-32g",
    "/products",
    "/",
    "/guides/choosing-a-needle-for-scalp-mesotherapy",
)
RESULTS = ROOT / "bench-results" / "lighthouse.json"
TIMINGS = (
    "first-contentful-paint",
    "largest-contentful-paint",
    "total-blocking-time",
    "cumulative-layout-shift",
    "speed-index",
)


def install_lighthouse(prefix: Path) -> Path:
    subprocess.run(  # noqa: S603
        [
            "npm",
            "install",
            "--prefix",
            str(prefix),
            "--no-save",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            "lighthouse",
        ],
        check=True,
    )
    return prefix / "node_modules" / ".bin" / "lighthouse"


def audit(lighthouse: Path, url: str, out: Path) -> dict[str, object]:
    subprocess.run(  # noqa: S603
        [
            str(lighthouse),
            url,
            "--quiet",
            "--output=json",
            f"--output-path={out}",
            "--only-categories=performance,accessibility,best-practices,seo",
            f"--chrome-flags={' '.join(CHROMIUM_FLAGS)}",
        ],
        check=True,
        env={**os.environ, "CHROME_PATH": str(CHROMIUM)},
    )
    report = json.loads(out.read_text())
    return {
        "scores": {k: round(v["score"] * 100) for k, v in report["categories"].items()},
        "timings": {a: report["audits"][a]["displayValue"] for a in TIMINGS},
        "form_factor": report["configSettings"]["formFactor"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", nargs="+", default=list(PAGES))
    args = parser.parse_args()
    if not CHROMIUM.exists():
        print("make lighthouse needs Debian's chromium: apt-get install chromium")
        return 1
    work = Path(tempfile.mkdtemp(prefix="shop-lighthouse-"))
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{work / 'shop.sqlite3'}",
        "SECRET_KEY": "lighthouse-only",
        "SHOP_ENV": "development",
    }
    env.pop("REDIS_URL", None)
    server = Gunicorn(env, work / "gunicorn.log")
    try:
        lighthouse = install_lighthouse(work / "npm")
        flask_cli(env, "db", "upgrade")
        flask_cli(env, "seed-demo", "--if-empty")
        server.start()
        results = {}
        for page in args.pages:
            results[page] = audit(lighthouse, server.base_url + page, work / "report.json")
            scores = ", ".join(f"{k} {v}" for k, v in results[page]["scores"].items())
            print(f"{page}: {scores}")
            print("    " + ", ".join(f"{k} {v}" for k, v in results[page]["timings"].items()))
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=2))
        print(f"written to {RESULTS.relative_to(ROOT)}")
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
