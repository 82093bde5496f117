"""The catalogue's version, which says when cached catalogue pages and each process's
catalogue index are stale: read once by every catalogue request, moved by every catalogue
change (products, variants, prices, search words).

Stock never moves it: a cached page is keyed by the stock of the variants it shows as
well (inventory.stock_digest), so a sale refreshes the pages of its own variants and
nothing else. The `catalog_version` table's row 1 holds it (row 2, the index's own
version while stock moved the pages' one, is no longer read or moved).
"""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from contextlib import AbstractContextManager, nullcontext
from typing import Any, cast

from flask import g, has_request_context
from sqlalchemy import Engine, event, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import DBAPIError

from shop.catalog.models import CatalogVersion
from shop.db import StatementDeadline
from shop.extensions import db

PAGES_ROW = 1
STOCK_ROW = 3  # moved by every change of what can be sold
_MEMO = "_catalogue_versions"


def page_version() -> int:
    """The catalogue's version: cached pages and the catalogue index are valid for one.

    Read on a connection of its own (see `_VersionReader`) rather than through the ORM
    session: the last committed version, at the cost of one indexed SELECT, once per
    request (a request's later asks get the same answer). The database stays the only
    source of truth.
    """
    return _versions()[0]


def stock_version() -> int:
    """The stock's version, read with the catalogue's: each process keeps what it counted
    of a page's stock while this stays the same, and counts afresh once it moves."""
    return _versions()[1]


def _versions() -> tuple[int, int]:
    if not has_request_context():
        return _read()
    versions: tuple[int, int] | None = g.get(_MEMO)
    if versions is None:
        versions = _read()
        setattr(g, _MEMO, versions)
    return versions


# What queries.CatalogIndex is derived from is the catalogue without its stock: the same.
index_version = page_version


def _read() -> tuple[int, int]:
    engine = db.engine
    if engine.url.get_backend_name() == "sqlite" and engine.url.database in (None, "", ":memory:"):
        # An in-memory database is only visible through the pool's one connection.
        rows = dict(
            db.session.execute(
                select(CatalogVersion.id, CatalogVersion.version).where(
                    CatalogVersion.id.in_((PAGES_ROW, STOCK_ROW))
                )
            ).all()
        )
        return rows.get(PAGES_ROW, 0), rows.get(STOCK_ROW, 0)
    readers = _readers.get(engine)
    if readers is None:
        readers = _readers.setdefault(engine, {})
    pid = os.getpid()
    reader = readers.get(pid)  # never a parent's connection in a forked worker
    if reader is None:
        reader = readers.setdefault(pid, _VersionReader(engine))
    return reader.read()


class _VersionReader:
    """One DBAPI connection per engine and process, in autocommit, for the version row.

    Cheaper than the ORM session: no session to make and close, no pool checkout, no
    transaction to roll back, one round trip. Autocommit means each read sees the last
    committed version (no snapshot held from an earlier read). The connection is taken from
    the engine's pool and detached from it (so the pool's limits and resets never touch
    it), closed when the engine is disposed or collected, and made again after an error.
    """

    _SQL = (
        "SELECT COALESCE((SELECT version FROM catalog_version WHERE id = 1), 0), "
        "COALESCE((SELECT version FROM catalog_version WHERE id = 3), 0)"
    )

    def __init__(self, engine: Engine) -> None:
        self._engine = weakref.ref(engine)
        self._lock = threading.Lock()
        self._connection: Any = None
        self._pid = os.getpid()
        weakref.finalize(engine, self.close)
        event.listen(engine, "engine_disposed", self._disposed)

    def _connect(self) -> Any:
        engine = self._engine()
        assert engine is not None, "the engine is gone"
        pooled = engine.raw_connection()
        pooled.detach()
        connection = pooled.dbapi_connection
        assert connection is not None
        connection.rollback()  # end whatever the pool's connect hooks began
        if engine.url.get_backend_name() == "sqlite":
            connection.isolation_level = None
        else:
            connection.autocommit = True
        return connection

    def read(self) -> tuple[int, int]:
        sql = self._SQL
        with self._lock:
            for attempt in (1, 2):
                try:
                    if self._connection is None:
                        self._connection = self._connect()
                    cursor = self._connection.cursor()
                    try:
                        with self._deadline(self._connection):
                            cursor.execute(sql)
                            found = cursor.fetchone()
                    finally:
                        cursor.close()
                    return (int(found[0]), int(found[1])) if found else (0, 0)
                except Exception as exc:
                    self._close_connection()
                    if attempt == 2:  # a second failure on a new connection: say so
                        wrapped = self._wrapped(exc, sql)
                        if wrapped is exc:
                            raise
                        raise wrapped from exc
        raise AssertionError("unreachable")

    def _deadline(self, connection: Any) -> AbstractContextManager[None]:
        """The database's client-side deadline over a read on this raw connection."""
        engine = self._engine()
        deadline = StatementDeadline.of(engine) if engine is not None else None
        return deadline.watching(connection) if deadline is not None else nullcontext()

    def _wrapped(self, exc: Exception, sql: str) -> Exception:
        """A DBAPI error as SQLAlchemy raises it (OperationalError when the database is
        down: the shop answers 503), anything else as it is."""
        engine = self._engine()
        dbapi = engine.dialect.loaded_dbapi if engine is not None else None
        if engine is None or dbapi is None or not isinstance(exc, dbapi.Error):
            return exc
        return DBAPIError.instance(sql, None, exc, dbapi.Error, dialect=engine.dialect)

    def _disposed(self, engine: Engine) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._close_connection()

    def _close_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        if os.getpid() != self._pid:
            # A forked child's copy of its parent's connection: closing it (or letting it be
            # collected) would end the parent's session on the server. Keep it, unused.
            _inherited.append(connection)
            return
        with contextlib.suppress(Exception):  # closing a broken connection may fail too
            connection.close()


_readers: weakref.WeakKeyDictionary[Engine, dict[int, _VersionReader]] = weakref.WeakKeyDictionary()
_inherited: list[Any] = []


def catalogue_changed() -> None:
    """A catalogue change: invalidates every cached catalogue page and each process's
    catalogue index (flushes; visible to others at commit)."""
    _bump(PAGES_ROW)
    if has_request_context():
        g.pop(_MEMO, None)  # this request reads the new version from now on


def stock_changed() -> None:
    """A change of what can be sold (flushes; visible to others at commit): each process
    counts the stock of the pages it serves afresh. No cached page is thrown away: a page is
    keyed by the stock it shows, so only pages of the variants that changed render again.
    Called under the stock lock, so concurrent bumps queue and never deadlock."""
    _bump(STOCK_ROW)
    if has_request_context():
        g.pop(_MEMO, None)


def _bump(row: int) -> None:
    result = db.session.execute(
        update(CatalogVersion)
        .where(CatalogVersion.id == row)
        .values(version=CatalogVersion.version + 1)
    )
    if cast(CursorResult[Any], result).rowcount == 0:
        db.session.add(CatalogVersion(id=row, version=2))
        db.session.flush()
