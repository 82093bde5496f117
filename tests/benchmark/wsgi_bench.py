"""The shop as gunicorn serves it in the benchmark (the reference it is compared with is a
separate app, wsgi_bare.py). Every response carries an `X-Bench-Worker` header (the
worker's pid) so the benchmark can tell which worker served a request.

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

from flask import Response

from shop import create_app

overrides = {}
if os.environ.get("BENCH_CACHE_KEY_PREFIX"):
    overrides["CACHE_KEY_PREFIX"] = os.environ["BENCH_CACHE_KEY_PREFIX"]
app = create_app(overrides or None)
if os.environ.get("BENCH_GC_FREEZE", "1") != "0":
    gc.freeze()


@app.after_request
def bench_worker_header(response: Response) -> Response:
    """Tag the response with the pid of the worker that served it."""
    response.headers["X-Bench-Worker"] = str(os.getpid())
    return response
