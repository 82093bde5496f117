"""The background worker behind `flask --app shop worker`.

Its tasks run independently, each on a thread of its own: `mail` delivers due email; the
others are the named groups of zero-argument callables in
`current_app.extensions["worker_tasks"]` (`settle`: lapsed orders and unanswered refunds,
both asking Stripe; `quotes`: quotes past their date), each call owning its transaction.
So a Stripe that hangs holds back settling only, never mail. Each task has a deadline: a
run that outlasts it is logged (a thread cannot be stopped; the next run of that task waits
for it while the others go on). A failing run is logged and the next run tries again.
SIGTERM or Ctrl-C stops every task after its current run, waiting STOP_GRACE seconds at
most (a second Ctrl-C interrupts at once).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

from flask import Flask, current_app
from sqlalchemy.exc import OperationalError

from shop.extensions import db
from shop.mail.services import deliver_due

log = logging.getLogger("shop.worker")

MAIL = "mail"
# Seconds a run of each task should take at most; past it the worker says so.
DEADLINES = {MAIL: 120.0, "settle": 300.0, "quotes": 60.0}
DEFAULT_DEADLINE = 300.0
# Seconds a stop waits for the runs under way before leaving them.
STOP_GRACE = 30.0

Call = Callable[[], object]


@contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """SIGTERM and SIGINT ask the tasks to stop; a second SIGINT interrupts at once."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop  # signal handlers can only be set in the main thread
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()
        log.info("worker stopping after the runs under way (%s)", signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _call(name: str, task: Call) -> None:
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
        log.info(
            "worker: mail sent %s, failed %s, given up %s",
            report.sent,
            report.failed,
            report.given_up,
        )


def tasks() -> dict[str, list[Call]]:
    """Every task by name: mail, then the groups the app registered."""
    registered: dict[str, list[Call]] = current_app.extensions.get("worker_tasks", {})
    return {MAIL: [_deliver_mail], **{name: list(calls) for name, calls in registered.items()}}


def chosen_tasks(only: Collection[str] | None = None) -> dict[str, list[Call]]:
    """The tasks named in `only` (all when empty); ValueError names any unknown one."""
    available = tasks()
    if not only:
        return available
    unknown = sorted(set(only) - set(available))
    if unknown:
        raise ValueError(
            f"no worker task {', '.join(unknown)}: the tasks are {', '.join(available)}"
        )
    return {name: calls for name, calls in available.items() if name in only}


@dataclass
class _Task:
    """One task's runs, and what the worker's watch needs to see of them."""

    name: str
    calls: list[Call]
    deadline: float
    started: float | None = None
    overdue_told: bool = False

    def run(self) -> None:
        self.started, self.overdue_told = time.monotonic(), False
        for call in self.calls:
            label = getattr(call, "__qualname__", repr(call))
            _call(self.name if len(self.calls) == 1 else f"{self.name}: {label}", call)
        took = time.monotonic() - self.started
        self.started = None
        if took > self.deadline:
            log.warning(
                "worker: %s took %.1f s, past its deadline of %.0f s",
                self.name,
                took,
                self.deadline,
            )

    def watch(self, now: float) -> None:
        """Say once per run that a run under way has outlasted its deadline."""
        started = self.started
        if started is None or self.overdue_told or now - started <= self.deadline:
            return
        self.overdue_told = True
        log.warning(
            "worker: %s has run %.0f s, past its deadline of %.0f s; its next run waits for "
            "it, the other tasks go on",
            self.name,
            now - started,
            self.deadline,
        )

    def loop(self, app: Flask, stop: threading.Event, *, once: bool, interval: float) -> None:
        with app.app_context():
            while not stop.is_set():
                self.run()
                if once:
                    return
                stop.wait(interval)


def _run(
    chosen: dict[str, list[Call]], stop: threading.Event, *, once: bool, interval: float
) -> None:
    """Run each task on a thread of its own until stopped (or once each), watching deadlines."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    runs = [
        _Task(name, calls, DEADLINES.get(name, DEFAULT_DEADLINE)) for name, calls in chosen.items()
    ]
    threads = [
        threading.Thread(
            target=task.loop,
            args=(app, stop),
            kwargs={"once": once, "interval": interval},
            name=f"worker-{task.name}",
            daemon=True,  # a run hanging past STOP_GRACE does not keep the process alive
        )
        for task in runs
    ]
    for thread in threads:
        thread.start()
    stopping_since: float | None = None
    while any(thread.is_alive() for thread in threads):
        now = time.monotonic()
        for task in runs:
            task.watch(now)
        if stop.is_set():
            stopping_since = stopping_since or now
            if now - stopping_since > STOP_GRACE:
                left = [task.name for task in runs if task.started is not None]
                log.warning("worker: stopping with %s still running", ", ".join(left))
                return
        for thread in threads:
            thread.join(timeout=0.05)


def run_once(only: Collection[str] | None = None) -> None:
    """One run of each task (all, or those named in `only`), side by side."""
    _run(chosen_tasks(only), threading.Event(), once=True, interval=0)


def run_worker(*, once: bool, interval: float, only: Collection[str] | None = None) -> None:
    """Run the tasks (all, or those named in `only`) until stopped, each `interval` seconds
    after its previous run ended (a single run each with `once`)."""
    chosen = chosen_tasks(only)
    with _stop_on_signals() as stop:
        log.info("worker started: %s (interval %ss)", ", ".join(chosen), interval)
        _run(chosen, stop, once=once, interval=interval)
        log.info("worker stopped")
