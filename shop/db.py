"""Declarative base with a naming convention, so constraints have stable names, and the
client's own deadline for a database that stops answering."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase

log = logging.getLogger("shop.db")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    """Timezone-aware now, as a column default callable."""
    return datetime.now(UTC)


class StatementDeadline:
    """The client's own deadline for the database: a statement, commit or rollback that has
    not answered after `seconds` has its connection cut (the socket shut down), so the waiting
    request gets an OperationalError (the shop's 503 page) instead of hanging for as long
    as a stopped or unreachable server keeps it waiting. The server's statement_timeout
    cannot do this when the server itself does not answer.

    One watcher thread per process checks the running statements a few times a second; a
    connection is registered with its socket when a statement starts and forgotten when it
    ends (or the connection goes back to the pool).
    """

    CHECK_EVERY = 0.2

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        # id of the DBAPI connection -> (deadline, its socket, the connection itself)
        self._running: dict[int, tuple[float, int, weakref.ref[Any]]] = {}
        self._lock = threading.Lock()
        self._watcher_pid: int | None = None
        self.cut = 0  # connections cut so far, for the log and the tests

    def install(self, engine: Engine) -> None:
        """Watch every statement of this engine (PostgreSQL through psycopg only)."""
        if engine.dialect.name != "postgresql":
            return
        _deadlines[engine] = self
        event.listen(engine, "before_cursor_execute", self._on_statement)
        event.listen(engine, "after_cursor_execute", self._on_answer)
        event.listen(engine, "handle_error", self._on_error)
        event.listen(engine, "commit", self._on_commit_or_rollback)
        event.listen(engine, "rollback", self._on_commit_or_rollback)
        event.listen(engine, "checkout", self._ping)
        event.listen(engine, "checkin", self._on_checkin)
        event.listen(engine, "reset", self._on_reset)
        # A connection closed or invalidated is watched no more: its socket's number is
        # soon another connection's, which a stale deadline would cut.
        event.listen(engine, "close", self._on_gone)
        event.listen(engine, "close_detached", self._on_gone_detached)
        event.listen(engine, "invalidate", self._on_gone_invalidated)

    # ---- engine and pool events --------------------------------------------------------------

    def _on_statement(self, conn: Connection, *args: Any) -> None:
        self.begin(conn.connection.dbapi_connection)

    def _on_answer(self, conn: Connection, *args: Any) -> None:
        self.end(conn.connection.dbapi_connection)

    def _on_error(self, context: ExceptionContext) -> None:
        if context.connection is not None and not context.connection.closed:
            self.end(context.connection.connection.dbapi_connection)

    def _on_commit_or_rollback(self, conn: Connection) -> None:
        self.begin(conn.connection.dbapi_connection)

    def _on_checkin(self, dbapi_connection: Any, record: Any) -> None:
        self.end(dbapi_connection)

    def _on_reset(self, dbapi_connection: Any, record: Any, reset_state: Any) -> None:
        # SQLAlchemy 2's signature: with `*args` it took this for the 1.x one and warned.
        self.begin(dbapi_connection)

    def _on_gone(self, dbapi_connection: Any, record: Any) -> None:
        self.end(dbapi_connection)

    def _on_gone_detached(self, dbapi_connection: Any) -> None:
        self.end(dbapi_connection)

    def _on_gone_invalidated(self, dbapi_connection: Any, record: Any, exception: Any) -> None:
        self.end(dbapi_connection)

    def _ping(self, dbapi_connection: Any, record: Any, proxy: Any) -> None:
        """A pooled connection answers, within the deadline, before it is handed out;
        otherwise the pool is told to connect again (each connect has its own timeout)."""
        self.begin(dbapi_connection)
        try:
            dbapi_connection.execute("SELECT 1")
        except Exception as exc:
            raise DisconnectionError(f"the pooled connection did not answer: {exc}") from exc
        finally:
            self.end(dbapi_connection)

    @staticmethod
    def of(engine: Engine) -> StatementDeadline | None:
        """The deadline installed on this engine, if any."""
        return _deadlines.get(engine)

    @contextmanager
    def watching(self, dbapi_connection: Any) -> Iterator[None]:
        """Watch what runs on a connection outside the engine's own events (a raw one)."""
        self.begin(dbapi_connection)
        try:
            yield
        finally:
            self.end(dbapi_connection)

    # ---- the watch ----------------------------------------------------------------------------

    def begin(self, dbapi_connection: Any) -> None:
        fd = _socket_of(dbapi_connection)
        if fd is None:
            return
        self._ensure_watcher()
        until = time.monotonic() + self.seconds
        with self._lock:
            self._running[id(dbapi_connection)] = (until, fd, weakref.ref(dbapi_connection))

    def end(self, dbapi_connection: Any) -> None:
        with self._lock:
            self._running.pop(id(dbapi_connection), None)

    def _ensure_watcher(self) -> None:
        pid = os.getpid()
        if self._watcher_pid == pid:
            return
        with self._lock:
            if self._watcher_pid == pid:
                return
            self._running.clear()  # a forked child watches its own connections only
            self._watcher_pid = pid
            threading.Thread(target=self._watch, name="db-deadline", daemon=True).start()

    def _watch(self) -> None:
        while True:
            time.sleep(self.CHECK_EVERY)
            now = time.monotonic()
            with self._lock:
                late = [
                    (key, fd, ref)
                    for key, (until, fd, ref) in self._running.items()
                    if until <= now
                ]
                for key, _fd, _ref in late:
                    del self._running[key]
            for _key, fd, ref in late:
                if _waiting_on_server(ref(), fd):
                    self._cut(fd)

    def _cut(self, fd: int) -> None:
        try:
            with socket.socket(fileno=os.dup(fd)) as sock:
                sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            return  # closed meanwhile: nothing is waiting on it any more
        self.cut += 1
        log.error(
            "database did not answer within %.1f s: connection cut, the request gets a 503",
            self.seconds,
        )


_deadlines: weakref.WeakKeyDictionary[Engine, StatementDeadline] = weakref.WeakKeyDictionary()


def _waiting_on_server(dbapi_connection: Any, fd: int) -> bool:
    """Whether this connection, on this socket still, is waiting for the server to answer a
    command (libpq's ACTIVE state). A connection that finished meanwhile (idle, or idle in
    a transaction after a commit or rollback began it), was closed, or was collected (its
    socket number perhaps reused by another connection) is never cut."""
    if dbapi_connection is None or _socket_of(dbapi_connection) != fd:
        return False
    try:
        from psycopg import pq

        status = dbapi_connection.pgconn.transaction_status
        return bool(status == pq.TransactionStatus.ACTIVE)
    except Exception:
        return False


def _socket_of(dbapi_connection: Any) -> int | None:
    """The socket of a psycopg connection, or None (closed, or another driver)."""
    pgconn = getattr(dbapi_connection, "pgconn", None)
    try:
        return int(pgconn.socket) if pgconn is not None else None
    except Exception:
        return None
