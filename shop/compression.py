"""Brotli or gzip for text responses (HTML, CSS, SVG, JSON, XML), as the client accepts."""

from __future__ import annotations

from flask import Flask, Response
from flask_compress import Compress

MIMETYPES = [
    "text/html",
    "text/css",
    "text/plain",
    "text/javascript",
    "image/svg+xml",
    "application/json",
    "application/xml",
]


def register(app: Flask) -> None:
    """Compress text responses of 500 bytes or more (smaller ones gain nothing)."""
    app.config.setdefault("COMPRESS_MIMETYPES", MIMETYPES)
    app.config.setdefault("COMPRESS_ALGORITHM", ["br", "gzip"])
    app.config.setdefault("COMPRESS_ALGORITHM_STREAMING", ["br", "gzip"])
    app.config.setdefault("COMPRESS_MIN_SIZE", 500)
    app.extensions["compress"] = Compress(app)
    text_types = set(app.config["COMPRESS_MIMETYPES"])

    @app.after_request
    def read_static_text(response: Response) -> Response:
        """Static text files (small) are read into memory before Compress sees them
        (after-request functions run last-registered first), so they are compressed
        whole and the file is closed with the response."""
        if response.direct_passthrough and response.mimetype in text_types:
            response.direct_passthrough = False
            response.make_sequence()
        return response
