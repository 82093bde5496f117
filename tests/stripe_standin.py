"""A loopback stand-in for the parts of the Stripe API the shop uses.

The shop reaches Stripe only through the real ``stripe`` SDK's ``StripeClient``; tests point that
client at this server instead of api.stripe.com::

    with StripeStandIn() as standin:
        client = stripe.StripeClient(
            "sk_test_123", base_addresses={"api": standin.base_url}, max_network_retries=2
        )
        session = client.v1.checkout.sessions.create({...})
        paid = standin.complete(session.id)              # the buyer pays
        event = standin.event("checkout.session.completed", paid)
        body, headers = standin.webhook_request(event, "whsec_test")

The API part answers form-encoded requests the way Stripe does (JSON objects, Stripe's error
body ``{"error": {"type", "message", "param", "code"}}``, idempotency keys, Bearer test keys):

- ``POST /v1/checkout/sessions``, ``GET /v1/checkout/sessions``,
  ``GET /v1/checkout/sessions/<id>``, ``GET /v1/checkout/sessions/<id>/line_items``,
  ``POST /v1/checkout/sessions/<id>/expire``
- ``GET /v1/payment_intents/<id>``, ``GET /v1/charges/<id>``
- ``POST /v1/refunds``, ``GET /v1/refunds``, ``GET /v1/refunds/<id>``
- ``GET /v1/events/<id>`` (events made with :meth:`StripeStandIn.event`),
  ``GET /v1/shipping_rates/<id>``

and ``/pay/<session id>`` is a tiny hosted checkout page for browser tests.

Object shapes (field names, nesting, nulls) follow Stripe's published sample objects
(``openapi/fixtures3.json`` in Stripe's OpenAPI repository, MIT licence); the shapes are written
out in this file, which reads no files at run time.

Deliberate simplifications: only ``mode=payment`` sessions with ``price_data`` line items and
fixed-amount shipping; no tax, discounts or customers (such parameters are refused with HTTP 400
and code ``standin_unsupported`` rather than silently ignored); request values are kept as the
strings the form encoding delivered (``standin.sessions[id].params``); ``expires_at`` accepts
``now + 30 min`` computed a few seconds before the request.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import html
import json
import re
import secrets
import string
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from types import TracebackType
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlsplit

JSONDict = dict[str, Any]

FALLBACK_API_VERSION = "2026-10-28.endive"
TEST_KEY_PREFIXES = ("sk_test_", "rk_test_")
MIN_EXPIRY_SECONDS = 30 * 60
MAX_EXPIRY_SECONDS = 24 * 60 * 60
EXPIRY_GRACE_SECONDS = 10
MAX_AMOUNT = 99_999_999
MAX_LINE_ITEMS = 100
MAX_SHIPPING_OPTIONS = 5
# fmt: off
ZERO_DECIMAL_CURRENCIES = frozenset({
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
    "xaf", "xof", "xpf",
})
# Smallest amount Stripe accepts for a charge, in minor units (Stripe's "minimum charge amounts").
MINIMUM_CHARGE = {
    "usd": 50, "eur": 50, "gbp": 30, "chf": 50, "cad": 50, "aud": 50, "nzd": 50, "sgd": 50,
    "dkk": 250, "nok": 300, "sek": 300, "pln": 200, "czk": 1500, "ron": 200, "jpy": 50,
    "hkd": 400, "mxn": 1000,
}
CURRENCY_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥"}

# Top-level parameters of POST /v1/checkout/sessions (stripe-python's SessionCreateParams).
SESSION_CREATE_PARAMS = frozenset({
    "adaptive_pricing", "after_expiration", "allow_promotion_codes",
    "allowed_payment_method_types", "automatic_tax", "billing_address_collection",
    "branding_settings", "cancel_url", "client_reference_id", "consent_collection", "currency",
    "custom_fields", "custom_text", "customer", "customer_account", "customer_creation",
    "customer_email", "customer_update", "discounts", "excluded_payment_method_types", "expand",
    "expires_at", "integration_identifier", "invoice_creation", "line_items", "locale",
    "managed_payments", "metadata", "mode", "name_collection", "optional_items",
    "origin_context", "payment_intent_data", "payment_method_collection",
    "payment_method_configuration", "payment_method_data", "payment_method_options",
    "payment_method_types", "permissions", "phone_number_collection", "redirect_on_completion",
    "return_url", "saved_payment_method_options", "setup_intent_data",
    "shipping_address_collection", "shipping_options", "submit_type", "subscription_data",
    "success_url", "tax_id_collection", "ui_mode", "wallet_options",
})
# Known parameters that would change amounts or need objects the stand-in does not keep.
SESSION_UNSUPPORTED_PARAMS = frozenset({
    "customer", "customer_account", "customer_update", "discounts", "optional_items",
    "subscription_data", "setup_intent_data", "payment_method_data", "currency",
})
LINE_ITEM_PARAMS = frozenset({
    "adjustable_quantity", "metadata", "price", "price_data", "quantity", "tax_rates",
})
PRICE_DATA_PARAMS = frozenset({
    "currency", "product", "product_data", "recurring", "tax_behavior", "unit_amount",
    "unit_amount_decimal",
})
PRODUCT_DATA_PARAMS = frozenset({
    "description", "images", "metadata", "name", "tax_code", "tax_details", "unit_label",
})
SHIPPING_OPTION_PARAMS = frozenset({"shipping_rate", "shipping_rate_data"})
SHIPPING_RATE_DATA_PARAMS = frozenset({
    "delivery_estimate", "display_name", "fixed_amount", "metadata", "tax_behavior", "tax_code",
    "type",
})
FIXED_AMOUNT_PARAMS = frozenset({"amount", "currency", "currency_options"})
REFUND_CREATE_PARAMS = frozenset({
    "amount", "charge", "currency", "customer", "expand", "instructions_email", "metadata",
    "origin", "payment_intent", "reason", "refund_application_fee", "reverse_transfer",
})
# fmt: on
REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")

_ALNUM = string.ascii_letters + string.digits
_KEY_RE = re.compile(r"([^\[\]]+)((?:\[[^\[\]]*\])*)")
_PART_RE = re.compile(r"\[([^\[\]]*)\]")
_ID_PATTERN = r"([A-Za-z0-9_]+)"


def _new_id(prefix: str, length: int = 24) -> str:
    """A Stripe-looking id: prefix plus random letters and digits."""
    return prefix + "".join(secrets.choice(_ALNUM) for _ in range(length))


def _sdk_api_version() -> str:
    """The API version the installed stripe SDK pins, which is what its requests ask for."""
    try:
        import stripe
    except ImportError:  # pragma: no cover - the shop's tests always have the SDK
        return FALLBACK_API_VERSION
    return str(getattr(stripe, "api_version", None) or FALLBACK_API_VERSION)


def _stripe_order(obj: Mapping[str, Any]) -> JSONDict:
    """Stripe's key order: ``id``, ``object``, then the rest alphabetically."""
    head = [key for key in ("id", "object") if key in obj]
    rest = sorted(key for key in obj if key not in ("id", "object"))
    return {key: obj[key] for key in [*head, *rest]}


def _major_units(amount: int, currency: str) -> str:
    if currency.lower() in ZERO_DECIMAL_CURRENCIES:
        return str(amount)
    sign = "-" if amount < 0 else ""
    return f"{sign}{abs(amount) // 100}.{abs(amount) % 100:02d}"


def format_money(amount: int, currency: str) -> str:
    """An amount in minor units the way Stripe's messages show it: ``$12.50``, ``12.50 CHF``."""
    symbol = CURRENCY_SYMBOLS.get(currency.lower())
    if symbol:
        return f"{symbol}{_major_units(amount, currency)}"
    return f"{_major_units(amount, currency)} {currency.upper()}"


# --------------------------------------------------------------------------------------------
# Errors and form decoding


class _ApiError(Exception):
    """An error answer in Stripe's format; raised inside request handling."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.param = param
        self.code = code
        self.headers = dict(headers or {})

    def to_json(self) -> JSONDict:
        """Stripe's error body."""
        error: JSONDict = {}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        error["message"] = self.message
        if self.param:
            error["param"] = self.param
        error["type"] = self.type
        return {"error": error}


def _missing(param: str) -> _ApiError:
    return _ApiError(
        400, f"Missing required param: {param}.", param=param, code="parameter_missing"
    )


def _no_such(kind: str, object_id: str, param: str, *, status: int = 404) -> _ApiError:
    return _ApiError(status, f"No such {kind}: '{object_id}'", param=param, code="resource_missing")


def _unsupported(param: str, what: str) -> _ApiError:
    return _ApiError(
        400,
        f"The Stripe stand-in does not implement {what}.",
        param=param,
        code="standin_unsupported",
    )


def _child(prefix: str, key: str | int) -> str:
    return f"{prefix}[{key}]" if prefix else str(key)


def decode_form(text: str) -> JSONDict:
    """Decode a Stripe form body or query string into nested dicts and lists.

    ``line_items[0][price_data][unit_amount]=5&metadata[order_id]=7&expand[]=x`` becomes
    ``{"line_items": [{"price_data": {"unit_amount": "5"}}], "metadata": {"order_id": "7"},
    "expand": ["x"]}``. Values stay strings, as they travel. Dicts whose keys are exactly
    ``0..n-1`` become lists (except under ``metadata``). Raises ``_ApiError`` on malformed keys.
    """
    root: JSONDict = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        match = _KEY_RE.fullmatch(key)
        if match is None:
            raise _ApiError(400, f"Invalid parameter name: {key!r}", param=key)
        parts = [match.group(1), *_PART_RE.findall(match.group(2))]
        node = root
        for position, part in enumerate(parts):
            name = part if part != "" else str(len(node))
            if position == len(parts) - 1:
                if isinstance(node.get(name), dict):
                    raise _ApiError(
                        400, f"Invalid hash: {key} is both a value and a hash", param=key
                    )
                node[name] = value
            else:
                child = node.setdefault(name, {})
                if not isinstance(child, dict):
                    raise _ApiError(
                        400, f"Invalid hash: {key} is both a value and a hash", param=key
                    )
                node = child
    result = _listify(root, "")
    if not isinstance(result, dict):
        raise _ApiError(400, "Invalid request: top-level parameter names cannot be numbers.")
    return result


def _listify(value: Any, key: str) -> Any:
    if not isinstance(value, dict):
        return value
    if key == "metadata":
        return value
    converted = {k: _listify(v, k) for k, v in value.items()}
    if converted and all(k.isdigit() for k in converted):
        indexes = sorted(int(k) for k in converted)
        if indexes == list(range(len(indexes))):
            return [converted[str(i)] for i in indexes]
    return converted


def _check_known(params: Mapping[str, Any], allowed: Collection[str], prefix: str = "") -> None:
    for key in params:
        if key not in allowed:
            name = _child(prefix, key)
            raise _ApiError(
                400, f"Received unknown parameter: {name}", param=name, code="parameter_unknown"
            )


def _reject_empty(value: Any, name: str = "") -> None:
    """Refuse empty strings as Stripe does on create (they mean "unset"), except in metadata."""
    if isinstance(value, dict):
        for key, child in value.items():
            if key != "metadata":
                _reject_empty(child, _child(name, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            _reject_empty(child, _child(name, index))
    elif value == "":
        raise _ApiError(
            400,
            f"You passed an empty string for '{name}'. We assume empty values are an attempt to "
            f"unset a parameter; however '{name}' cannot be unset. You should remove '{name}' "
            "from your request or supply a non-empty value.",
            param=name,
            code="parameter_invalid_empty",
        )


def _as_dict(value: Any, param: str) -> JSONDict:
    if value == "":
        return {}
    if isinstance(value, dict):
        return value
    raise _ApiError(400, f"Invalid hash: {param}", param=param, code="parameter_invalid_empty")


def _as_list(value: Any, param: str) -> list[Any]:
    if value == "":
        return []
    if isinstance(value, list):
        return value
    raise _ApiError(400, f"Invalid array: {param}", param=param)


def _as_str(value: Any, param: str, *, max_length: int | None = None) -> str:
    if not isinstance(value, str):
        raise _ApiError(400, f"Invalid string: {value!r}", param=param)
    if max_length is not None and len(value) > max_length:
        raise _ApiError(
            400,
            f"Invalid string: {value[:20]}...; must be at most {max_length} characters",
            param=param,
        )
    return value


def _as_int(
    value: Any, param: str, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    if not isinstance(value, str) or re.fullmatch(r"-?\d+", value) is None:
        raise _ApiError(
            400, f"Invalid integer: {value}", param=param, code="parameter_invalid_integer"
        )
    number = int(value)
    if minimum is not None and number < minimum:
        raise _ApiError(
            400,
            f"This value must be greater than or equal to {minimum}.",
            param=param,
            code="parameter_invalid_integer",
        )
    if maximum is not None and number > maximum:
        raise _ApiError(
            400,
            f"This value must be less than or equal to {maximum}.",
            param=param,
            code="parameter_invalid_integer",
        )
    return number


def _as_bool(value: Any, param: str) -> bool:
    if value in ("true", "false"):
        return bool(value == "true")
    raise _ApiError(400, f"Invalid boolean: {value}", param=param)


def _as_enum(value: Any, param: str, choices: Iterable[str]) -> str:
    options = list(choices)
    if value not in options:
        listed = ", ".join(options[:-1]) + f", or {options[-1]}" if len(options) > 1 else options[0]
        raise _ApiError(400, f"Invalid {param}: must be one of {listed}", param=param)
    return str(value)


def _as_url(value: Any, param: str) -> str:
    url = _as_str(value, param, max_length=5000)
    if not re.match(r"https?://[^\s/]+", url):
        raise _ApiError(400, "Not a valid URL", param=param, code="url_invalid")
    return url


def _as_currency(value: Any, param: str) -> str:
    currency = _as_str(value, param).lower()
    if re.fullmatch(r"[a-z]{3}", currency) is None:
        raise _ApiError(400, f"Invalid currency: {value}", param=param)
    return currency


def _as_metadata(value: Any, param: str) -> dict[str, str]:
    raw = _as_dict(value, param)
    if len(raw) > 50:
        raise _ApiError(400, "You can specify up to 50 keys in metadata.", param=param)
    metadata: dict[str, str] = {}
    for key, item in raw.items():
        name = _child(param, key)
        if len(key) > 40:
            raise _ApiError(400, "Metadata keys can have up to 40 characters.", param=name)
        text = _as_str(item, name, max_length=500)
        if text != "":  # an empty string unsets a key
            metadata[key] = text
    return metadata


def _expand_list(params: Mapping[str, Any]) -> list[str]:
    value = params.get("expand")
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [_as_str(item, f"expand[{i}]") for i, item in enumerate(_as_list(value, "expand"))]


# --------------------------------------------------------------------------------------------
# Records


class RecordedRequest(NamedTuple):
    """One API call as the stand-in received it (params decoded, values still strings)."""

    method: str
    path: str
    params: JSONDict
    headers: dict[str, str]


class StoredSession(dict[str, Any]):
    """A ``checkout.session`` object as the stand-in keeps it.

    The mapping is the session exactly as the API returns it; ``params`` holds the decoded
    parameters the session was created with (``params["line_items"]``,
    ``params["shipping_options"]``, ...; values are strings, as the form encoding sent them).
    """

    params: JSONDict

    def __init__(self, obj: Mapping[str, Any], params: JSONDict) -> None:
        super().__init__(obj)
        self.params = params


@dataclass
class _Response:
    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class _Replay:
    method: str
    path: str
    params: JSONDict
    response: _Response
    request_id: str


@dataclass
class _Fault:
    status: int | None  # None: drop the connection without answering
    should_retry: bool | None = None


# --------------------------------------------------------------------------------------------
# HTTP plumbing


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # Stripe takes many connections at once; so does the stand-in

    def __init__(self, standin: StripeStandIn) -> None:
        self.standin = standin
        super().__init__(("127.0.0.1", 0), _Handler)

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse DNS lookup of the host name."""
        TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Keep tracebacks in ``standin.server_errors`` instead of printing them."""
        self.standin.server_errors.append(traceback.format_exc())


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "StripeStandIn/1"
    sys_version = ""
    timeout = 10

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        standin = self.server.standin
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        body = self.rfile.read(length) if length > 0 else b""
        try:
            response = standin._answer(method, self.path, body, self.headers)
        except Exception:
            standin.server_errors.append(traceback.format_exc())
            error = _ApiError(500, "An unknown error occurred", type_="api_error")
            response = _json_response(500, error.to_json(), [])
        if response is None:  # simulated network failure: close without a word
            self.close_connection = True
            return
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        """Stay quiet: tests read ``standin.requests`` instead."""


def _json_response(status: int, obj: Any, headers: list[tuple[str, str]]) -> _Response:
    body = json.dumps(obj, indent=2).encode("utf-8")
    return _Response(status, body, [("Content-Type", "application/json"), *headers])


def _html_response(status: int, title: str, main: str) -> _Response:
    page = (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n</head>\n<body>\n<main>\n{main}</main>\n"
        "</body>\n</html>\n"
    )
    return _Response(
        status,
        page.encode("utf-8"),
        [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")],
    )


def _redirect(location: str) -> _Response:
    return _Response(303, b"", [("Location", location), ("Cache-Control", "no-store")])


# --------------------------------------------------------------------------------------------
# The stand-in


class StripeStandIn:
    """A Stripe API stand-in on a loopback port, holding its objects in memory.

    Start it with :meth:`start` (or ``with StripeStandIn() as standin:``) and give
    ``standin.base_url`` to ``StripeClient(..., base_addresses={"api": standin.base_url})``.

    State tests may read directly (the server thread writes under a lock):
    ``sessions`` (id to :class:`StoredSession`), ``payment_intents``, ``charges``,
    ``refunds``, ``shipping_rates``, ``events`` (id to object), ``requests`` (every ``/v1`` call as
    :class:`RecordedRequest`, including failed ones), ``server_errors`` (tracebacks of bugs in
    the stand-in itself; tests can assert it stays empty).

    Switches: ``down = True`` answers every API call with 503 ``api_error``;
    :meth:`fail_next` and :meth:`drop_next` break the next few calls; ``hang = True`` accepts
    every API call and never answers (a Stripe that hangs); :meth:`slow_next` makes
    them take time (a second call with the same idempotency key meanwhile gets Stripe's 409
    ``idempotency_key_in_use``); ``refund_status = "pending"`` creates refunds pending, to be
    finished by :meth:`settle_refund` (``failed`` gives the money back to the charge). An
    expired session can never be paid: :meth:`complete` and the pay page refuse it.
    ``clock`` (default ``time.time``) is the stand-in's notion of now for
    ``created``/``expires_at``; replace it to move time (an open session past its
    ``expires_at`` turns ``expired`` when next touched).
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        api_version: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Prepare an idle stand-in.

        ``api_key``: accept only this key (default: any ``sk_test_``/``rk_test_`` key).
        ``api_version``: the ``api_version`` of events (default: the one the stripe SDK pins).
        """
        self.api_key = api_key
        self.api_version = api_version or _sdk_api_version()
        self.clock = clock
        self.down = False
        self.sessions: dict[str, StoredSession] = {}
        self.payment_intents: dict[str, JSONDict] = {}
        self.charges: dict[str, JSONDict] = {}
        self.refunds: dict[str, JSONDict] = {}
        self.shipping_rates: dict[str, JSONDict] = {}
        self.events: dict[str, JSONDict] = {}
        self.requests: list[RecordedRequest] = []
        self.server_errors: list[str] = []
        self._line_items: dict[str, list[JSONDict]] = {}
        self._idempotency: dict[tuple[str, str], _Replay] = {}
        self._faults: deque[_Fault] = deque()
        self._delays: deque[float] = deque()
        self._in_flight: set[tuple[str, str]] = set()
        self.refund_status = "succeeded"
        self.hang = False
        self._stopping = threading.Event()
        self._lock = threading.RLock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., JSONDict]]] = [
            ("POST", re.compile(r"/v1/checkout/sessions"), self._api_create_session),
            ("GET", re.compile(r"/v1/checkout/sessions"), self._api_list_sessions),
            ("GET", re.compile(rf"/v1/checkout/sessions/{_ID_PATTERN}"), self._api_get_session),
            (
                "GET",
                re.compile(rf"/v1/checkout/sessions/{_ID_PATTERN}/line_items"),
                self._api_list_line_items,
            ),
            (
                "POST",
                re.compile(rf"/v1/checkout/sessions/{_ID_PATTERN}/expire"),
                self._api_expire_session,
            ),
            ("GET", re.compile(rf"/v1/payment_intents/{_ID_PATTERN}"), self._api_get_intent),
            ("GET", re.compile(rf"/v1/charges/{_ID_PATTERN}"), self._api_get_charge),
            ("POST", re.compile(r"/v1/refunds"), self._api_create_refund),
            ("GET", re.compile(r"/v1/refunds"), self._api_list_refunds),
            ("GET", re.compile(rf"/v1/refunds/{_ID_PATTERN}"), self._api_get_refund),
            ("GET", re.compile(rf"/v1/events/{_ID_PATTERN}"), self._api_get_event),
            ("GET", re.compile(rf"/v1/shipping_rates/{_ID_PATTERN}"), self._api_get_rate),
        ]

    # ---- lifecycle ---------------------------------------------------------------------

    def start(self) -> StripeStandIn:
        """Listen on 127.0.0.1 on a free port, serving from a daemon thread."""
        self._stopping.clear()
        with self._lock:
            if self._server is None:
                server = _Server(self)
                thread = threading.Thread(
                    target=server.serve_forever,
                    kwargs={"poll_interval": 0.05},
                    name=f"stripe-standin-{server.server_port}",
                    daemon=True,
                )
                thread.start()
                self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket (safe to call twice)."""
        self._stopping.set()
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> StripeStandIn:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port it listens on (only while started)."""
        if self._server is None:
            raise RuntimeError("StripeStandIn is not started")
        return self._server.server_port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``: the SDK's ``api`` base address (only while started)."""
        return f"http://127.0.0.1:{self.port}"

    # ---- switches ----------------------------------------------------------------------

    def fail_next(self, n: int = 1, status: int = 500, *, should_retry: bool | None = None) -> None:
        """Answer the next ``n`` API calls with ``status`` and a Stripe-style error body.

        5xx gives ``api_error`` (the SDK retries it), 429 ``rate_limit``, 409 ``lock_timeout``
        (retried), 402 ``card_error``, 401 ``authentication_error``, other 4xx
        ``invalid_request_error``. ``should_retry`` sets the ``Stripe-Should-Retry`` header the
        SDK obeys. Nothing is created by a failed call, so a retry with the same key goes
        through.
        """
        if not 400 <= status <= 599:
            raise ValueError("status must be an HTTP error status (400-599)")
        with self._lock:
            self._faults.extend(_Fault(status, should_retry) for _ in range(n))

    def drop_next(self, n: int = 1) -> None:
        """Close the connection without answering the next ``n`` API calls.

        The SDK sees a network failure (``stripe.APIConnectionError`` once its retries are
        spent).
        """
        with self._lock:
            self._faults.extend(_Fault(None) for _ in range(n))

    def slow_next(self, n: int = 1, seconds: float = 1.0) -> None:
        """Take ``seconds`` over each of the next ``n`` API calls (holding no lock meanwhile).

        While such a call with an ``Idempotency-Key`` is in progress, another call with the
        same key gets what Stripe answers then: HTTP 409, ``idempotency_error``, code
        ``idempotency_key_in_use`` (the SDK retries it).
        """
        with self._lock:
            self._delays.extend(seconds for _ in range(n))

    def lapse(self, session_id: str) -> JSONDict:
        """Stripe expires an open session whose time is up (moved to now): it can no longer
        be paid. Returns the session, for a ``checkout.session.expired`` event."""
        with self._lock:
            session = self._session(session_id)
            if session["status"] == "open":
                session["expires_at"] = min(session["expires_at"], self._now())
                self._refresh_expiry(session)
            return copy.deepcopy(dict(session))

    # ---- refunds that do not succeed at once -------------------------------------------

    def settle_refund(self, refund_id: str, *, succeeded: bool) -> JSONDict:
        """Finish a refund created ``pending`` (``refund_status = "pending"``): it becomes
        ``succeeded``, or ``failed`` with its amount given back to the charge, as Stripe's
        refunds do. Returns the refund, for a ``refund.updated``/``refund.failed`` event."""
        with self._lock:
            refund = self.refunds.get(refund_id)
            if refund is None:
                raise KeyError(f"no refund {refund_id}")
            if refund["status"] != "pending":
                raise ValueError(f"{refund_id} is {refund['status']}, not pending")
            if succeeded:
                refund["status"] = "succeeded"
                delta = 0
            else:
                refund.update(status="failed", failure_reason="lost_or_stolen_card")
                delta = -refund["amount"]
            self._apply_refund_to_charge(self.charges[refund["charge"]], refund, delta)
            return copy.deepcopy(refund)

    # ---- buyer actions -----------------------------------------------------------------

    def complete(
        self,
        session_id: str,
        *,
        amount_total: int | None = None,
        currency: str | None = None,
        async_payment: bool = False,
        email: str = "buyer@example.com",
        name: str = "Test Buyer",
    ) -> JSONDict:
        """The buyer pays an open session; returns the session as the API now shows it.

        Creates a ``payment_intent`` (``pi_...``) and its ``charge`` (``ch_...``) and marks the
        session ``complete``/``paid``. ``amount_total``/``currency`` forge what Stripe reports
        as paid (session, intent and charge alike) to test mismatch handling. With
        ``async_payment`` (a delayed method such as SEPA Direct Debit) the session stays
        ``unpaid``, the intent ``processing`` and the charge ``pending`` until
        :meth:`settle_async_payment`. A zero total completes with ``no_payment_required`` and no
        intent. Raises ``KeyError`` for an unknown session, ``ValueError`` if it is not open.
        """
        with self._lock:
            session = self._session(session_id)
            self._refresh_expiry(session)
            if session["status"] != "open":
                raise ValueError(f"{session_id} is {session['status']}, not open")
            amount = session["amount_total"] if amount_total is None else int(amount_total)
            cur = (currency or session["currency"]).lower()
            now = self._now()
            details: JSONDict = {
                "address": {
                    "city": None,
                    "country": "US",
                    "line1": None,
                    "line2": None,
                    "postal_code": "42424",
                    "state": None,
                },
                "business_name": None,
                "email": email,
                "individual_name": None,
                "name": name,
                "phone": None,
                "tax_exempt": "none",
                "tax_ids": [],
            }
            shipping_details = None
            if session.get("shipping_address_collection"):
                shipping_details = {
                    "address": {
                        "city": "South San Francisco",
                        "country": "US",
                        "line1": "354 Oyster Point Blvd",
                        "line2": None,
                        "postal_code": "94080",
                        "state": "CA",
                    },
                    "name": name,
                }
            session.update(
                amount_total=amount,
                currency=cur,
                customer_details=details,
                collected_information={
                    "business_name": None,
                    "individual_name": None,
                    "shipping_details": shipping_details,
                },
                status="complete",
                url=None,
            )
            if amount == 0:
                session["payment_status"] = "no_payment_required"
                return copy.deepcopy(dict(session))
            pi_id, charge_id = _new_id("pi_3"), _new_id("ch_3")
            method_type = "sepa_debit" if async_payment else "card"
            pm_id = _new_id("pm_1")
            intent_data = session.params.get("payment_intent_data") or {}
            intent_metadata = intent_data.get("metadata") if isinstance(intent_data, dict) else {}
            charge = self._build_charge(
                charge_id=charge_id,
                pi_id=pi_id,
                pm_id=pm_id,
                amount=amount,
                currency=cur,
                now=now,
                details=details,
                method_type=method_type,
                pending=async_payment,
            )
            intent = _stripe_order(
                {
                    "id": pi_id,
                    "object": "payment_intent",
                    "amount": amount,
                    "amount_capturable": 0,
                    "amount_details": {"tip": {}},
                    "amount_received": 0 if async_payment else amount,
                    "application": None,
                    "application_fee_amount": None,
                    "automatic_payment_methods": None,
                    "canceled_at": None,
                    "cancellation_reason": None,
                    "capture_method": "automatic_async",
                    "client_secret": f"{pi_id}_secret_{_new_id('', 25)}",
                    "confirmation_method": "automatic",
                    "created": now,
                    "currency": cur,
                    "customer": None,
                    "customer_account": None,
                    "description": intent_data.get("description")
                    if isinstance(intent_data, dict)
                    else None,
                    "excluded_payment_method_types": None,
                    "last_payment_error": None,
                    "latest_charge": charge_id,
                    "livemode": False,
                    "metadata": dict(intent_metadata or {}),
                    "next_action": None,
                    "on_behalf_of": None,
                    "payment_method": pm_id,
                    "payment_method_configuration_details": None,
                    "payment_method_options": {},
                    "payment_method_types": [method_type],
                    "processing": {"type": method_type} if async_payment else None,
                    "receipt_email": None,
                    "review": None,
                    "setup_future_usage": None,
                    "shipping": shipping_details,
                    "source": None,
                    "statement_descriptor": None,
                    "statement_descriptor_suffix": None,
                    "status": "processing" if async_payment else "succeeded",
                    "transfer_data": None,
                    "transfer_group": None,
                }
            )
            self.charges[charge_id] = charge
            self.payment_intents[pi_id] = intent
            session["payment_intent"] = pi_id
            session["payment_status"] = "unpaid" if async_payment else "paid"
            return copy.deepcopy(dict(session))

    def settle_async_payment(self, session_id: str, *, succeeded: bool = True) -> JSONDict:
        """Finish a payment started with ``complete(..., async_payment=True)``.

        Success marks session ``paid``, intent ``succeeded``, charge ``succeeded``/``paid``
        (send ``checkout.session.async_payment_succeeded`` next); failure leaves the session
        ``unpaid``, the intent ``requires_payment_method`` and the charge ``failed``
        (``checkout.session.async_payment_failed``). Returns the session.
        """
        with self._lock:
            session = self._session(session_id)
            pi_id = session.get("payment_intent")
            intent = self.payment_intents.get(pi_id or "")
            if intent is None or intent["status"] != "processing":
                raise ValueError(f"{session_id} has no payment in progress")
            charge = self.charges[intent["latest_charge"]]
            intent["processing"] = None
            if succeeded:
                intent.update(status="succeeded", amount_received=intent["amount"])
                charge.update(status="succeeded", paid=True)
                session["payment_status"] = "paid"
            else:
                failure = {
                    "code": "payment_method_not_available",
                    "message": "The payment failed.",
                    "type": "invalid_request_error",
                }
                intent.update(status="requires_payment_method", last_payment_error=failure)
                charge.update(
                    status="failed",
                    paid=False,
                    failure_code=failure["code"],
                    failure_message=failure["message"],
                )
            return copy.deepcopy(dict(session))

    # ---- object helpers for events -----------------------------------------------------

    def session_object(self, session_id: str, **overrides: Any) -> JSONDict:
        """A copy of a session as the API shows it, with top-level ``overrides`` applied."""
        with self._lock:
            session = self._session(session_id)
            self._refresh_expiry(session)
            return {**copy.deepcopy(dict(session)), **overrides}

    def payment_intent_object(self, ref: str, **overrides: Any) -> JSONDict:
        """A copy of the payment intent of ``ref`` (``cs_``/``pi_``/``ch_`` id), plus overrides."""
        with self._lock:
            charge = self._charge_for(ref)
            intent = self.payment_intents[charge["payment_intent"]]
            return {**copy.deepcopy(intent), **overrides}

    def charge_object(self, ref: str, **overrides: Any) -> JSONDict:
        """A copy of the charge of ``ref`` (``cs_``/``pi_``/``ch_`` id), plus overrides.

        It reflects refunds made so far, so ``event("charge.refunded", charge_object(cs_id))``
        after a refund is what Stripe would send.
        """
        with self._lock:
            return {**copy.deepcopy(self._charge_for(ref)), **overrides}

    def refund_object(
        self,
        ref: str,
        *,
        amount: int | None = None,
        status: str | None = None,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
        record: bool = False,
        **overrides: Any,
    ) -> JSONDict:
        """A refund object for ``refund.created``/``refund.updated``/``charge.refunded`` events.

        ``ref`` a ``re_`` id: a copy of that refund with the given changes (``status="failed"``
        for a failed refund...). ``ref`` a ``cs_``/``pi_``/``ch_`` id: a new refund of that
        charge, ``amount`` defaulting to what remains refundable, ``status`` to
        ``succeeded``; such a refund is invented, as if made in Stripe's dashboard.

        With ``record=True`` the stand-in keeps the result as Stripe would: a new refund is
        stored and counted in the charge's ``amount_refunded``/``refunded``/``refunds``; an
        existing one is updated (a refund turning ``failed``/``canceled`` gives its amount back
        to the charge). Without it nothing changes and the object is only built.
        """
        with self._lock:
            if ref.startswith("re_"):
                if ref not in self.refunds:
                    raise KeyError(f"no refund {ref}")
                refund = copy.deepcopy(self.refunds[ref])
                changes: JSONDict = {
                    key: value
                    for key, value in (
                        ("amount", amount),
                        ("status", status),
                        ("reason", reason),
                        ("metadata", dict(metadata) if metadata is not None else None),
                    )
                    if value is not None
                }
                refund.update(changes, **overrides)
                if record:
                    charge = self.charges[refund["charge"]]
                    was_counted = self.refunds[ref]["status"] in ("succeeded", "pending")
                    counts = refund["status"] in ("succeeded", "pending")
                    delta = (refund["amount"] if counts else 0) - (
                        self.refunds[ref]["amount"] if was_counted else 0
                    )
                    self._apply_refund_to_charge(charge, refund, delta)
                    self.refunds[ref] = copy.deepcopy(refund)
                return refund
            charge = self._charge_for(ref)
            remaining = charge["amount_captured"] - charge["amount_refunded"]
            value = remaining if amount is None else int(amount)
            if record and not 0 < value <= remaining:
                raise ValueError(f"cannot refund {value} of {charge['id']}: {remaining} remain")
            refund = self._build_refund(
                charge,
                value,
                status=status or "succeeded",
                reason=reason,
                metadata=dict(metadata or {}),
            )
            refund.update(overrides)
            if record:
                self.refunds[refund["id"]] = copy.deepcopy(refund)
                counted = refund["amount"] if refund["status"] in ("succeeded", "pending") else 0
                self._apply_refund_to_charge(charge, refund, counted)
            return refund

    # ---- events and webhook signing ----------------------------------------------------

    def event(
        self,
        type: str,  # noqa: A002 - Stripe's field name
        obj: Mapping[str, Any],
        *,
        event_id: str | None = None,
        created: int | None = None,
        previous_attributes: Mapping[str, Any] | None = None,
    ) -> JSONDict:
        """A Stripe ``event`` carrying a copy of ``obj`` as ``data.object``.

        It is also kept in ``events`` and served at ``GET /v1/events/<id>``, so a shop that
        re-fetches events finds it. ``previous_attributes`` goes to ``data`` (for ``*.updated``).
        """
        data: JSONDict = {"object": copy.deepcopy(dict(obj))}
        if previous_attributes is not None:
            data["previous_attributes"] = copy.deepcopy(dict(previous_attributes))
        evt: JSONDict = {
            "id": event_id or _new_id("evt_1"),
            "object": "event",
            "api_version": self.api_version,
            "created": self._now() if created is None else int(created),
            "data": data,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": type,
        }
        with self._lock:
            self.events[evt["id"]] = copy.deepcopy(evt)
        return evt

    @staticmethod
    def sign(payload: bytes | str, secret: str, *, timestamp: int | None = None) -> str:
        """The ``Stripe-Signature`` header for ``payload``: ``t=<ts>,v1=<hex HMAC-SHA256>``.

        The HMAC key is the endpoint secret (``whsec_...``) and the message is
        ``f"{t}.{payload}"``, Stripe's v1 scheme; ``timestamp`` defaults to the real now (the
        SDK checks it against the real clock, tolerance 300 s).
        """
        body = payload.encode("utf-8") if isinstance(payload, str) else payload
        t = int(time.time()) if timestamp is None else int(timestamp)
        mac = hmac.new(secret.encode("utf-8"), f"{t}.".encode() + body, hashlib.sha256)
        return f"t={t},v1={mac.hexdigest()}"

    @classmethod
    def webhook_request(
        cls, event: Mapping[str, Any], secret: str, *, timestamp: int | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """Body and headers of the webhook POST Stripe would send for ``event``."""
        body = json.dumps(event, indent=2).encode("utf-8")
        headers = {
            "Stripe-Signature": cls.sign(body, secret, timestamp=timestamp),
            "Content-Type": "application/json",
        }
        return body, headers

    # ---- internals: lookups ------------------------------------------------------------

    def _now(self) -> int:
        return int(self.clock())

    def _session(self, session_id: str) -> StoredSession:
        try:
            return self.sessions[session_id]
        except KeyError:
            raise KeyError(f"no checkout session {session_id}") from None

    def _charge_for(self, ref: str) -> JSONDict:
        if ref.startswith("ch_"):
            if ref in self.charges:
                return self.charges[ref]
            raise KeyError(f"no charge {ref}")
        pi_id = ref
        if ref.startswith("cs_"):
            pi_id = self._session(ref).get("payment_intent") or ""
            if not pi_id:
                raise ValueError(f"{ref} has no payment intent (not paid yet?)")
        intent = self.payment_intents.get(pi_id)
        if intent is None:
            raise KeyError(f"no payment intent {pi_id}")
        return self.charges[intent["latest_charge"]]

    def _refresh_expiry(self, session: StoredSession) -> None:
        if session["status"] == "open" and self._now() >= session["expires_at"]:
            session.update(status="expired", url=None)

    def _lookup_any(self, object_id: str) -> JSONDict | None:
        for prefix, store in (
            ("cs_", self.sessions),
            ("pi_", self.payment_intents),
            ("ch_", self.charges),
            ("re_", self.refunds),
            ("evt_", self.events),
            ("shr_", self.shipping_rates),
        ):
            if object_id.startswith(prefix) and object_id in store:
                found = store[object_id]
                if isinstance(found, StoredSession):
                    self._refresh_expiry(found)
                return copy.deepcopy(dict(found))
        return None

    # ---- internals: object builders ----------------------------------------------------

    def _build_charge(
        self,
        *,
        charge_id: str,
        pi_id: str,
        pm_id: str,
        amount: int,
        currency: str,
        now: int,
        details: JSONDict,
        method_type: str,
        pending: bool,
    ) -> JSONDict:
        if method_type == "card":
            method_details: JSONDict = {
                "card": {
                    "amount_authorized": amount,
                    "authorization_code": None,
                    "brand": "visa",
                    "checks": {
                        "address_line1_check": None,
                        "address_postal_code_check": "pass",
                        "cvc_check": "pass",
                    },
                    "country": "US",
                    "exp_month": 12,
                    "exp_year": 2034,
                    "extended_authorization": {"status": "disabled"},
                    "fingerprint": "AOB934RVNwzk6xtn",
                    "funding": "credit",
                    "incremental_authorization": {"status": "unavailable"},
                    "installments": None,
                    "last4": "4242",
                    "mandate": None,
                    "multicapture": {"status": "unavailable"},
                    "network": "visa",
                    "network_token": {"used": False},
                    "network_transaction_id": _new_id("", 15),
                    "overcapture": {"maximum_amount_capturable": amount, "status": "unavailable"},
                    "regulated_status": "unregulated",
                    "three_d_secure": None,
                    "wallet": None,
                },
                "type": "card",
            }
        else:
            method_details = {
                "sepa_debit": {
                    "bank_code": "37040044",
                    "branch_code": None,
                    "country": "DE",
                    "fingerprint": "kZjXaDWkvDHMIMhh",
                    "last4": "3000",
                    "mandate": _new_id("mandate_1"),
                },
                "type": "sepa_debit",
            }
        return _stripe_order(
            {
                "id": charge_id,
                "object": "charge",
                "amount": amount,
                "amount_captured": amount,
                "amount_refunded": 0,
                "application": None,
                "application_fee": None,
                "application_fee_amount": None,
                "balance_transaction": _new_id("txn_3"),
                "billing_details": {
                    "address": dict(details["address"]),
                    "email": details["email"],
                    "name": details["name"],
                    "phone": None,
                    "tax_id": None,
                },
                "calculated_statement_descriptor": "STRIPE STAND-IN",
                "captured": True,
                "created": now,
                "currency": currency,
                "customer": None,
                "description": None,
                "disputed": False,
                "failure_balance_transaction": None,
                "failure_code": None,
                "failure_message": None,
                "fraud_details": {},
                "livemode": False,
                "metadata": {},
                "on_behalf_of": None,
                "outcome": {
                    "advice_code": None,
                    "network_advice_code": None,
                    "network_decline_code": None,
                    "network_status": "approved_by_network",
                    "reason": None,
                    "risk_level": "normal",
                    "risk_score": 32,
                    "seller_message": "Payment complete.",
                    "type": "authorized",
                },
                "paid": not pending,
                "payment_intent": pi_id,
                "payment_method": pm_id,
                "payment_method_details": method_details,
                "receipt_email": None,
                "receipt_number": None,
                "receipt_url": f"{self._public_base()}/receipts/{charge_id}",
                "refunded": False,
                "refunds": {
                    "object": "list",
                    "data": [],
                    "has_more": False,
                    "total_count": 0,
                    "url": f"/v1/charges/{charge_id}/refunds",
                },
                "review": None,
                "shipping": None,
                "source": None,
                "source_transfer": None,
                "statement_descriptor": None,
                "statement_descriptor_suffix": None,
                "status": "pending" if pending else "succeeded",
                "transfer_data": None,
                "transfer_group": None,
            }
        )

    def _build_refund(
        self,
        charge: JSONDict,
        amount: int,
        *,
        status: str,
        reason: str | None,
        metadata: dict[str, str],
    ) -> JSONDict:
        method_type = charge["payment_method_details"]["type"]
        if method_type == "card":
            destination: JSONDict = {
                "card": {
                    "reference": None,
                    "reference_status": "pending",
                    "reference_type": "acquirer_reference_number",
                    "type": "refund",
                },
                "type": "card",
            }
        else:
            destination = {method_type: {}, "type": method_type}
        return _stripe_order(
            {
                "id": _new_id("re_3"),
                "object": "refund",
                "amount": amount,
                "balance_transaction": _new_id("txn_3"),
                "charge": charge["id"],
                "created": self._now(),
                "currency": charge["currency"],
                "customer": None,
                "customer_account": None,
                "destination_details": destination,
                "metadata": metadata,
                "payment_intent": charge["payment_intent"],
                "payment_method": charge["payment_method"],
                "reason": reason,
                "receipt_number": None,
                "source_transfer_reversal": None,
                "status": status,
                "transfer_reversal": None,
            }
        )

    def _apply_refund_to_charge(self, charge: JSONDict, refund: JSONDict, delta: int) -> None:
        charge["amount_refunded"] += delta
        charge["refunded"] = charge["amount_refunded"] >= charge["amount_captured"]
        refunds = charge["refunds"]
        refunds["data"] = [r for r in refunds["data"] if r["id"] != refund["id"]]
        refunds["data"].insert(0, copy.deepcopy(refund))
        refunds["data"].sort(key=lambda r: r["created"], reverse=True)
        refunds["total_count"] = len(refunds["data"])

    def _public_base(self) -> str:
        return self.base_url if self._server is not None else "http://127.0.0.1"

    # ---- internals: HTTP dispatch ------------------------------------------------------

    def _answer(self, method: str, target: str, body: bytes, headers: Message) -> _Response | None:
        """Answer one HTTP request (called from the server's handler threads)."""
        url = urlsplit(target)
        if url.path.startswith("/pay/"):
            return self._answer_page(method, url.path)
        if not url.path.startswith("/v1/"):
            return _html_response(404, "Not found", "<h1>Not found</h1>\n")
        return self._answer_api(method, url.path, url.query, body, headers)

    def _answer_api(
        self, method: str, path: str, query: str, body: bytes, headers: Message
    ) -> _Response | None:
        if self.hang:  # accept the call and never answer (until stopped)
            with self._lock:
                self.requests.append(RecordedRequest(method, path, {}, dict(headers.items())))
            self._stopping.wait()
            return None
        request_id = _new_id("req_", 14)
        parse_error: _ApiError | None = None
        try:
            text = body.decode("utf-8") if method == "POST" else query
            params = decode_form(text)
        except UnicodeDecodeError:
            params, parse_error = {}, _ApiError(400, "The request body is not valid UTF-8.")
        except _ApiError as exc:
            params, parse_error = {}, exc
        base_headers = [
            ("Request-Id", request_id),
            ("Stripe-Version", headers.get("Stripe-Version") or self.api_version),
        ]
        idempotency_key = headers.get("Idempotency-Key") if method == "POST" else None
        if idempotency_key:
            base_headers.append(("Idempotency-Key", idempotency_key))
        with self._lock:
            self.requests.append(RecordedRequest(method, path, params, dict(headers.items())))
            try:
                if self.down:
                    raise _ApiError(
                        503,
                        "The Stripe stand-in is down (StripeStandIn.down is True).",
                        type_="api_error",
                    )
                if self._faults:
                    fault = self._faults.popleft()
                    if fault.status is None:
                        return None
                    raise self._fault_error(fault)
                api_key = self._authenticate(headers.get("Authorization"))
                if parse_error is not None:
                    raise parse_error
                replay_key: tuple[str, str] | None = None
                if idempotency_key:
                    if len(idempotency_key) > 255:
                        raise _ApiError(
                            400,
                            "Idempotency keys must be at most 255 characters long.",
                            param="Idempotency-Key",
                        )
                    replay_key = (api_key, idempotency_key)
                    if replay_key in self._in_flight:
                        raise _ApiError(
                            409,
                            "There is currently another in-progress request using this "
                            "Idempotent Key (that probably means you submitted twice, and the "
                            "other request is still going through): "
                            f"{idempotency_key}. Please try again later.",
                            type_="idempotency_error",
                            code="idempotency_key_in_use",
                        )
                    prior = self._idempotency.get(replay_key)
                    if prior is not None:
                        return self._replay(prior, method, path, params, base_headers)
                delay = self._delays.popleft() if self._delays else 0.0
                if replay_key is not None and delay:
                    self._in_flight.add(replay_key)
            except _ApiError as exc:
                extra = [*base_headers, *exc.headers.items()]
                return _json_response(exc.status, exc.to_json(), extra)
        if delay:
            time.sleep(delay)
        with self._lock:
            if replay_key is not None:
                self._in_flight.discard(replay_key)
            try:
                obj = self._route(method, path, params)
            except _ApiError as exc:
                extra = [*base_headers, *exc.headers.items()]
                return _json_response(exc.status, exc.to_json(), extra)
            response = _json_response(200, obj, base_headers)
            if replay_key is not None:
                self._idempotency[replay_key] = _Replay(method, path, params, response, request_id)
            return response

    def _authenticate(self, authorization: str | None) -> str:
        if not authorization:
            raise _ApiError(
                401,
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                "YOUR_SECRET_KEY').",
                type_="authentication_error",
                headers={"WWW-Authenticate": 'Bearer realm="Stripe"'},
            )
        scheme, _, key = authorization.partition(" ")
        key = key.strip()
        if (
            scheme != "Bearer"
            or not key.startswith(TEST_KEY_PREFIXES)
            or (self.api_key is not None and key != self.api_key)
        ):
            shown = key[:8] + "*" * max(len(key) - 12, 0) + key[-4:] if len(key) > 12 else "***"
            raise _ApiError(
                401,
                f"Invalid API Key provided: {shown}",
                type_="authentication_error",
                headers={"WWW-Authenticate": 'Bearer realm="Stripe"'},
            )
        return key

    @staticmethod
    def _fault_error(fault: _Fault) -> _ApiError:
        status = fault.status or 500
        headers = {}
        if fault.should_retry is not None:
            headers["Stripe-Should-Retry"] = "true" if fault.should_retry else "false"
        if status >= 500:
            return _ApiError(
                status, "An unknown error occurred", type_="api_error", headers=headers
            )
        kinds: dict[int, tuple[str, str | None, str]] = {
            401: ("authentication_error", None, "Invalid API Key provided."),
            402: ("card_error", "card_declined", "Your card was declined."),
            409: (
                "invalid_request_error",
                "lock_timeout",
                "This object cannot be accessed right now because another API request or "
                "Stripe process is currently accessing it.",
            ),
            429: (
                "invalid_request_error",
                "rate_limit",
                "Too many requests hit the API too quickly.",
            ),
        }
        kind, code, message = kinds.get(
            status, ("invalid_request_error", None, "The request failed (injected failure).")
        )
        return _ApiError(status, message, type_=kind, code=code, headers=headers)

    def _replay(
        self,
        prior: _Replay,
        method: str,
        path: str,
        params: JSONDict,
        base_headers: list[tuple[str, str]],
    ) -> _Response:
        key = dict(base_headers)["Idempotency-Key"]
        if prior.method != method or prior.path != path:
            raise _ApiError(
                400,
                "Keys for idempotent requests can only be used for the same endpoint they were "
                f"first used for ('{prior.method} {prior.path}' vs '{method} {path}'). Try using "
                f"a key other than '{key}' if you meant to execute a different request.",
                type_="idempotency_error",
            )
        if prior.params != params:
            raise _ApiError(
                400,
                "Keys for idempotent requests can only be used with the same parameters they "
                f"were first used with. Try using a key other than '{key}' if you meant to "
                "execute a different request.",
                type_="idempotency_error",
            )
        stored = prior.response
        replay_headers = [
            (name, value)
            for name, value in stored.headers
            if name not in ("Request-Id", "Stripe-Version", "Idempotency-Key")
        ]
        return _Response(
            stored.status,
            stored.body,
            [
                *replay_headers,
                *base_headers,
                ("Idempotent-Replayed", "true"),
                ("Original-Request", prior.request_id),
            ],
        )

    def _route(self, method: str, path: str, params: JSONDict) -> JSONDict:
        for route_method, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if match and route_method == method:
                result: JSONDict = handler(params, *match.groups())
                return result
        raise _ApiError(
            404,
            f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
            "or we can help at https://support.stripe.com/.",
        )

    # ---- internals: API endpoints ------------------------------------------------------

    def _expanded(self, obj: JSONDict, params: Mapping[str, Any]) -> JSONDict:
        result = copy.deepcopy(obj)
        for path in _expand_list(params):
            self._expand_path(result, path.split("."), path)
        return result

    def _expand_path(self, obj: JSONDict, parts: list[str], full: str) -> None:
        head, rest = parts[0], parts[1:]
        value: Any
        if obj.get("object") == "checkout.session" and head == "line_items":
            value = self._line_items_list(obj["id"], {})
        elif isinstance(obj.get(head), str) and (found := self._lookup_any(obj[head])):
            value = found
        elif head in obj and (obj[head] is None or isinstance(obj[head], dict)):
            value = obj[head]
        else:
            raise _ApiError(400, f"This property cannot be expanded ({full}).", param="expand")
        obj[head] = value
        if rest and isinstance(value, dict):
            self._expand_path(value, rest, full)

    def _paginate(self, url: str, items: list[JSONDict], params: Mapping[str, Any]) -> JSONDict:
        limit = _as_int(params.get("limit", "10"), "limit", minimum=1, maximum=100)
        after = params.get("starting_after")
        if after:
            ids = [item["id"] for item in items]
            if after not in ids:
                raise _no_such("object", str(after), "starting_after", status=400)
            items = items[ids.index(after) + 1 :]
        return {
            "object": "list",
            "data": items[:limit],
            "has_more": len(items) > limit,
            "url": url,
        }

    def _api_create_session(self, params: JSONDict) -> JSONDict:
        session = self._create_session(params)
        return self._expanded(dict(session), params)

    def _api_list_sessions(self, params: JSONDict) -> JSONDict:
        _check_known(params, {"expand", "limit", "starting_after", "payment_intent", "status"})
        items: list[JSONDict] = []
        for session in reversed(list(self.sessions.values())):
            self._refresh_expiry(session)
            if "status" in params and session["status"] != params["status"]:
                continue
            if "payment_intent" in params and session["payment_intent"] != params["payment_intent"]:
                continue
            items.append(dict(session))
        page = self._paginate("/v1/checkout/sessions", items, params)
        page["data"] = [self._expanded(item, _strip_data(params)) for item in page["data"]]
        return page

    def _get_session(self, session_id: str) -> StoredSession:
        session = self.sessions.get(session_id)
        if session is None:
            raise _no_such("checkout.session", session_id, "session")
        self._refresh_expiry(session)
        return session

    def _api_get_session(self, params: JSONDict, session_id: str) -> JSONDict:
        _check_known(params, {"expand"})
        return self._expanded(dict(self._get_session(session_id)), params)

    def _line_items_list(self, session_id: str, params: Mapping[str, Any]) -> JSONDict:
        items = copy.deepcopy(self._line_items.get(session_id, []))
        return self._paginate(f"/v1/checkout/sessions/{session_id}/line_items", items, params)

    def _api_list_line_items(self, params: JSONDict, session_id: str) -> JSONDict:
        _check_known(params, {"expand", "limit", "starting_after"})
        self._get_session(session_id)
        return self._line_items_list(session_id, params)

    def _api_expire_session(self, params: JSONDict, session_id: str) -> JSONDict:
        _check_known(params, {"expand"})
        session = self._get_session(session_id)
        if session["status"] != "open":
            raise _ApiError(
                400,
                'Only Checkout Sessions with a status in ["open"] can be expired. This Checkout '
                f"Session has a status of `{session['status']}`.",
            )
        session.update(status="expired", url=None)
        return self._expanded(dict(session), params)

    def _api_get_intent(self, params: JSONDict, intent_id: str) -> JSONDict:
        _check_known(params, {"expand", "client_secret"})
        if intent_id not in self.payment_intents:
            raise _no_such("payment_intent", intent_id, "intent")
        return self._expanded(self.payment_intents[intent_id], params)

    def _api_get_charge(self, params: JSONDict, charge_id: str) -> JSONDict:
        _check_known(params, {"expand"})
        if charge_id not in self.charges:
            raise _no_such("charge", charge_id, "id")
        return self._expanded(self.charges[charge_id], params)

    def _api_get_refund(self, params: JSONDict, refund_id: str) -> JSONDict:
        _check_known(params, {"expand"})
        if refund_id not in self.refunds:
            raise _no_such("refund", refund_id, "refund")
        return self._expanded(self.refunds[refund_id], params)

    def _api_list_refunds(self, params: JSONDict) -> JSONDict:
        _check_known(params, {"expand", "limit", "starting_after", "charge", "payment_intent"})
        items = [
            copy.deepcopy(refund)
            for refund in reversed(list(self.refunds.values()))
            if params.get("charge", refund["charge"]) == refund["charge"]
            and params.get("payment_intent", refund["payment_intent"]) == refund["payment_intent"]
        ]
        return self._paginate("/v1/refunds", items, params)

    def _api_get_event(self, params: JSONDict, event_id: str) -> JSONDict:
        _check_known(params, {"expand"})
        if event_id not in self.events:
            raise _no_such("event", event_id, "id")
        return copy.deepcopy(self.events[event_id])

    def _api_get_rate(self, params: JSONDict, rate_id: str) -> JSONDict:
        _check_known(params, {"expand"})
        if rate_id not in self.shipping_rates:
            raise _no_such("shipping_rate", rate_id, "shipping_rate")
        return copy.deepcopy(self.shipping_rates[rate_id])

    def _api_create_refund(self, params: JSONDict) -> JSONDict:
        _check_known(params, REFUND_CREATE_PARAMS)
        _reject_empty(params)
        for name in ("customer", "origin", "instructions_email", "reverse_transfer"):
            if name in params:
                raise _unsupported(name, f"`{name}` on refunds")
        charge_id = params.get("charge")
        intent_id = params.get("payment_intent")
        if not charge_id and not intent_id:
            raise _ApiError(400, "One of `charge` or `payment_intent` is required.")
        charge: JSONDict | None = None
        if intent_id:
            intent = self.payment_intents.get(_as_str(intent_id, "payment_intent"))
            if intent is None:
                raise _no_such("payment_intent", intent_id, "payment_intent", status=400)
            if intent["status"] not in ("succeeded", "processing") or not intent["latest_charge"]:
                raise _ApiError(
                    400,
                    f"This PaymentIntent ({intent_id}) does not have a successful charge to "
                    "refund.",
                    param="payment_intent",
                    code="charge_not_refundable",
                )
            charge = self.charges[intent["latest_charge"]]
            if charge_id and charge_id != charge["id"]:
                raise _ApiError(
                    400,
                    f"The charge {charge_id} does not belong to PaymentIntent {intent_id}.",
                    param="charge",
                )
        else:
            charge = self.charges.get(_as_str(charge_id, "charge"))
            if charge is None:
                raise _no_such("charge", str(charge_id), "charge", status=400)
        if charge["status"] != "succeeded":
            raise _ApiError(
                400,
                f"Charge {charge['id']} has a status of `{charge['status']}` and cannot be "
                "refunded.",
                code="charge_not_refundable",
            )
        remaining = charge["amount_captured"] - charge["amount_refunded"]
        if remaining <= 0:
            raise _ApiError(
                400,
                f"Charge {charge['id']} has already been refunded.",
                code="charge_already_refunded",
            )
        amount = remaining
        if "amount" in params:
            amount = _as_int(params["amount"], "amount", minimum=1)
            if amount > remaining:
                raise _ApiError(
                    400,
                    f"Refund amount ({format_money(amount, charge['currency'])}) is greater "
                    "than unrefunded amount on charge "
                    f"({format_money(remaining, charge['currency'])})",
                    param="amount",
                    code="amount_too_large",
                )
        if (
            "currency" in params
            and _as_currency(params["currency"], "currency") != charge["currency"]
        ):
            raise _ApiError(400, "The currency does not match the charge's.", param="currency")
        reason = None
        if params.get("reason"):
            reason = _as_enum(params["reason"], "reason", REFUND_REASONS)
        metadata = _as_metadata(params.get("metadata", {}), "metadata")
        refund = self._build_refund(
            charge, amount, status=self.refund_status, reason=reason, metadata=metadata
        )
        self.refunds[refund["id"]] = copy.deepcopy(refund)
        self._apply_refund_to_charge(charge, refund, amount)
        return self._expanded(refund, params)

    # ---- internals: checkout session creation ------------------------------------------

    def _create_session(self, params: JSONDict) -> StoredSession:
        _check_known(params, SESSION_CREATE_PARAMS)
        _reject_empty(params)
        for name in sorted(SESSION_UNSUPPORTED_PARAMS & params.keys()):
            raise _unsupported(name, f"`{name}` on Checkout Sessions")
        now = self._now()
        if "mode" not in params:
            raise _missing("mode")
        mode = _as_enum(params["mode"], "mode", ("payment", "setup", "subscription"))
        if mode != "payment":
            raise _unsupported("mode", f"mode={mode}")
        ui_mode = params.get("ui_mode", "hosted_page")
        if ui_mode not in ("hosted", "hosted_page"):
            raise _unsupported("ui_mode", f"ui_mode={ui_mode}")
        if not params.get("success_url"):
            raise _missing("success_url")
        success_url = _as_url(params["success_url"], "success_url")
        cancel_url = _as_url(params["cancel_url"], "cancel_url") if "cancel_url" in params else None

        line_params = _as_list(params.get("line_items", ""), "line_items")
        if not line_params:
            raise _missing("line_items")
        if len(line_params) > MAX_LINE_ITEMS:
            raise _ApiError(
                400, f"You may only specify up to {MAX_LINE_ITEMS} line items.", param="line_items"
            )
        currency: str | None = None
        line_items: list[JSONDict] = []
        for index, raw in enumerate(line_params):
            item = self._line_item(raw, f"line_items[{index}]", now)
            if currency is None:
                currency = item["currency"]
            elif item["currency"] != currency:
                raise _ApiError(
                    400,
                    "All line items must use the same currency; "
                    f"line_items[{index}] uses {item['currency']}, not {currency}.",
                    param=f"line_items[{index}][price_data][currency]",
                )
            line_items.append(item)
        assert currency is not None
        subtotal = sum(item["amount_subtotal"] for item in line_items)

        option_params = _as_list(params.get("shipping_options", ""), "shipping_options")
        if len(option_params) > MAX_SHIPPING_OPTIONS:
            raise _ApiError(
                400,
                f"You may only specify up to {MAX_SHIPPING_OPTIONS} shipping options.",
                param="shipping_options",
            )
        rates = [
            self._shipping_rate(raw, f"shipping_options[{index}]", currency, now)
            for index, raw in enumerate(option_params)
        ]
        shipping = rates[0]["fixed_amount"]["amount"] if rates else 0
        total = subtotal + shipping
        if total > MAX_AMOUNT:
            raise _ApiError(
                400,
                f"The Checkout Session's total amount due must be no more than "
                f"{format_money(MAX_AMOUNT, currency)}.",
                code="amount_too_large",
            )
        minimum = MINIMUM_CHARGE.get(currency)
        if minimum is not None and 0 < total < minimum:
            raise _ApiError(
                400,
                "The Checkout Session's total amount due must add up to at least "
                f"{format_money(minimum, currency)} {currency}",
                code="amount_too_small",
            )

        expires_at = now + MAX_EXPIRY_SECONDS
        if "expires_at" in params:
            expires_at = _as_int(params["expires_at"], "expires_at")
            if expires_at < now + MIN_EXPIRY_SECONDS - EXPIRY_GRACE_SECONDS:
                raise _ApiError(
                    400,
                    "The `expires_at` timestamp must be at least 30 minutes from Checkout "
                    "Session creation.",
                    param="expires_at",
                )
            if expires_at > now + MAX_EXPIRY_SECONDS:
                raise _ApiError(
                    400,
                    "The `expires_at` timestamp must be less than 24 hours from Checkout "
                    "Session creation.",
                    param="expires_at",
                )

        client_reference_id = None
        if params.get("client_reference_id"):
            client_reference_id = _as_str(
                params["client_reference_id"], "client_reference_id", max_length=200
            )
        customer_email = None
        if params.get("customer_email"):
            customer_email = _as_str(params["customer_email"], "customer_email", max_length=800)
            if "@" not in customer_email:
                raise _ApiError(
                    400, "Invalid email address: " + customer_email, param="customer_email"
                )
        metadata = _as_metadata(params.get("metadata", {}), "metadata")
        intent_data = _as_dict(params.get("payment_intent_data", {}), "payment_intent_data")
        if "metadata" in intent_data:
            intent_data["metadata"] = _as_metadata(
                intent_data["metadata"], "payment_intent_data[metadata]"
            )
        method_types = [
            _as_str(value, f"payment_method_types[{i}]")
            for i, value in enumerate(
                _as_list(
                    params.get("payment_method_types")
                    or params.get("allowed_payment_method_types")
                    or ["card"],
                    "payment_method_types",
                )
            )
        ]
        address_collection = None
        if "shipping_address_collection" in params:
            raw_collection = _as_dict(
                params["shipping_address_collection"], "shipping_address_collection"
            )
            countries = _as_list(
                raw_collection.get("allowed_countries", ""),
                "shipping_address_collection[allowed_countries]",
            )
            if not countries:
                raise _missing("shipping_address_collection[allowed_countries]")
            address_collection = {"allowed_countries": countries}
        automatic_tax = _as_dict(params.get("automatic_tax", {}), "automatic_tax")
        if automatic_tax.get("enabled") and _as_bool(
            automatic_tax["enabled"], "automatic_tax[enabled]"
        ):
            raise _unsupported("automatic_tax[enabled]", "automatic tax")
        phone = _as_dict(params.get("phone_number_collection", {}), "phone_number_collection")

        session_id = _new_id("cs_test_a1", 58)
        for rate in rates:
            self.shipping_rates.setdefault(rate["id"], rate)
        session_obj = _stripe_order(
            {
                "id": session_id,
                "object": "checkout.session",
                "adaptive_pricing": {"enabled": False},
                "after_expiration": None,
                "allow_promotion_codes": _as_bool(
                    params["allow_promotion_codes"], "allow_promotion_codes"
                )
                if "allow_promotion_codes" in params
                else None,
                "amount_subtotal": subtotal,
                "amount_total": total,
                "automatic_tax": {
                    "enabled": False,
                    "liability": None,
                    "provider": None,
                    "status": None,
                },
                "billing_address_collection": params.get("billing_address_collection"),
                "cancel_url": cancel_url,
                "client_reference_id": client_reference_id,
                "client_secret": None,
                "collected_information": None,
                "consent": None,
                "consent_collection": None,
                "created": now,
                "currency": currency,
                "currency_conversion": None,
                "custom_fields": [],
                "custom_text": {
                    "after_submit": None,
                    "shipping_address": None,
                    "submit": None,
                    "terms_of_service_acceptance": None,
                },
                "customer": None,
                "customer_account": None,
                "customer_creation": params.get("customer_creation", "if_required"),
                "customer_details": None,
                "customer_email": customer_email,
                "discounts": [],
                "expires_at": expires_at,
                "invoice": None,
                "invoice_creation": {
                    "enabled": False,
                    "invoice_data": {
                        "account_tax_ids": None,
                        "custom_fields": None,
                        "description": None,
                        "footer": None,
                        "issuer": None,
                        "metadata": {},
                        "rendering_options": None,
                    },
                },
                "livemode": False,
                "locale": params.get("locale"),
                "metadata": metadata,
                "mode": mode,
                "payment_intent": None,
                "payment_link": None,
                "payment_method_collection": "if_required",
                "payment_method_configuration_details": None,
                "payment_method_options": {},
                "payment_method_types": method_types,
                "payment_status": "unpaid",
                "permissions": None,
                "phone_number_collection": {
                    "enabled": _as_bool(phone["enabled"], "phone_number_collection[enabled]")
                    if "enabled" in phone
                    else False
                },
                "recovered_from": None,
                "saved_payment_method_options": None,
                "setup_intent": None,
                "shipping_address_collection": address_collection,
                "shipping_cost": {
                    "amount_subtotal": shipping,
                    "amount_tax": 0,
                    "amount_total": shipping,
                    "shipping_rate": rates[0]["id"],
                }
                if rates
                else None,
                "shipping_options": [
                    {"shipping_amount": rate["fixed_amount"]["amount"], "shipping_rate": rate["id"]}
                    for rate in rates
                ],
                "status": "open",
                "submit_type": params.get("submit_type"),
                "subscription": None,
                "success_url": success_url,
                "total_details": {
                    "amount_discount": 0,
                    "amount_shipping": shipping,
                    "amount_tax": 0,
                },
                "ui_mode": "hosted_page",
                "url": f"{self._public_base()}/pay/{session_id}",
                "wallet_options": None,
            }
        )
        stored_params = copy.deepcopy(params)
        if intent_data:
            stored_params["payment_intent_data"] = intent_data
        session = StoredSession(session_obj, stored_params)
        self.sessions[session_id] = session
        self._line_items[session_id] = line_items
        return session

    def _line_item(self, raw: Any, prefix: str, now: int) -> JSONDict:
        item = _as_dict(raw, prefix)
        _check_known(item, LINE_ITEM_PARAMS, prefix)
        if "price" in item:
            raise _no_such("price", str(item["price"]), f"{prefix}[price]", status=400)
        for name in ("adjustable_quantity", "tax_rates"):
            if name in item:
                raise _unsupported(f"{prefix}[{name}]", f"line item `{name}`")
        if "price_data" not in item:
            raise _missing(f"{prefix}[price_data]")
        if "quantity" not in item:
            raise _missing(f"{prefix}[quantity]")
        quantity = _as_int(item["quantity"], f"{prefix}[quantity]", minimum=1, maximum=999_999)
        data_prefix = f"{prefix}[price_data]"
        data = _as_dict(item["price_data"], data_prefix)
        _check_known(data, PRICE_DATA_PARAMS, data_prefix)
        if "recurring" in data:
            raise _unsupported(f"{data_prefix}[recurring]", "recurring prices")
        if "currency" not in data:
            raise _missing(f"{data_prefix}[currency]")
        currency = _as_currency(data["currency"], f"{data_prefix}[currency]")
        if "unit_amount_decimal" in data:
            raise _unsupported(f"{data_prefix}[unit_amount_decimal]", "unit_amount_decimal")
        if "unit_amount" not in data:
            raise _missing(f"{data_prefix}[unit_amount]")
        unit_amount = _as_int(
            data["unit_amount"], f"{data_prefix}[unit_amount]", minimum=0, maximum=MAX_AMOUNT
        )
        if "product" in data:
            raise _no_such("product", str(data["product"]), f"{data_prefix}[product]", status=400)
        product_prefix = f"{data_prefix}[product_data]"
        if "product_data" not in data:
            raise _missing(product_prefix)
        product = _as_dict(data["product_data"], product_prefix)
        _check_known(product, PRODUCT_DATA_PARAMS, product_prefix)
        if not product.get("name"):
            raise _missing(f"{product_prefix}[name]")
        name = _as_str(product["name"], f"{product_prefix}[name]", max_length=250)
        tax_behavior = data.get("tax_behavior", "unspecified")
        _as_enum(
            tax_behavior, f"{data_prefix}[tax_behavior]", ("exclusive", "inclusive", "unspecified")
        )
        amount = unit_amount * quantity
        return _stripe_order(
            {
                "id": _new_id("li_1"),
                "object": "item",
                "adjustable_quantity": None,
                "amount_discount": 0,
                "amount_subtotal": amount,
                "amount_tax": 0,
                "amount_total": amount,
                "currency": currency,
                "description": name,
                "metadata": _as_metadata(item.get("metadata", {}), f"{prefix}[metadata]"),
                "price": _stripe_order(
                    {
                        "id": _new_id("price_1"),
                        "object": "price",
                        "active": False,
                        "billing_scheme": "per_unit",
                        "created": now,
                        "currency": currency,
                        "custom_unit_amount": None,
                        "livemode": False,
                        "lookup_key": None,
                        "metadata": {},
                        "nickname": None,
                        "product": _new_id("prod_", 14),
                        "recurring": None,
                        "tax_behavior": tax_behavior,
                        "tiers_mode": None,
                        "transform_quantity": None,
                        "type": "one_time",
                        "unit_amount": unit_amount,
                        "unit_amount_decimal": str(unit_amount),
                    }
                ),
                "quantity": quantity,
            }
        )

    def _shipping_rate(self, raw: Any, prefix: str, currency: str, now: int) -> JSONDict:
        option = _as_dict(raw, prefix)
        _check_known(option, SHIPPING_OPTION_PARAMS, prefix)
        if ("shipping_rate" in option) == ("shipping_rate_data" in option):
            raise _ApiError(
                400,
                f"You must specify exactly one of {prefix}[shipping_rate] or "
                f"{prefix}[shipping_rate_data].",
                param=prefix,
            )
        if "shipping_rate" in option:
            rate_id = _as_str(option["shipping_rate"], f"{prefix}[shipping_rate]")
            rate = self.shipping_rates.get(rate_id)
            if rate is None:
                raise _no_such("shipping_rate", rate_id, f"{prefix}[shipping_rate]", status=400)
        else:
            data_prefix = f"{prefix}[shipping_rate_data]"
            data = _as_dict(option["shipping_rate_data"], data_prefix)
            _check_known(data, SHIPPING_RATE_DATA_PARAMS, data_prefix)
            if not data.get("display_name"):
                raise _missing(f"{data_prefix}[display_name]")
            _as_enum(data.get("type", "fixed_amount"), f"{data_prefix}[type]", ["fixed_amount"])
            fixed_prefix = f"{data_prefix}[fixed_amount]"
            if "fixed_amount" not in data:
                raise _missing(fixed_prefix)
            fixed = _as_dict(data["fixed_amount"], fixed_prefix)
            _check_known(fixed, FIXED_AMOUNT_PARAMS, fixed_prefix)
            for name in ("amount", "currency"):
                if name not in fixed:
                    raise _missing(f"{fixed_prefix}[{name}]")
            estimate = _as_dict(
                data.get("delivery_estimate", {}), f"{data_prefix}[delivery_estimate]"
            )
            rate = _stripe_order(
                {
                    "id": _new_id("shr_1"),
                    "object": "shipping_rate",
                    "active": True,
                    "created": now,
                    "delivery_estimate": _delivery_estimate(estimate, data_prefix) or None,
                    "display_name": _as_str(
                        data["display_name"], f"{data_prefix}[display_name]", max_length=100
                    ),
                    "fixed_amount": {
                        "amount": _as_int(
                            fixed["amount"],
                            f"{fixed_prefix}[amount]",
                            minimum=0,
                            maximum=MAX_AMOUNT,
                        ),
                        "currency": _as_currency(fixed["currency"], f"{fixed_prefix}[currency]"),
                    },
                    "livemode": False,
                    "metadata": _as_metadata(data.get("metadata", {}), f"{data_prefix}[metadata]"),
                    "tax_behavior": data.get("tax_behavior", "unspecified"),
                    "tax_code": data.get("tax_code"),
                    "type": "fixed_amount",
                }
            )
        if rate["fixed_amount"]["currency"] != currency:
            raise _ApiError(
                400,
                f"The shipping rate's currency ({rate['fixed_amount']['currency']}) must match "
                f"the currency of the line items ({currency}).",
                param=f"{prefix}[shipping_rate_data][fixed_amount][currency]",
            )
        return rate

    # ---- internals: hosted checkout page -----------------------------------------------

    def _answer_page(self, method: str, path: str) -> _Response:
        match = re.fullmatch(r"/pay/([A-Za-z0-9_]+)(/cancel)?/?", path)
        if match is None:
            return _html_response(404, "Not found", "<h1>Not found</h1>\n")
        session_id, cancel = match.group(1), bool(match.group(2))
        if method not in ("GET", "POST") or (cancel and method != "POST"):
            response = _html_response(405, "Method not allowed", "<h1>Method not allowed</h1>\n")
            response.headers.append(("Allow", "POST" if cancel else "GET, POST"))
            return response
        with self._lock:
            session = self.sessions.get(session_id)
            if session is None:
                return _html_response(
                    404, "Stripe test checkout", "<h1>No such checkout session</h1>\n"
                )
            self._refresh_expiry(session)
            status = session["status"]
            if cancel:
                if not session.get("cancel_url"):
                    return _html_response(
                        404, "Stripe test checkout", "<h1>This session has no cancel_url</h1>\n"
                    )
                return _redirect(session["cancel_url"])
            if method == "POST":
                if status == "open":
                    self.complete(session_id)
                elif status != "complete":
                    return _html_response(410, "Stripe test checkout", _closed_page(status))
                success = str(session["success_url"]).replace("{CHECKOUT_SESSION_ID}", session_id)
                return _redirect(success)
            if status != "open":
                return _html_response(200, "Stripe test checkout", _closed_page(status))
            return _html_response(
                200,
                "Stripe test checkout",
                _checkout_page(session, self._line_items.get(session_id, [])),
            )


def _strip_data(params: Mapping[str, Any]) -> JSONDict:
    """List ``expand[]=data.x`` entries as ``x`` for each item of a list."""
    expand = [item[5:] for item in _expand_list(params) if item.startswith("data.")]
    return {"expand": expand}


def _delivery_estimate(estimate: JSONDict, prefix: str) -> JSONDict:
    result: JSONDict = {}
    for bound in ("minimum", "maximum"):
        if bound in estimate:
            part = _as_dict(estimate[bound], f"{prefix}[delivery_estimate][{bound}]")
            result[bound] = {
                "unit": _as_enum(
                    part.get("unit"),
                    f"{prefix}[delivery_estimate][{bound}][unit]",
                    ("hour", "day", "business_day", "week", "month"),
                ),
                "value": _as_int(
                    part.get("value"), f"{prefix}[delivery_estimate][{bound}][value]", minimum=1
                ),
            }
    return result


def _closed_page(status: str) -> str:
    return (
        "<h1>Stripe test checkout</h1>\n"
        f"<p>This Checkout Session is {html.escape(status)} and can no longer be paid.</p>\n"
    )


def _checkout_page(session: Mapping[str, Any], items: list[JSONDict]) -> str:
    currency = str(session["currency"])
    rows = "".join(
        "<tr><td>{}</td><td>{}</td><td>{}</td></tr>\n".format(
            html.escape(str(item["description"])),
            item["quantity"],
            html.escape(format_money(item["amount_total"], currency)),
        )
        for item in items
    )
    shipping = session["total_details"]["amount_shipping"]
    session_id = html.escape(str(session["id"]))
    cancel = ""
    if session.get("cancel_url"):
        cancel = (
            f'<form method="post" action="/pay/{session_id}/cancel">\n'
            '<button type="submit">Cancel</button>\n</form>\n'
        )
    return (
        "<h1>Stripe test checkout</h1>\n"
        f"<p>Session <code>{session_id}</code></p>\n"
        "<table>\n<thead><tr><th>Item</th><th>Quantity</th><th>Amount</th></tr></thead>\n"
        f"<tbody>\n{rows}</tbody>\n</table>\n"
        f"<p>Shipping: {html.escape(format_money(shipping, currency))}</p>\n"
        f'<p>Total: <strong id="amount-total">'
        f"{html.escape(format_money(session['amount_total'], currency))}</strong></p>\n"
        f'<form method="post" action="/pay/{session_id}">\n'
        '<button type="submit">Pay</button>\n</form>\n'
        f"{cancel}"
    )
