"""The cache every process shares (Redis when REDIS_URL is set), used so that Redis being
down or slow never fails a page: the page is then rendered without it.

A failure opens a short pause during which Redis is not asked at all (each ask would wait
for its timeout), with one warning in the log; after the pause the next ask tries again.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from redis.exceptions import RedisError

from shop.extensions import cache

log = logging.getLogger("shop.cache")

PAUSE_AFTER_FAILURE = 10.0  # seconds without asking Redis after it failed


class _Breaker:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.paused_until = 0.0

    def closed(self) -> bool:
        return time.monotonic() >= self.paused_until

    def failed(self, exc: Exception) -> None:
        with self._lock:
            if not self.closed():
                return
            self.paused_until = time.monotonic() + PAUSE_AFTER_FAILURE
        log.warning(
            "shared cache unavailable (%s: %s): pages are rendered without it for %.0f s",
            type(exc).__name__,
            exc,
            PAUSE_AFTER_FAILURE,
        )


_breaker = _Breaker()


def get(key: str) -> Any:
    """The value kept under `key`, or None when there is none or Redis cannot tell."""
    if not _breaker.closed():
        return None
    try:
        return cache.get(key)
    except (RedisError, OSError) as exc:
        _breaker.failed(exc)
        return None


def set(key: str, value: Any) -> None:  # noqa: A001 - the cache's own verb
    """Keep `value` under `key` if the cache can; nothing is lost if it cannot."""
    if not _breaker.closed():
        return
    try:
        cache.set(key, value)
    except (RedisError, OSError) as exc:
        _breaker.failed(exc)


def available() -> bool:
    """Whether the shared cache answers now (a ping; never raises)."""
    client = getattr(cache.cache, "_write_client", None)
    if client is None:
        return True  # the in-process cache of a single process
    try:
        return bool(client.ping())
    except (RedisError, OSError):
        return False
