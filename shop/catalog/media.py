"""Product photos and IFU documents: checked, stored under a random name, served at /media
(by `catalog.views`).

Nothing about an upload is trusted but its bytes: not its filename, not the content type
the browser sent. A photo must decode as JPEG, PNG or WebP within the size limits and is
re-encoded (which drops its metadata and anything appended to it); an IFU must look like a
whole PDF. Files live in `SHOP_UPLOAD_DIR` (default `instance/uploads/`) and are never
overwritten: a new upload gets a new name, so every /media URL can be cached for a year.
"""

from __future__ import annotations

import os
import re
import secrets
import warnings
from io import BytesIO
from pathlib import Path
from typing import IO

from flask import Response, abort, current_app, send_from_directory
from PIL import Image, ImageOps

from shop.errors import ValidationError

MB = 1024 * 1024
IMAGE_MAX_BYTES = 5 * MB
IMAGE_MAX_SIDE = 4000
IFU_MAX_BYTES = 10 * MB
# Pillow format name → the extension the stored file gets.
IMAGE_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
MEDIA_TYPES = {
    "jpg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "pdf": "application/pdf",
}
STORED_NAME = re.compile(r"[0-9a-f]{32}\.(?:jpg|png|webp|pdf)")
ONE_YEAR = 365 * 24 * 3600
# Images opened on their own get nothing but themselves. PDFs keep the default policy
# minus `object-src 'none'`, which blanks Chrome's built-in viewer (crbug.com/271452).
IMAGE_POLICY = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
PDF_POLICY = "frame-ancestors 'self'"


def upload_dir() -> Path:
    """Where uploads are kept: `SHOP_UPLOAD_DIR`, else `uploads/` in the instance folder."""
    configured = current_app.config.get("SHOP_UPLOAD_DIR")
    return Path(configured) if configured else Path(current_app.instance_path) / "uploads"


def _read_at_most(stream: IO[bytes], limit: int, *, field: str, what: str) -> bytes:
    data = stream.read(limit + 1)
    if not data:
        raise ValidationError({field: "That file is empty."})
    if len(data) > limit:
        raise ValidationError({field: f"{what} must be at most {limit // MB} MB."})
    return data


def checked_image(data: bytes) -> tuple[bytes, str]:
    """The photo re-encoded in its own format without metadata, and its extension.

    Raises ValidationError (field `image`) unless the bytes are a JPEG, PNG or WebP that
    Pillow verifies and decodes, at most IMAGE_MAX_SIDE pixels on each side.
    """
    unreadable = ValidationError({"image": "That file is not a JPEG, PNG or WebP picture."})
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(BytesIO(data), formats=list(IMAGE_FORMATS)) as probe:
                probe.verify()
            with Image.open(BytesIO(data), formats=list(IMAGE_FORMATS)) as image:
                width, height = image.size
                if max(width, height) > IMAGE_MAX_SIDE:
                    raise ValidationError(
                        {
                            "image": f"The picture is {width}×{height} pixels; make it at most "
                            f"{IMAGE_MAX_SIDE} pixels on each side."
                        }
                    )
                image.load()
                return _reencoded(image), IMAGE_FORMATS[str(image.format)]
    except ValidationError:
        raise
    except Exception as exc:  # Pillow reports bad input with many exception types.
        raise unreadable from exc


def _reencoded(image: Image.Image) -> bytes:
    fmt = str(image.format)
    icc_profile = image.info.get("icc_profile")
    upright = ImageOps.exif_transpose(image)
    options: dict[str, object] = {"icc_profile": icc_profile} if icc_profile else {}
    if fmt == "JPEG":
        if upright.mode not in ("RGB", "L", "CMYK"):
            upright = upright.convert("RGB")
        options.update(quality=90)
    elif fmt == "WEBP":
        if upright.mode not in ("RGB", "RGBA"):
            upright = upright.convert("RGBA" if upright.has_transparency_data else "RGB")
        options.update(quality=90)
    elif upright.mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        upright = upright.convert("RGB")
    out = BytesIO()
    upright.save(out, fmt, **options)
    return out.getvalue()


def checked_pdf(data: bytes) -> bytes:
    """The bytes, if they look like a whole PDF: the `%PDF-` header and the trailer's
    `startxref … %%EOF` at the end. Raises ValidationError (field `ifu`) otherwise."""
    if not re.match(rb"%PDF-[12]\.\d", data):
        raise ValidationError({"ifu": "That file is not a PDF."})
    tail = data[-4096:]
    if b"startxref" not in tail or b"%%EOF" not in tail:
        raise ValidationError({"ifu": "That PDF is cut short or damaged: save it again."})
    return data


def _store(content: bytes, extension: str) -> str:
    folder = upload_dir()
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{secrets.token_hex(16)}.{extension}"
    partial = folder / f".{name}.part"
    partial.write_bytes(content)
    os.replace(partial, folder / name)
    return name


def store_image(stream: IO[bytes]) -> str:
    """Check and keep an uploaded product photo; its stored name. ValidationError if refused."""
    data = _read_at_most(stream, IMAGE_MAX_BYTES, field="image", what="The picture")
    content, extension = checked_image(data)
    return _store(content, extension)


def store_ifu(stream: IO[bytes]) -> str:
    """Check and keep an uploaded IFU PDF; its stored name. ValidationError if refused."""
    data = _read_at_most(stream, IFU_MAX_BYTES, field="ifu", what="The IFU")
    return _store(checked_pdf(data), "pdf")


def discard(name: str) -> None:
    """Remove a stored file that nothing will reference (its upload was not saved)."""
    if STORED_NAME.fullmatch(name):
        (upload_dir() / name).unlink(missing_ok=True)


def media_response(name: str, *, max_age: int = ONE_YEAR) -> Response:
    """A stored file with its content type and safe headers; 404 when there is none."""
    if not STORED_NAME.fullmatch(name):
        abort(404)
    extension = name.rsplit(".", 1)[1]
    response = send_from_directory(
        upload_dir(), name, mimetype=MEDIA_TYPES[extension], max_age=max_age
    )
    immutable = ", immutable" if max_age == ONE_YEAR else ""
    response.headers["Cache-Control"] = f"public, max-age={max_age}{immutable}"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if extension == "pdf":
        response.headers["Content-Disposition"] = "inline"
        response.headers["Content-Security-Policy"] = PDF_POLICY
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
    else:
        response.headers["Content-Security-Policy"] = IMAGE_POLICY
    return response
