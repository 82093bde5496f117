"""The error pages the shop answers with: its own page (or JSON for the API) for every
HTTP error, a database that is down, and anything unexpected."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, make_response, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from werkzeug.exceptions import HTTPException, MethodNotAllowed, SecurityError

from shop.extensions import db

log = logging.getLogger("shop.errors")


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz"


def _error_response(status: int, title: str, message: str) -> ResponseReturnValue:
    if _wants_json():
        return jsonify({"error": title, "message": message}), status
    return render_template("errors/error.html", status=status, title=title, message=message), status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(SecurityError)
    def untrusted_host(exc: SecurityError) -> ResponseReturnValue:
        """A Host header the shop does not answer to (TRUSTED_HOSTS): no page is built for
        it, since no link can be (the request's URLs cannot be matched)."""
        log.warning("refused a request for an untrusted host: %s", exc.description)
        return Response("Unknown host.\n", 400, mimetype="text/plain")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> ResponseReturnValue:
        status = exc.code or 500
        titles = {
            400: ("Bad request", "The request could not be understood."),
            403: ("Not allowed", "You do not have access to this page."),
            404: ("Page not found", "There is no page at this address. It may have moved."),
            405: ("Method not allowed", "This address does not accept that kind of request."),
            413: ("Too large", "What you sent is larger than the shop accepts."),
            429: ("Too many requests", "Please wait a moment before trying again."),
        }
        title, message = titles.get(status, (exc.name, exc.description or ""))
        if _wants_json() and exc.description:
            message = exc.description
        elif status == 400 and exc.description and "CSRF" in exc.description:
            message = "Your session expired or the form was sent twice. Please try again."
        response = make_response(_error_response(status, title, message))
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            response.headers["Allow"] = ", ".join(sorted(exc.valid_methods))  # RFC 9110
        return response

    @app.errorhandler(OperationalError)
    def database_down(exc: OperationalError) -> ResponseReturnValue:
        log.error("database unavailable on %s %s: %s", request.method, request.path, exc.orig)
        db.session.rollback()
        return _error_response(
            503,
            "Shop briefly unavailable",
            "We cannot reach our database right now. Please try again in a minute.",
        )

    @app.errorhandler(Exception)
    def server_error(exc: Exception) -> ResponseReturnValue:
        if isinstance(exc, SQLAlchemyError):
            db.session.rollback()
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _error_response(
            500,
            "Something went wrong",
            "The error has been logged and we will look into it. Please try again.",
        )
