"""The shop served by gunicorn in a process of its own, for the tests that need real
processes (faults, several workers) and for the benchmark."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name: state, ppid, pgrp, ..."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces: split after it.
    return stat[stat.rindex(")") + 2 :].split()


def _process_group(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[2]) if fields and fields[0] != "Z" else None


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields and int(fields[1]) == pid:
                found.append(int(entry.name))
    return sorted(found)


def _status_kib(pid: int, field: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


class Gunicorn:
    """gunicorn serving `app` on 127.0.0.1:PORT with WORKERS processes, in its own session:
    the checked-in gunicorn.conf.py by default, or the `options` given instead (the
    benchmark's sync workers)."""

    def __init__(
        self,
        env: dict[str, str],
        log_path: Path,
        workers: int = 2,
        *,
        app: str = "wsgi:app",
        options: Sequence[str] | None = None,
    ) -> None:
        self.env = env
        self.log_path = log_path
        self.workers = workers
        self.app = app
        self.options = list(options) if options is not None else ["-c", "gunicorn.conf.py"]
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.started_workers: list[int] = []
        self._log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        """Start gunicorn and wait until /healthz answers 200 and every worker is up."""
        self._log = self.log_path.open("ab")
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            *self.options,
            "-w",
            str(self.workers),
            "-b",
            f"127.0.0.1:{self.port}",
            self.app,
        ]
        self.process = subprocess.Popen(  # noqa: S603
            command,
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the script only; it stops gunicorn itself
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"gunicorn exited ({self.process.returncode}):\n{self.log_tail()}"
                )
            if self._healthy() and len(self.worker_pids()) >= self.workers:
                self.started_workers = self.worker_pids()
                return
            time.sleep(0.2)
        raise RuntimeError(
            f"gunicorn did not answer /healthz in {timeout:.0f}s:\n{self.log_tail()}"
        )

    def _healthy(self) -> bool:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            conn.request("GET", "/healthz")
            response = conn.getresponse()
            response.read()
            return response.status == 200
        except OSError:
            return False
        finally:
            conn.close()

    def worker_pids(self) -> list[int]:
        """Pids of the worker processes (children of the master)."""
        return _children(self.process.pid) if self.process else []

    def workers_restarted(self) -> bool:
        """Whether gunicorn replaced a worker since start (a timeout or a crash)."""
        return self.worker_pids() != self.started_workers

    def peak_rss_mib(self) -> dict[int, float]:
        """Peak resident memory (VmHWM) of each worker, in MiB."""
        peaks = {}
        for pid in self.worker_pids():
            kib = _status_kib(pid, "VmHWM")
            if kib is not None:
                peaks[pid] = kib / 1024
        return peaks

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """Stop gracefully (SIGTERM), then kill the whole process group if it lingers."""
        process = self.process
        if process is None:
            return
        self.process = None
        workers = _children(process.pid)
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        for pid in workers:  # a worker the master left behind: still in gunicorn's group
            if _process_group(pid) == process.pid:
                os.kill(pid, signal.SIGKILL)
        if self._log:
            self._log.close()
            self._log = None
