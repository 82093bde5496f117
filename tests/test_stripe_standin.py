"""The Stripe stand-in, driven by the real stripe SDK's StripeClient over loopback HTTP."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("stripe")

import stripe

from tests.stripe_standin import StripeStandIn, decode_form

API_KEY = "sk_test_51StandIn4eC39HqLyjWDarjtT1zdp7dc"
WEBHOOK_SECRET = "whsec_test_standin"
SUCCESS_URL = "https://shop.test/checkout/success?session_id={CHECKOUT_SESSION_ID}"
CANCEL_URL = "https://shop.test/cart"

ClientFactory = Callable[..., stripe.StripeClient]


@pytest.fixture
def standin() -> Iterator[StripeStandIn]:
    with StripeStandIn() as server:
        yield server
    assert server.server_errors == []


@pytest.fixture
def make_client(standin: StripeStandIn) -> Iterator[ClientFactory]:
    """StripeClients aimed at the stand-in; their HTTP sessions are closed afterwards."""
    http_clients: list[stripe.RequestsClient] = []

    def make(api_key: str = API_KEY, max_network_retries: int = 2) -> stripe.StripeClient:
        http_client = stripe.RequestsClient()
        http_clients.append(http_client)
        return stripe.StripeClient(
            api_key,
            base_addresses={"api": standin.base_url},
            max_network_retries=max_network_retries,
            http_client=http_client,
        )

    yield make
    for http_client in http_clients:
        http_client.close()


@pytest.fixture
def client(make_client: ClientFactory) -> stripe.StripeClient:
    return make_client()


def session_params(**overrides: Any) -> Any:
    """Checkout Session parameters like the shop's: two needles products and DHL shipping."""
    params: dict[str, Any] = {
        "mode": "payment",
        "success_url": SUCCESS_URL,
        "cancel_url": CANCEL_URL,
        "client_reference_id": "order-1001",
        "metadata": {"order_id": "1001"},
        "expires_at": int(time.time()) + 30 * 60,
        "payment_method_types": ["card"],
        "line_items": [
            {
                "price_data": {
                    "currency": "eur",
                    "unit_amount": 1250,
                    "product_data": {"name": "Meso needle 30G, box of 100"},
                },
                "quantity": 2,
            },
            {
                "price_data": {
                    "currency": "eur",
                    "unit_amount": 990,
                    "product_data": {"name": "Multi-injector 5-pin"},
                },
                "quantity": 1,
            },
        ],
        "shipping_options": [
            {
                "shipping_rate_data": {
                    "display_name": "DHL parcel",
                    "type": "fixed_amount",
                    "fixed_amount": {"amount": 495, "currency": "eur"},
                }
            }
        ],
    }
    params.update(overrides)
    return params


def raw_request(
    standin: StripeStandIn,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One plain HTTP request (no redirects followed); returns status, headers, body."""
    conn = http.client.HTTPConnection("127.0.0.1", standin.port, timeout=5)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def plain(obj: object) -> Any:
    """A StripeObject as plain JSON data (``to_dict`` changed meaning across SDK versions)."""
    return json.loads(str(obj))


def sdk_fields(cls: type) -> set[str]:
    """The field names the SDK's typed resource class declares."""
    names: set[str] = set()
    for klass in cls.__mro__:
        names.update(getattr(klass, "__annotations__", {}))
    return names


def test_create_session_answers_a_full_session_and_records_the_request(
    client: stripe.StripeClient, standin: StripeStandIn
) -> None:
    session = client.v1.checkout.sessions.create(
        session_params(), options={"idempotency_key": "order-1001-checkout-1"}
    )

    assert isinstance(session, stripe.checkout.Session)
    assert session.id.startswith("cs_test_")
    assert session.object == "checkout.session"
    assert session.amount_subtotal == 2 * 1250 + 990
    assert session.amount_total == 2 * 1250 + 990 + 495
    assert session.currency == "eur"
    assert session.client_reference_id == "order-1001"
    assert plain(session.metadata) == {"order_id": "1001"}
    assert session.mode == "payment"
    assert (session.status, session.payment_status) == ("open", "unpaid")
    assert session.success_url == SUCCESS_URL
    assert session.cancel_url == CANCEL_URL
    assert session.url == f"{standin.base_url}/pay/{session.id}"
    assert session.payment_intent is None
    assert session.customer_details is None
    assert session.livemode is False
    assert session.payment_method_types == ["card"]
    assert session.total_details is not None and session.total_details.amount_shipping == 495
    assert session.shipping_cost is not None and session.shipping_cost.amount_total == 495
    assert session.shipping_options[0].shipping_amount == 495
    assert 29 * 60 <= session.expires_at - session.created <= 30 * 60

    stored = standin.sessions[session.id]
    assert stored["amount_total"] == session.amount_total
    first = stored.params["line_items"][0]
    assert first["price_data"]["unit_amount"] == "1250"
    assert first["price_data"]["product_data"]["name"] == "Meso needle 30G, box of 100"
    assert first["quantity"] == "2"
    rate = stored.params["shipping_options"][0]["shipping_rate_data"]
    assert rate["fixed_amount"] == {"amount": "495", "currency": "eur"}
    assert stored.params["payment_method_types"] == ["card"]

    method, path, params, headers = standin.requests[-1]
    assert (method, path) == ("POST", "/v1/checkout/sessions")
    assert params["metadata"] == {"order_id": "1001"}
    assert headers["Idempotency-Key"] == "order-1001-checkout-1"
    assert headers["Authorization"] == f"Bearer {API_KEY}"


def test_every_field_is_one_the_sdk_knows(
    client: stripe.StripeClient, standin: StripeStandIn
) -> None:
    session = client.v1.checkout.sessions.create(session_params())
    standin.complete(session.id)
    paid = client.v1.checkout.sessions.retrieve(session.id)
    assert paid.payment_intent is not None
    intent = client.v1.payment_intents.retrieve(str(paid.payment_intent))
    assert intent.latest_charge is not None
    charge = client.v1.charges.retrieve(str(intent.latest_charge))
    refund = client.v1.refunds.create({"payment_intent": intent.id, "amount": 100})
    event = standin.event("checkout.session.completed", plain(paid))

    for obj, cls in (
        (plain(paid), stripe.checkout.Session),
        (plain(intent), stripe.PaymentIntent),
        (plain(charge), stripe.Charge),
        (plain(refund), stripe.Refund),
        (event, stripe.Event),
    ):
        # Fields of Stripe's current sample objects that stripe 12's models lack.
        newer = {"customer_account", "customer", "payment_method"}
        unknown = set(obj) - sdk_fields(cls) - {"id", "object"} - newer
        assert not unknown, f"{cls.__name__}: {sorted(unknown)}"


def test_retrieve_with_expanded_line_items_and_list_them(
    client: stripe.StripeClient, standin: StripeStandIn
) -> None:
    created = client.v1.checkout.sessions.create(session_params())

    session = client.v1.checkout.sessions.retrieve(created.id, {"expand": ["line_items"]})

    assert session.id == created.id
    assert session.line_items is not None
    names = [item.description for item in session.line_items.data]
    assert names == ["Meso needle 30G, box of 100", "Multi-injector 5-pin"]
    first = session.line_items.data[0]
    assert (first.quantity, first.amount_total, first.currency) == (2, 2500, "eur")
    assert first.price is not None and first.price.unit_amount == 1250
    listed = client.v1.checkout.sessions.line_items.list(created.id, {"limit": 1})
    assert [item.description for item in listed.data] == ["Meso needle 30G, box of 100"]
    assert listed.has_more is True
    plain = client.v1.checkout.sessions.retrieve(created.id)
    assert "line_items" not in plain


def test_expire_an_open_session_then_expiring_again_is_refused(
    client: stripe.StripeClient,
) -> None:
    session = client.v1.checkout.sessions.create(session_params())

    expired = client.v1.checkout.sessions.expire(session.id)

    assert (expired.status, expired.url) == ("expired", None)
    assert client.v1.checkout.sessions.retrieve(session.id).status == "expired"
    with pytest.raises(stripe.InvalidRequestError) as excinfo:
        client.v1.checkout.sessions.expire(session.id)
    assert excinfo.value.http_status == 400
    assert "status of `expired`" in str(excinfo.value.user_message)


def test_same_idempotency_key_replays_the_first_answer(
    client: stripe.StripeClient, standin: StripeStandIn
) -> None:
    options: Any = {"idempotency_key": "order-1002-checkout"}
    first = client.v1.checkout.sessions.create(session_params(expires_at=None), options=options)

    again = client.v1.checkout.sessions.create(session_params(expires_at=None), options=options)

    assert again.id == first.id
    assert len(standin.sessions) == 1
    assert again.last_response is not None
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    with pytest.raises(stripe.IdempotencyError):
        client.v1.checkout.sessions.create(
            session_params(expires_at=None, client_reference_id="order-9999"), options=options
        )
    with pytest.raises(stripe.IdempotencyError):
        client.v1.checkout.sessions.expire(first.id, options=options)
    assert len(standin.sessions) == 1


@pytest.mark.parametrize(
    ("overrides", "param"),
    [
        ({"success_url": None}, "success_url"),
        ({"line_items": []}, "line_items"),
        (
            {
                "line_items": [
                    {
                        "price_data": {
                            "currency": "eur",
                            "unit_amount": -1,
                            "product_data": {"name": "Needle"},
                        },
                        "quantity": 1,
                    }
                ]
            },
            "line_items[0][price_data][unit_amount]",
        ),
        (
            {
                "line_items": [
                    {
                        "price_data": {
                            "currency": "eur",
                            "unit_amount": 12.5,
                            "product_data": {"name": "Needle"},
                        },
                        "quantity": 1,
                    }
                ]
            },
            "line_items[0][price_data][unit_amount]",
        ),
        ({"expires_at": int(time.time()) + 10 * 60}, "expires_at"),
        ({"expires_at": int(time.time()) + 25 * 3600}, "expires_at"),
        ({"colour": "blue"}, "colour"),
        (
            {
                "line_items": [
                    {
                        "price_data": {
                            "currency": "eur",
                            "unit_amount": 100,
                            "product_data": {"name": "Needle", "description": ""},
                        },
                        "quantity": 1,
                    }
                ]
            },
            "line_items[0][price_data][product_data][description]",
        ),
    ],
    ids=[
        "no-success-url",
        "no-line-items",
        "negative",
        "fraction",
        "soon",
        "late",
        "unknown",
        "empty-string",
    ],
)
def test_invalid_sessions_are_refused_like_stripe_does(
    client: stripe.StripeClient,
    standin: StripeStandIn,
    overrides: dict[str, Any],
    param: str,
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as excinfo:
        client.v1.checkout.sessions.create(session_params(**overrides))

    assert excinfo.value.http_status == 400
    assert excinfo.value.param == param
    body: Any = excinfo.value.json_body
    assert body["error"]["type"] == "invalid_request_error"
    assert standin.sessions == {}


def test_missing_or_wrong_api_key_is_an_authentication_error(
    make_client: ClientFactory, standin: StripeStandIn
) -> None:
    for key in ("sk_live_51NotAllowedHere", "pk_test_publishable"):
        with pytest.raises(stripe.AuthenticationError) as excinfo:
            make_client(api_key=key).v1.checkout.sessions.create(session_params())
        assert excinfo.value.http_status == 401
    status, _, body = raw_request(standin, "GET", "/v1/charges/ch_x")
    assert status == 401
    assert json.loads(body)["error"]["type"] == "authentication_error"
    assert standin.sessions == {}


def test_refund_part_then_the_rest_then_nothing_is_left(
    client: stripe.StripeClient, standin: StripeStandIn
) -> None:
    session = client.v1.checkout.sessions.create(session_params())
    standin.complete(session.id)
    paid = client.v1.checkout.sessions.retrieve(session.id)
    assert (paid.status, paid.payment_status) == ("complete", "paid")
    assert paid.customer_details is not None and paid.customer_details.email == "buyer@example.com"
    intent = client.v1.payment_intents.retrieve(str(paid.payment_intent))
    assert (intent.status, intent.amount, intent.currency) == ("succeeded", 3985, "eur")
    charge_id = str(intent.latest_charge)

    part = client.v1.refunds.create(
        {"payment_intent": intent.id, "amount": 1000, "metadata": {"return_id": "r1"}}
    )
    charge = client.v1.charges.retrieve(charge_id)
    assert (part.status, part.amount, part.charge) == ("succeeded", 1000, charge_id)
    assert part.id.startswith("re_")
    assert plain(part.metadata) == {"return_id": "r1"}
    assert (charge.amount_refunded, charge.refunded) == (1000, False)
    with pytest.raises(stripe.InvalidRequestError) as too_large:
        client.v1.refunds.create({"charge": charge_id, "amount": 5000})
    assert too_large.value.code == "amount_too_large"

    rest = client.v1.refunds.create({"charge": charge_id})
    charge = client.v1.charges.retrieve(charge_id)
    assert rest.amount == 3985 - 1000
    assert (charge.amount_refunded, charge.refunded) == (3985, True)
    assert client.v1.refunds.retrieve(rest.id).amount == 2985
    with pytest.raises(stripe.InvalidRequestError) as excinfo:
        client.v1.refunds.create({"payment_intent": intent.id, "amount": 1})
    assert excinfo.value.code == "charge_already_refunded"


def test_down_switch_makes_the_sdk_raise(
    make_client: ClientFactory, standin: StripeStandIn
) -> None:
    standin.down = True
    with pytest.raises((stripe.APIError, stripe.APIConnectionError)) as excinfo:
        make_client(max_network_retries=0).v1.checkout.sessions.create(session_params())
    assert excinfo.value.http_status == 503
    assert len(standin.requests) == 1

    standin.down = False
    session = make_client(max_network_retries=0).v1.checkout.sessions.create(session_params())
    assert session.status == "open"


def test_a_failed_call_is_retried_with_the_same_idempotency_key(
    make_client: ClientFactory, standin: StripeStandIn
) -> None:
    standin.fail_next(1, status=500)

    session = make_client(max_network_retries=1).v1.checkout.sessions.create(session_params())

    assert list(standin.sessions) == [session.id]
    keys = [headers["Idempotency-Key"] for _, _, _, headers in standin.requests]
    assert len(keys) == 2 and keys[0] == keys[1]


def test_dropped_connection_is_an_api_connection_error(
    make_client: ClientFactory, standin: StripeStandIn
) -> None:
    standin.drop_next(1)
    with pytest.raises(stripe.APIConnectionError):
        make_client(max_network_retries=0).v1.checkout.sessions.create(session_params())
    assert standin.sessions == {}


def test_webhook_signature_is_what_stripe_sdk_verifies(
    client: stripe.StripeClient, standin: StripeStandIn
) -> None:
    session = client.v1.checkout.sessions.create(session_params())
    event = standin.event("checkout.session.completed", standin.complete(session.id))
    body, headers = standin.webhook_request(event, WEBHOOK_SECRET)

    verified = stripe.Webhook.construct_event(body, headers["Stripe-Signature"], WEBHOOK_SECRET)

    assert headers["Content-Type"] == "application/json"
    assert verified.id == event["id"] and verified.id.startswith("evt_")
    assert verified.type == "checkout.session.completed"
    assert verified.data.object["id"] == session.id
    assert verified.data.object["payment_status"] == "paid"
    assert json.loads(body)["api_version"] == standin.api_version
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body, headers["Stripe-Signature"], "whsec_wrong")
    old = standin.sign(body, WEBHOOK_SECRET, timestamp=int(time.time()) - 301)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body, old, WEBHOOK_SECRET)
    text = body.decode()
    assert stripe.WebhookSignature.verify_header(
        text, standin.sign(text, WEBHOOK_SECRET), WEBHOOK_SECRET
    )
    assert client.v1.events.retrieve(event["id"]).type == "checkout.session.completed"


def test_hosted_page_pays_and_redirects_to_success_url(
    client: stripe.StripeClient, standin: StripeStandIn
) -> None:
    session = client.v1.checkout.sessions.create(session_params())
    assert session.url is not None
    path = session.url.removeprefix(standin.base_url)

    status, headers, body = raw_request(standin, "GET", path)
    page = body.decode()
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "<title>Stripe test checkout</title>" in page
    assert "€39.85" in page
    assert '<form method="post"' in page and '<button type="submit">Pay</button>' in page

    status, headers, _ = raw_request(standin, "POST", path)
    assert status == 303
    assert headers["Location"] == f"https://shop.test/checkout/success?session_id={session.id}"
    paid = client.v1.checkout.sessions.retrieve(session.id)
    assert (paid.status, paid.payment_status, paid.url) == ("complete", "paid", None)
    status, headers, _ = raw_request(standin, "POST", path)
    assert (status, headers["Location"]) == (
        303,
        SUCCESS_URL.replace("{CHECKOUT_SESSION_ID}", session.id),
    )


def test_hosted_page_cancel_redirects_to_cancel_url(
    client: stripe.StripeClient, standin: StripeStandIn
) -> None:
    session = client.v1.checkout.sessions.create(session_params())

    status, headers, _ = raw_request(standin, "POST", f"/pay/{session.id}/cancel")

    assert (status, headers["Location"]) == (303, CANCEL_URL)
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"
    client.v1.checkout.sessions.expire(session.id)
    status, _, body = raw_request(standin, "POST", f"/pay/{session.id}")
    assert status == 410 and b"expired" in body


def test_async_payment_stays_unpaid_until_settled(
    client: stripe.StripeClient, standin: StripeStandIn
) -> None:
    session = client.v1.checkout.sessions.create(session_params())

    pending = standin.complete(session.id, async_payment=True)

    assert (pending["status"], pending["payment_status"]) == ("complete", "unpaid")
    intent = client.v1.payment_intents.retrieve(pending["payment_intent"])
    assert intent.status == "processing"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.refunds.create({"payment_intent": intent.id})
    settled = standin.settle_async_payment(session.id)
    assert settled["payment_status"] == "paid"
    assert client.v1.payment_intents.retrieve(intent.id).status == "succeeded"
    event = standin.event("checkout.session.async_payment_succeeded", settled)
    assert event["data"]["object"]["payment_status"] == "paid"


def test_complete_can_forge_a_mismatched_amount(
    client: stripe.StripeClient, standin: StripeStandIn
) -> None:
    session = client.v1.checkout.sessions.create(session_params())

    forged = standin.complete(session.id, amount_total=1, currency="usd")

    seen = client.v1.checkout.sessions.retrieve(session.id)
    assert (seen.amount_total, seen.currency) == (1, "usd")
    assert (forged["amount_total"], forged["currency"]) == (1, "usd")
    assert seen.amount_subtotal == 3490
    assert standin.charge_object(session.id)["amount"] == 1
    with pytest.raises(ValueError, match="not open"):
        standin.complete(session.id)


def test_unknown_paths_and_ids_are_stripe_style_404s(
    client: stripe.StripeClient, standin: StripeStandIn
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as excinfo:
        client.v1.checkout.sessions.retrieve("cs_test_nope")
    assert (excinfo.value.http_status, excinfo.value.code) == (404, "resource_missing")
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.charges.retrieve("ch_nope")
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_intents.retrieve("pi_nope")
    status, _, body = raw_request(
        standin, "GET", "/v1/customers", headers={"Authorization": f"Bearer {API_KEY}"}
    )
    assert status == 404
    assert json.loads(body)["error"]["message"].startswith("Unrecognized request URL")


def test_refund_and_charge_objects_for_refund_events(
    client: stripe.StripeClient, standin: StripeStandIn
) -> None:
    session = client.v1.checkout.sessions.create(session_params())
    standin.complete(session.id)
    made = client.v1.refunds.create(
        {"payment_intent": standin.charge_object(session.id)["payment_intent"], "amount": 500}
    )

    charge = standin.charge_object(session.id)
    refund = standin.refund_object(made.id)
    failed = standin.refund_object(made.id, status="failed", record=True)

    assert (charge["amount_refunded"], charge["refunds"]["data"][0]["id"]) == (500, made.id)
    assert refund == plain(made)
    assert failed["status"] == "failed"
    assert standin.charge_object(session.id)["amount_refunded"] == 0
    dashboard = standin.refund_object(session.id, amount=700, reason="duplicate", record=True)
    assert dashboard["charge"] == charge["id"] and dashboard["status"] == "succeeded"
    assert client.v1.charges.retrieve(charge["id"]).amount_refunded == 700
    invented = standin.refund_object(session.id)
    assert invented["amount"] == 3985 - 700 and invented["id"] not in standin.refunds
    for kind, obj in (
        ("charge.refunded", standin.charge_object(session.id)),
        ("refund.created", dashboard),
        ("refund.updated", failed),
    ):
        body, headers = standin.webhook_request(standin.event(kind, obj), WEBHOOK_SECRET)
        verified = stripe.Webhook.construct_event(body, headers["Stripe-Signature"], WEBHOOK_SECRET)
        assert verified.type == kind and verified.data.object["id"] == obj["id"]


def test_session_expires_when_the_clock_passes_expires_at(
    client: stripe.StripeClient, standin: StripeStandIn
) -> None:
    session = client.v1.checkout.sessions.create(session_params())
    standin.clock = lambda: time.time() + 31 * 60

    seen = client.v1.checkout.sessions.retrieve(session.id)

    assert (seen.status, seen.url) == ("expired", None)


def test_concurrent_clients_get_distinct_sessions(
    make_client: ClientFactory, standin: StripeStandIn
) -> None:
    clients = [make_client() for _ in range(4)]
    ids: list[str] = []
    lock = threading.Lock()

    def work(c: stripe.StripeClient) -> None:
        for _ in range(5):
            session = c.v1.checkout.sessions.create(session_params())
            with lock:
                ids.append(session.id)

    threads = [threading.Thread(target=work, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(ids) == len(set(ids)) == 20
    assert set(standin.sessions) == set(ids)


def test_a_second_request_with_a_key_in_use_gets_409_then_the_replay(
    make_client: ClientFactory, standin: StripeStandIn
) -> None:
    """While a request with an idempotency key is under way, Stripe answers another with
    the same key 409 `idempotency_key_in_use`; the SDK retries it, and gets the replay."""
    options: Any = {"idempotency_key": "order-1003-checkout"}
    params = session_params()  # one set: a retry with other values would be refused
    standin.slow_next(1, seconds=0.8)
    first: list[str] = []
    worker = threading.Thread(
        target=lambda: first.append(
            make_client().v1.checkout.sessions.create(params, options=options).id
        )
    )
    worker.start()
    time.sleep(0.2)
    impatient = make_client(max_network_retries=0)
    with pytest.raises(stripe.APIError) as refused:
        impatient.v1.checkout.sessions.create(params, options=options)
    assert refused.value.http_status == 409
    assert refused.value.error is not None
    assert refused.value.error.code == "idempotency_key_in_use"
    patient = make_client().v1.checkout.sessions.create(params, options=options)
    worker.join(timeout=10)
    assert first == [patient.id] and len(standin.sessions) == 1


def test_a_pending_refund_that_fails_gives_the_money_back_to_the_charge(
    client: stripe.StripeClient, standin: StripeStandIn
) -> None:
    session = client.v1.checkout.sessions.create(session_params())
    standin.complete(session.id)
    standin.refund_status = "pending"
    refund = client.v1.refunds.create(
        {"payment_intent": standin.sessions[session.id]["payment_intent"], "amount": 1000}
    )
    assert refund.status == "pending"
    assert standin.charge_object(session.id)["amount_refunded"] == 1000
    failed = standin.settle_refund(refund.id, succeeded=False)
    assert failed["status"] == "failed" and failed["failure_reason"] == "lost_or_stolen_card"
    assert standin.charge_object(session.id)["amount_refunded"] == 0
    assert client.v1.refunds.retrieve(refund.id).status == "failed"
    with pytest.raises(ValueError, match="not pending"):
        standin.settle_refund(refund.id, succeeded=True)


def test_a_session_stripe_lets_lapse_can_no_longer_be_paid(
    client: stripe.StripeClient, standin: StripeStandIn
) -> None:
    session = client.v1.checkout.sessions.create(session_params())
    assert standin.lapse(session.id)["status"] == "expired"
    with pytest.raises(ValueError, match="expired, not open"):
        standin.complete(session.id)
    assert client.v1.checkout.sessions.retrieve(session.id).status == "expired"


def test_decode_form_nests_keys_like_stripe() -> None:
    body = (
        "line_items[0][price_data][unit_amount]=1250&line_items[0][quantity]=2"
        "&line_items[1][quantity]=1&metadata[order_id]=7&metadata[0]=zero"
        "&shipping_options[0][shipping_rate_data][fixed_amount][amount]=495"
        "&payment_method_types[0]=card&expand[]=line_items&success_url="
        "https%3A%2F%2Fshop.test%2Fok%3Fid%3D%7BCHECKOUT_SESSION_ID%7D"
    )

    assert decode_form(body) == {
        "line_items": [{"price_data": {"unit_amount": "1250"}, "quantity": "2"}, {"quantity": "1"}],
        "metadata": {"order_id": "7", "0": "zero"},
        "shipping_options": [{"shipping_rate_data": {"fixed_amount": {"amount": "495"}}}],
        "payment_method_types": ["card"],
        "expand": ["line_items"],
        "success_url": "https://shop.test/ok?id={CHECKOUT_SESSION_ID}",
    }
