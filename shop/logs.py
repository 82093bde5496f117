"""Logs an operator can search, and errors sent where they are seen.

Every record goes out as one JSON object a line (time, level, logger, message and any
extra fields) with SHOP_LOG_FORMAT=json, the default in production, or as plain text (the
default in development). Each request gets an id: the X-Request-ID its proxy sent when it
looks like one, else a new one; it is echoed in the response, carried by every record
logged during the request, and ends the request with one line on `shop.request` saying
method, route (the URL rule, never the path: order and quote links hold secret tokens),
status and duration. With SENTRY_DSN, errors go to Sentry too, without personal data.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

import sentry_sdk
from flask import Flask, Response, g, has_request_context, request
from pythonjsonlogger.json import JsonFormatter
from sentry_sdk.integrations.flask import FlaskIntegration

from shop.config import Settings

request_log = logging.getLogger("shop.request")

# What a request id a proxy sends may look like; anything else is replaced.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RequestIdFilter(logging.Filter):
    """Stamps each record logged while a request is handled with that request's id."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id") and has_request_context():
            request_id = g.get("request_id")
            if request_id:
                record.request_id = request_id
        return True


def json_formatter() -> logging.Formatter:
    return JsonFormatter(
        "%(levelname)s %(name)s %(message)s",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="time",
        json_ensure_ascii=False,
    )


def configure_logging(settings: Settings) -> None:
    """Give the process one handler on stderr in the chosen format, unless something (a
    test runner, a server's own setup) has already put one there."""
    root = logging.getLogger()
    if root.handlers:
        for handler in root.handlers:
            _stamp(handler)
        return
    handler = logging.StreamHandler()
    handler.setFormatter(
        json_formatter() if settings.log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    _stamp(handler)
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def _stamp(handler: logging.Handler) -> None:
    if not any(isinstance(f, RequestIdFilter) for f in handler.filters):
        handler.addFilter(RequestIdFilter())


def request_id_from(header: str | None) -> str:
    """The id a proxy sent, when it looks like one; else a new one."""
    if header and SANE_REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def register(app: Flask) -> None:
    """Request ids and the closing line of every request; Sentry when configured."""
    settings: Settings = app.config["SHOP_SETTINGS"]
    configure_logging(settings)
    if not settings.production and not app.testing:
        # The mail a developer's shop only logs (reset links ...) is at DEBUG: show it.
        logging.getLogger("shop.mail").setLevel(logging.DEBUG)
    if settings.sentry_dsn:
        sentry_sdk.init(
            dsn=settings.sentry_dsn,
            integrations=[FlaskIntegration()],
            send_default_pii=False,
            environment="production" if settings.production else "development",
        )

    @app.before_request
    def start_request() -> None:
        g.request_started = time.perf_counter()
        g.request_id = request_id_from(request.headers.get("X-Request-ID"))
        if settings.sentry_dsn:
            sentry_sdk.set_tag("request_id", g.request_id)

    @app.after_request
    def end_request(response: Response) -> Response:
        request_id = g.get("request_id") or request_id_from(None)
        response.headers["X-Request-ID"] = request_id
        started = g.get("request_started", time.perf_counter())
        duration_ms = round((time.perf_counter() - started) * 1000, 1)
        route = request.url_rule.rule if request.url_rule is not None else None
        request_log.info(
            "%s %s %s %.1f ms",
            request.method,
            route or "(no route)",
            response.status_code,
            duration_ms,
            extra={
                "request_id": request_id,
                "method": request.method,
                "route": route,
                "status": response.status_code,
                "duration_ms": duration_ms,
            },
        )
        return response
