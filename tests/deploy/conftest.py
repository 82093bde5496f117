"""The shop under gunicorn (the checked-in gunicorn.conf.py) in processes of its own, and a
buyer that talks to it over HTTP like a browser (cookies, CSRF tokens)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.served import Gunicorn

SECRET_KEY = "deploy-tests-secret-key-0123456789"


def shop_env(database_url: str, **settings: str) -> dict[str, str]:
    """The environment of a shop process: this test run's database and the given settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("STRIPE_", "MAIL_", "REDIS_", "SHOP_", "DATABASE_", "TRUSTED_"))
    }
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY=SECRET_KEY,
        SHOP_BASE_URL="http://shop.test",
        GUNICORN_LOG_LEVEL="warning",
    )
    env.update(settings)
    return env


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[type[Gunicorn]]:
    """Start shops with `serve(env)`; every one started is stopped after the test."""
    started: list[Gunicorn] = []

    class Served(Gunicorn):
        def __init__(self, env: dict[str, str], workers: int = 2) -> None:
            super().__init__(env, tmp_path / f"gunicorn-{len(started)}.log", workers)
            started.append(self)
            self.start()

    yield Served
    for server in started:
        server.stop()


class Buyer:
    """A browser: a cookie jar, and the CSRF token of the last page it read."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = requests.Session()
        self.token = ""

    def get(self, path: str, timeout: float = 30) -> requests.Response:
        response = self.http.get(self.base_url + path, allow_redirects=False, timeout=timeout)
        match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', response.text)
        if match:
            self.token = match.group(1)
        return response

    def post(self, path: str, data: dict[str, str], timeout: float = 30) -> requests.Response:
        return self.http.post(
            self.base_url + path,
            data={**data, "csrf_token": self.token},
            allow_redirects=False,
            timeout=timeout,
        )

    def add_to_cart(self, slug: str, sku: str, quantity: int) -> None:
        self.get(f"/products/{slug}")
        response = self.post("/cart/add", {"sku": sku, "quantity": str(quantity)})
        assert response.status_code == 303, response.text[:500]
        self.get("/cart")


def _free_port() -> int:
    from tests.served import free_port

    return free_port()


class RedisServer:
    """A redis-server of this test's own on a free port, which the test may stop (SIGSTOP:
    it hangs), resume, kill (the port closes) and start again."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed")
        self.process = subprocess.Popen(  # noqa: S603 - a fixed command
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for_port(self.port)
        return self

    def pause(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


def _wait_for_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


class PostgresCluster:
    """A PostgreSQL cluster of this test's own (initdb as the postgres user) on a free port,
    which the test can stop dead (SIGSTOP on every server process) and resume."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = _free_port()
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
        if not bins or os.geteuid() != 0:
            pytest.skip("needs Debian's PostgreSQL binaries and root (to run them as postgres)")
        self.bin = bins[-1]

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/shop"

    def _run(self, *command: str) -> None:
        subprocess.run(  # noqa: S603 - fixed commands on the test's own folder
            ["runuser", "-u", "postgres", "--", *command],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start(self) -> PostgresCluster:
        self.folder.mkdir(parents=True, exist_ok=True)
        shutil.chown(self.folder, "postgres", "postgres")
        data = str(self.folder / "data")
        self._run(
            str(self.bin / "initdb"),
            "-D",
            data,
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        )
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.folder / "server.log")
        self._run(str(self.bin / "pg_ctl"), "-D", data, "-o", options, "-l", log, "-w", "start")
        self._run(
            str(self.bin / "createdb"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "shop",
        )
        return self

    def pids(self) -> list[int]:
        first = (self.folder / "data" / "postmaster.pid").read_text().split()[0]
        postmaster = int(first)
        children = [
            int(p.name)
            for p in Path("/proc").iterdir()
            if p.name.isdigit() and _parent(int(p.name)) == postmaster
        ]
        return [postmaster, *children]

    def pause(self) -> None:
        for pid in self.pids():
            os.kill(pid, signal.SIGSTOP)

    def resume(self) -> None:
        for pid in self.pids():
            os.kill(pid, signal.SIGCONT)

    def stop(self) -> None:
        data = self.folder / "data"
        if (data / "postmaster.pid").exists():
            self.resume()
            self._run(str(self.bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")


def _parent(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2 :].split()[1])


@pytest.fixture
def own_postgres(tmp_path: Path) -> Iterator[PostgresCluster]:
    cluster = PostgresCluster(Path(tempfile.mkdtemp(prefix="shop-pg-")))
    try:
        yield cluster.start()
    finally:
        cluster.stop()
        shutil.rmtree(cluster.folder, ignore_errors=True)
