"""The client's own deadline for PostgreSQL cuts a connection only while it waits for the
server: never one that finished its statement and sits idle (after a commit, say), and a
connection back in the pool or closed is watched no more (a stale deadline would cut, seconds
later, whichever connection then holds that socket's number)."""

from __future__ import annotations

import os
import time
import warnings

import pytest
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from shop.db import StatementDeadline
from shop.extensions import db

pytestmark = pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL"),
    reason="the deadline watches PostgreSQL connections: set TEST_DATABASE_URL",
)


@pytest.fixture
def watched(database_url: str):  # type: ignore[no-untyped-def]
    engine = create_engine(database_url)
    deadline = StatementDeadline(0.5)
    deadline.install(engine)
    yield engine, deadline
    engine.dispose()


def test_an_idle_connection_after_a_commit_is_never_cut(watched) -> None:  # type: ignore[no-untyped-def]
    engine, deadline = watched
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
        conn.commit()  # the commit was watched; nothing runs afterwards
        time.sleep(1.2)
        conn.execute(text("SELECT 1"))  # the connection is still there
        conn.rollback()
        time.sleep(1.2)
        assert conn.execute(text("SELECT 2")).scalar() == 2
    assert deadline.cut == 0


def test_a_statement_the_server_does_not_answer_in_time_is_cut(watched) -> None:  # type: ignore[no-untyped-def]
    engine, deadline = watched
    began = time.monotonic()
    conn = engine.connect()
    try:
        with pytest.raises(OperationalError):
            conn.execute(text("SELECT pg_sleep(5)"))
    finally:
        conn.invalidate()
    assert time.monotonic() - began < 3
    assert deadline.cut == 1


def test_a_connection_back_in_the_pool_is_no_longer_watched(app: Flask) -> None:
    with app.app_context():
        deadline = StatementDeadline.of(db.engine)
        assert deadline is not None
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # SQLAlchemy's warning about a listener's signature
            db.session.execute(text("SELECT 1"))
            db.session.commit()
            db.session.remove()
        assert deadline._running == {}


def test_a_closed_connection_is_no_longer_watched(app: Flask) -> None:
    with app.app_context():
        deadline = StatementDeadline.of(db.engine)
        assert deadline is not None
        connection = db.engine.connect()
        connection.execute(text("SELECT 1"))
        connection.commit()  # watched until the commit is answered or the connection goes
        connection.invalidate()
        connection.close()
        assert deadline._running == {}
