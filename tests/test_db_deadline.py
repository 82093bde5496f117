"""The client's own database deadline watches a connection only while a statement, commit or
rollback runs on it: a connection back in the pool is watched no more (a stale deadline would
cut, seconds later, whichever connection then holds that socket's number)."""

from __future__ import annotations

import os
import warnings

import pytest
from flask import Flask
from sqlalchemy import text

from shop.db import StatementDeadline
from shop.extensions import db

pytestmark = pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL"), reason="the deadline watches psycopg connections"
)


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
