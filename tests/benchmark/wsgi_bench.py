"""The shop as gunicorn serves it in the benchmark, plus a bare Flask endpoint to compare with.

`/_bench/bare` renders a ten-line template file (`templates/_bench/bare.html` here, compiled
once and kept by Jinja's cache, as the shop's own templates are) with `render_template`, on
the same app: same server, same middleware and after-request hooks. The ratio of a shop
page's throughput to it measures what the shop adds over Flask and Jinja themselves. Every
response carries an `X-Bench-Worker` header (the worker's pid) so the benchmark can tell
which worker served a request.

`BENCH_CACHE_KEY_PREFIX`, when set, replaces the cache's key prefix: with a shared Redis
cache, each benchmark run then reads and writes only its own keys.

Unless `BENCH_GC_FREEZE=0`, each worker calls `gc.freeze()` once the app is made, as the
shop's wsgi.py should: the 150,000-odd objects of the loaded app (modules, SQLAlchemy, Jinja)
then stay out of the garbage collector's full passes, which otherwise take ~90 ms on this
machine every few dozen requests that allocate much (a search page does).
"""

from __future__ import annotations

import gc
import os
from pathlib import Path

from flask import Blueprint, Response, render_template

from shop import create_app

BARE_TEMPLATE = "_bench/bare.html"
BARE_ITEMS = ["27G meso needle", "30G meso needle", "32G meso needle", "5-pin head", "9-pin head"]

bench = Blueprint("bench", __name__, template_folder=str(Path(__file__).parent / "templates"))


@bench.get("/_bench/bare")
def bare() -> str:
    """A small page rendered from a template file, with no database access."""
    return render_template(BARE_TEMPLATE, title="Bare Flask page", items=BARE_ITEMS)


overrides = {}
if os.environ.get("BENCH_CACHE_KEY_PREFIX"):
    overrides["CACHE_KEY_PREFIX"] = os.environ["BENCH_CACHE_KEY_PREFIX"]
app = create_app(overrides or None)
app.register_blueprint(bench)
if os.environ.get("BENCH_GC_FREEZE", "1") != "0":
    gc.freeze()


@app.after_request
def bench_worker_header(response: Response) -> Response:
    """Tag the response with the pid of the worker that served it."""
    response.headers["X-Bench-Worker"] = str(os.getpid())
    return response
