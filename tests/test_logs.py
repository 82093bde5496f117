"""What an operator reads: JSON lines with a request id, route, status and duration, and
errors arriving at Sentry (the real SDK posting to a loopback server) without personal data.
Each shop runs in a process of its own, as it logs and reports in production."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import brotli
import pytest

from shop.logs import request_id_from

ROOT = Path(__file__).resolve().parent.parent

SHOP = """
import sys
import sentry_sdk
from shop import create_app

app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})


@app.route("/_test/boom/<int:number>")
def boom(number: int) -> str:
    raise RuntimeError(f"needle count went negative for lot {number}")


client = app.test_client()
for path, request_id in [
    ("/_test/boom/7", "abc-123"), ("/robots.txt", "bad id\\twith tab"), ("/nowhere", None)
]:
    headers = {"X-Request-ID": request_id} if request_id else {}
    headers["Cookie"] = "session=secret-cookie"
    response = client.get(path, headers=headers, environ_base={"REMOTE_ADDR": "203.0.113.9"})
    print(response.status_code, response.headers["X-Request-ID"])
sentry_sdk.flush(10)
"""


def run_shop(tmp_path: Path, **env: str) -> tuple[list[str], list[str]]:
    """Run the little shop above; its printed answers and the lines it logged."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SHOP_", "SENTRY_", "MAIL_", "DATABASE_", "STRIPE_", "REDIS_"))
    }
    environment.update(SECRET_KEY="logs-test-secret", **env)
    script = tmp_path / "shop_under_test.py"
    script.write_text(textwrap.dedent(SHOP))
    done = subprocess.run(  # noqa: S603 - this interpreter on the test's own script
        [sys.executable, str(script)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines(), done.stderr.splitlines()


def test_production_logs_json_lines_with_request_id_route_status_and_duration(
    tmp_path: Path,
) -> None:
    answers, lines = run_shop(tmp_path, SHOP_LOG_FORMAT="json")
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    requests = [r for r in records if r["logger"] == "shop.request"]
    assert [(r["method"], r["route"], r["status"]) for r in requests] == [
        ("GET", "/_test/boom/<int:number>", 500),
        ("GET", "/robots.txt", 200),
        ("GET", None, 404),
    ]
    assert all(isinstance(r["duration_ms"], float) for r in requests)
    # The proxy's id is kept when sane, replaced when not; the response says which.
    statuses_and_ids = [answer.split(" ", 1) for answer in answers]
    assert statuses_and_ids[0] == ["500", "abc-123"]
    assert [r["request_id"] for r in requests] == [i for _, i in statuses_and_ids]
    assert len(requests[1]["request_id"]) == 32 and "\t" not in requests[1]["request_id"]
    # The error logged during the first request carries its id, and its traceback.
    (error,) = [r for r in records if r["level"] == "ERROR"]
    assert error["request_id"] == "abc-123"
    assert "needle count went negative for lot 7" in error["exc_info"]
    assert "secret-cookie" not in "\n".join(lines)


def test_development_logs_plain_text(tmp_path: Path) -> None:
    _, lines = run_shop(tmp_path)
    request_lines = [line for line in lines if " shop.request: " in line]
    assert len(request_lines) == 3
    assert "INFO shop.request: GET /robots.txt 200" in request_lines[1]
    assert not any(line.startswith("{") for line in lines)


class SentryIngest(BaseHTTPRequestHandler):
    """Sentry's envelope endpoint: keeps every item posted to it."""

    items: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "br":
            body = brotli.decompress(body)
        for line in body.splitlines():
            if line.strip().startswith(b"{"):
                self.items.append({"path": self.path, **json.loads(line)})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def sentry() -> Iterator[ThreadingHTTPServer]:
    SentryIngest.items = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), SentryIngest)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_an_error_in_a_route_arrives_at_sentry_without_personal_data(
    tmp_path: Path, sentry: ThreadingHTTPServer
) -> None:
    port = sentry.server_address[1]
    run_shop(tmp_path, SENTRY_DSN=f"http://publickey@127.0.0.1:{port}/42")
    events = [item for item in SentryIngest.items if "exception" in item]
    assert events, SentryIngest.items
    assert all(item["path"] == "/api/42/envelope/" for item in SentryIngest.items)
    event = events[0]
    (exception,) = event["exception"]["values"]
    assert exception["type"] == "RuntimeError"
    assert exception["value"] == "needle count went negative for lot 7"
    assert event["tags"]["request_id"] == "abc-123"
    assert event["transaction"] == "boom"
    sent = json.dumps(SentryIngest.items)
    assert "secret-cookie" not in sent and "203.0.113.9" not in sent


@pytest.mark.parametrize(
    "header, kept",
    [("abc-123", True), ("4bf92f3577b34da6a3ce929d0e0e4736", True), ("", False)]
    + [("x" * 129, False), ("a b", False), ("é", False), ("<script>", False)],
)
def test_a_request_id_is_kept_only_when_it_looks_like_one(header: str, kept: bool) -> None:
    made = request_id_from(header)
    assert (made == header) is kept
    assert len(made) <= 128 and made.isascii()
