"""Running wrk and reading its report."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import asdict, dataclass
from typing import Any

WRK = shutil.which("wrk") or "/usr/bin/wrk"
THREADS = 2
CONNECTIONS = 16

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_PERCENTILE = re.compile(r"^\s*(\d+(?:\.\d+)?)%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.MULTILINE)
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_TOTAL = re.compile(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h)", re.MULTILINE)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


@dataclass(frozen=True)
class WrkResult:
    """One wrk run: throughput, latency percentiles (ms) and errors."""

    url: str
    seconds: int
    requests: int
    rps: float
    percentiles_ms: dict[str, float]
    non_2xx: int
    socket_errors: dict[str, int]

    @property
    def p50_ms(self) -> float:
        return self.percentiles_ms["50"]

    @property
    def p99_ms(self) -> float:
        return self.percentiles_ms["99"]

    @property
    def errors(self) -> int:
        return self.non_2xx + sum(self.socket_errors.values())

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "errors": self.errors}


def to_ms(value: str, unit: str) -> float:
    """A wrk duration such as ("1.23", "ms") or ("850.00", "us") in milliseconds."""
    return float(value) * _UNITS_MS[unit]


def parse(output: str, url: str, seconds: int) -> WrkResult:
    """Read Requests/sec, the --latency distribution and the error lines of a wrk report."""
    rps = _RPS.search(output)
    total = _TOTAL.search(output)
    percentiles = {
        (f"{float(p):g}"): to_ms(value, unit) for p, value, unit in _PERCENTILE.findall(output)
    }
    if rps is None or total is None or not {"50", "99"} <= percentiles.keys():
        raise ValueError(f"unexpected wrk output for {url}:\n{output}")
    non_2xx = _NON_2XX.search(output)
    socket = _SOCKET.search(output)
    names = ("connect", "read", "write", "timeout")
    return WrkResult(
        url=url,
        seconds=seconds,
        requests=int(total.group(1)),
        rps=float(rps.group(1)),
        percentiles_ms=percentiles,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors={
            name: int(socket.group(i + 1)) if socket else 0 for i, name in enumerate(names)
        },
    )


def run(url: str, seconds: int) -> WrkResult:
    """`wrk -t2 -c16 -dSECONDSs --latency URL`, parsed."""
    command = [WRK, f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", url]
    result = subprocess.run(  # noqa: S603
        command, capture_output=True, text=True, check=False, timeout=seconds + 60
    )
    if result.returncode != 0:
        raise RuntimeError(f"wrk failed ({result.returncode}): {result.stderr or result.stdout}")
    return parse(result.stdout, url, seconds)
