"""Preparing the database with the shop's CLI, and running gunicorn for the benchmark."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script from tests/benchmark: find tests.served
    sys.path.insert(0, str(ROOT))

from tests.served import Gunicorn, free_port  # noqa: E402

WSGI_APP = "tests.benchmark.wsgi_bench:app"
BARE_APP = "tests.benchmark.wsgi_bare:app"


def flask_cli(env: dict[str, str], *args: str) -> str:
    """Run `flask --app shop ARGS` from the project root; its output, or raise with it."""
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "shop", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    output = result.stdout + result.stderr
    if result.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed ({result.returncode}):\n{output}")
    return output


def bench_gunicorn(
    env: dict[str, str], log_path: Path, workers: int = 2, *, app: str = WSGI_APP
) -> Gunicorn:
    """A benchmark server: the shop (or `app`, e.g. BARE_APP) under `workers` sync workers,
    with the rest of gunicorn.conf.py (which gunicorn reads from the project's root) for
    both alike. One thread: with more, gunicorn would run gthread workers instead."""
    return Gunicorn(env, log_path, workers, app=app, options=["-k", "sync", "--threads", "1"])


__all__ = ["BARE_APP", "ROOT", "Gunicorn", "bench_gunicorn", "flask_cli", "free_port"]
