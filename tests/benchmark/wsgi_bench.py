"""The shop as gunicorn serves it in the benchmark, plus a bare Flask endpoint to compare with.

`/_bench/bare` renders a ten-line page with `render_template_string` on the same app (same
server, same middleware and after-request hooks), so the ratio of a shop page's throughput to
it measures what the shop adds over Flask and Jinja themselves. Every response carries an
`X-Bench-Worker` header (the worker's pid) so the benchmark can tell which worker's cache a
request hit.
"""

from __future__ import annotations

import os

from flask import Response, render_template_string

from shop import create_app

BARE_TEMPLATE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{{ title }}</title></head>
<body>
<h1>{{ title }}</h1>
<ul>
{% for item in items %}  <li>{{ item }}</li>
{% endfor %}</ul>
</body>
</html>
"""
BARE_ITEMS = ["27G meso needle", "30G meso needle", "32G meso needle", "5-pin head", "9-pin head"]

app = create_app()


@app.get("/_bench/bare")
def bench_bare() -> str:
    """A small page rendered from a template string, with no database access."""
    return render_template_string(BARE_TEMPLATE, title="Bare Flask page", items=BARE_ITEMS)


@app.after_request
def bench_worker_header(response: Response) -> Response:
    """Tag the response with the pid of the worker that served it."""
    response.headers["X-Bench-Worker"] = str(os.getpid())
    return response
