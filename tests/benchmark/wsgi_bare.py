"""The benchmark's reference: a bare Flask app, apart from the shop, rendering a ten-line
template file (`templates/_bench/bare.html`, compiled once and kept by Jinja's cache, as the
shop's own templates are) with `render_template`. Served by its own gunicorn with the shop's
settings, so the ratio of a shop page's throughput to it measures what the shop adds over
Flask, Jinja and gunicorn themselves, none of the shop's hooks slowing the reference."""

from __future__ import annotations

import gc
from pathlib import Path

from flask import Flask, render_template

BARE_TEMPLATE = "_bench/bare.html"
BARE_ITEMS = ["27G meso needle", "30G meso needle", "32G meso needle", "5-pin head", "9-pin head"]

app = Flask(__name__, template_folder=str(Path(__file__).parent / "templates"))


@app.get("/")
def bare() -> str:
    """A small page rendered from a template file, with no database access."""
    return render_template(BARE_TEMPLATE, title="Bare Flask page", items=BARE_ITEMS)


@app.get("/healthz")
def healthz() -> str:
    """What the benchmark's server runner waits for before it starts measuring."""
    return "ok"


gc.freeze()
