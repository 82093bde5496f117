"""The background worker loop behind `flask --app shop worker`.

Each run delivers due email, then calls the zero-argument callables listed in
`current_app.extensions["worker_tasks"]` (each owns its transaction). A failing run (the
database down, say) is logged and the next run tries again; SIGTERM or Ctrl-C stops the
loop after the current run (a second Ctrl-C interrupts it).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from flask import current_app
from sqlalchemy.exc import OperationalError

from shop.extensions import db
from shop.mail.services import deliver_due

log = logging.getLogger("shop.worker")


class _Stop:
    requested = False


@contextmanager
def _stop_on_signals() -> Iterator[_Stop]:
    """SIGTERM and SIGINT ask the loop to stop; a second SIGINT interrupts at once."""
    stop = _Stop()
    if threading.current_thread() is not threading.main_thread():
        yield stop  # signal handlers can only be set in the main thread
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        if stop.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.requested = True
        log.info("worker stopping after this run (%s)", signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _call(name: str, task: Callable[[], object]) -> None:
    """Run one step; a failure is logged and left for the next run."""
    try:
        task()
    except OperationalError as exc:
        log.error("worker: %s failed, database unavailable: %s", name, exc.orig)
    except Exception:
        log.exception("worker: %s failed", name)
    finally:
        try:
            db.session.remove()  # never carry a failed or open transaction into the next run
        except Exception:
            log.exception("worker: could not discard the session after %s", name)


def _deliver_mail() -> None:
    report = deliver_due()
    if report.sent or report.failed:
        log.info("worker: mail sent %s, failed %s", report.sent, report.failed)


def run_once() -> None:
    """One run: deliver due email, then the registered worker tasks."""
    _call("mail delivery", _deliver_mail)
    for task in list(current_app.extensions.get("worker_tasks", [])):
        _call(getattr(task, "__qualname__", repr(task)), task)


def run_worker(*, once: bool, interval: float) -> None:
    """Run until stopped (or a single run with `once`), `interval` seconds apart."""
    with _stop_on_signals() as stop:
        log.info("worker started (interval %ss)", interval)
        while not stop.requested:
            run_once()
            if once:
                break
            deadline = time.monotonic() + interval
            while not stop.requested and (left := deadline - time.monotonic()) > 0:
                time.sleep(min(left, 0.5))
        log.info("worker stopped")
