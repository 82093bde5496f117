"""Checkout Sessions: only the shop's own session moves its order, a closed or refunded
order is never paid again, and restarting checkout closes the first session at Stripe."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from shop.extensions import db
from shop.mail.models import OutboxEmail
from tests.conftest import csrf_token
from tests.flows import add_to_cart, checkout, lots, order, orders, pay, send_event, stock_needle
from tests.stripe_standin import StripeStandIn


@pytest.fixture
def stocked(stripe_app: Flask) -> Flask:
    stock_needle(stripe_app, {"L1": 20})
    return stripe_app


def _subjects(app: Flask) -> list[str]:
    with app.app_context():
        return [m.subject for m in db.session.scalars(select(OutboxEmail).order_by(OutboxEmail.id))]


def test_refunded_order_is_never_paid_again(
    stocked: Flask, client: FlaskClient, stripe_standin: StripeStandIn, staff_client: FlaskClient
) -> None:
    """Issue 9.1: the return page opened again after a cancel with full refund."""
    add_to_cart(client, 3)
    checkout(client)
    placed = order(stocked)
    client.get(f"/checkout/success?session_id={placed.stripe_session_id}")
    stripe_standin.complete(placed.stripe_session_id)
    assert client.get(f"/checkout/success?session_id={placed.stripe_session_id}").status_code == 303
    assert order(stocked).status == "paid"
    form = staff_client.get(f"/admin/orders/{placed.number}").get_data(as_text=True)
    assert "Cancel and refund $127.05" in form
    response = staff_client.post(
        f"/admin/orders/{placed.number}/cancel",
        data={
            "csrf_token": csrf_token(staff_client, f"/admin/orders/{placed.number}"),
            "nonce": "n" * 20,
            "cancel_reason": "clinic closed",
            "restock_all": "y",
        },
    )
    assert response.status_code == 303
    assert order(stocked).status == "cancelled"
    assert lots(stocked) == {"L1": (20, 0)}
    for _ in range(3):  # anyone opening the return link again, any number of times
        client.get(f"/checkout/success?session_id={placed.stripe_session_id}")
        send_event(
            client,
            stripe_standin.event(
                "checkout.session.completed",
                stripe_standin.session_object(placed.stripe_session_id),
            ),
        )
    after = order(stocked)
    assert after.status == "cancelled" and after.amount_refunded == after.amount_paid == 12705
    assert lots(stocked) == {"L1": (20, 0)}  # nothing sold a second time
    assert _subjects(stocked).count(f"Order {placed.number} confirmed: Paid") == 1


def test_restarting_checkout_closes_the_first_session_so_the_buyer_cannot_pay_twice(
    stocked: Flask, client: FlaskClient, stripe_standin: StripeStandIn
) -> None:
    """Issue 9.2: check out, change the cart, check out again."""
    add_to_cart(client, 3)
    first = checkout(client)
    first_session = order(stocked).stripe_session_id
    add_to_cart(client, 2)
    second = checkout(client)
    assert first.location != second.location
    assert stripe_standin.sessions[first_session]["status"] == "expired"
    with pytest.raises(ValueError, match="expired, not open"):
        stripe_standin.complete(first_session)  # the first page can no longer be paid
    old, new = orders(stocked)
    assert (old.status, new.status) == ("cancelled", "pending_payment")
    assert lots(stocked) == {"L1": (20, 5)}
    pay(client, stripe_standin, new.stripe_session_id)
    assert [o.status for o in orders(stocked)] == ["cancelled", "paid"]


def test_restart_while_stripe_is_down_leaves_the_first_checkout_as_it_was(
    stocked: Flask, client: FlaskClient, stripe_standin: StripeStandIn
) -> None:
    add_to_cart(client, 3)
    checkout(client)
    first = order(stocked)
    add_to_cart(client, 2)
    stripe_standin.down = True
    response = checkout(client)
    assert response.status_code == 503
    assert "could not be closed at Stripe, so we started no new payment" in response.get_data(
        as_text=True
    )
    assert order(stocked).status == "pending_payment" and lots(stocked) == {"L1": (20, 3)}
    stripe_standin.down = False
    pay(client, stripe_standin, first.stripe_session_id)  # still payable, and honoured
    assert order(stocked).status == "paid"


def test_restart_after_the_buyer_paid_meanwhile_starts_nothing_new(
    stocked: Flask, client: FlaskClient, stripe_standin: StripeStandIn
) -> None:
    add_to_cart(client, 3)
    checkout(client)
    first = order(stocked)
    stripe_standin.complete(first.stripe_session_id)  # paid in another tab, no webhook yet
    add_to_cart(client, 2)
    response = checkout(client)
    assert response.status_code == 303 and response.location.endswith(f"/orders/{first.token}")
    page = client.get(response.location).get_data(as_text=True)
    assert f"Your payment for order {first.number} reached us meanwhile" in page
    assert [o.status for o in orders(stocked)] == ["paid"]
    assert len(stripe_standin.sessions) == 1


def test_a_payment_still_processing_is_left_alone_when_checkout_starts_again(
    stocked: Flask, client: FlaskClient, stripe_standin: StripeStandIn
) -> None:
    add_to_cart(client, 3)
    checkout(client)
    first = order(stocked)
    session = stripe_standin.complete(first.stripe_session_id, async_payment=True)
    send_event(client, stripe_standin.event("checkout.session.completed", session))
    assert order(stocked).status == "payment_processing"
    add_to_cart(client, 2)
    assert checkout(client).status_code == 303
    processing, new = orders(stocked)
    assert (processing.status, new.status) == ("payment_processing", "pending_payment")
    assert lots(stocked) == {"L1": (20, 5)}


def test_event_for_another_session_never_moves_an_order(
    stocked: Flask, client: FlaskClient, stripe_standin: StripeStandIn
) -> None:
    """Issue 9.5: a signed event naming the order in client_reference_id only."""
    add_to_cart(client, 3)
    checkout(client)
    placed = order(stocked)
    other = {
        **stripe_standin.session_object(placed.stripe_session_id),
        "id": "cs_test_someone_elses_session",
        "status": "expired",
        "client_reference_id": str(placed.id),
        "metadata": {"order_id": str(placed.id)},
    }
    response = send_event(client, stripe_standin.event("checkout.session.expired", other))
    assert response.status_code == 200
    assert response.get_json()["outcome"] == "no order for this object"
    assert order(stocked).status == "pending_payment" and lots(stocked) == {"L1": (20, 3)}
    paid = {**stripe_standin.complete(placed.stripe_session_id), "id": other["id"]}
    send_event(client, stripe_standin.event("checkout.session.completed", paid))
    assert order(stocked).status == "pending_payment"


def test_order_link_from_email_never_cancels_a_bank_transfer_order(
    stocked: Flask, client: FlaskClient, app: Flask
) -> None:
    """Issue 9.9: /checkout/cancel with the token of an order awaiting a transfer."""
    add_to_cart(client, 3)
    checkout(client, payment_method="bank_transfer")
    placed = order(stocked)
    stranger = app.test_client()
    for visitor in (stranger, client):
        response = visitor.get(f"/checkout/cancel?order={placed.token}")
        assert response.status_code == 303
    assert order(stocked).status == "awaiting_transfer" and lots(stocked) == {"L1": (20, 3)}


def test_cancel_page_of_a_card_checkout_works_only_in_the_buyers_browser(
    stocked: Flask, client: FlaskClient, app: Flask, stripe_standin: StripeStandIn
) -> None:
    add_to_cart(client, 3)
    checkout(client)
    placed = order(stocked)
    app.test_client().get(f"/checkout/cancel?order={placed.token}")
    assert order(stocked).status == "pending_payment"
    response = client.get(f"/checkout/cancel?order={placed.token}")
    assert response.location.endswith("/cart")
    assert order(stocked).status == "cancelled" and lots(stocked) == {"L1": (20, 0)}
    assert stripe_standin.sessions[placed.stripe_session_id]["status"] == "expired"


def test_malformed_signed_event_is_refused_with_400(
    stocked: Flask, client: FlaskClient, stripe_standin: StripeStandIn
) -> None:
    """Issue 9.15: correctly signed, but `data` a list or `created` out of range."""
    add_to_cart(client, 3)
    checkout(client)
    placed = order(stocked)
    paid = stripe_standin.complete(placed.stripe_session_id)
    good = stripe_standin.event("checkout.session.completed", paid)
    for broken in (
        {**good, "data": [paid]},
        {**good, "created": 1e20},
        {**good, "created": 10**20},
        {**good, "data": {"object": [1, 2]}},
        {**good, "id": 42},
        [good],
    ):
        response = send_event(client, broken)  # type: ignore[arg-type]
        assert response.status_code == 400, broken
        assert "malformed event" in response.get_json()["error"]
    assert order(stocked).status == "pending_payment"
    assert send_event(client, good).status_code == 200
    assert order(stocked).status == "paid"


def test_two_presses_reaching_stripe_at_once_make_one_session(
    stocked: Flask, stripe_standin: StripeStandIn
) -> None:
    """A double click reaching two app processes: both ask Stripe for the order's session
    with one idempotency key. Stripe answers the second `idempotency_key_in_use` while the
    first runs; the SDK retries it, and both get the same payment page."""
    import threading
    from datetime import UTC, datetime, timedelta

    from shop.orders import services as orders
    from shop.orders.models import Order, PaymentMethod
    from shop.payments import services as payments

    with stocked.app_context():
        orders.lock()
        placed = orders.create_order(
            [orders.LineRequest(None, 1, 5000, sku="PL-1", name="Private label run")],
            contact=orders.Contact("b@clinic.example", "B", "", "", "Street 1, Town", "ES"),
            method=PaymentMethod.CARD,
            shipping_amount=0,
            currency="usd",
            reserved_until=datetime.now(UTC) + timedelta(minutes=35),
            actor="tests",
        )
        db.session.commit()
        order_id = placed.id
    urls: list[str] = []

    def press() -> None:
        with stocked.app_context():
            row = db.session.get(Order, order_id)
            assert row is not None
            urls.append(payments.start_checkout(row))
            db.session.commit()

    stripe_standin.slow_next(1, seconds=0.6)  # done before the SDK's one retry (after 0.5 s)
    threads = [threading.Thread(target=press) for _ in range(2)]
    for thread in threads:
        thread.start()
        thread.join(0.3)
    for thread in threads:
        thread.join()
    creates = [r for r in stripe_standin.requests if r.path == "/v1/checkout/sessions"]
    assert len(urls) == 2 and len(set(urls)) == 1
    assert len(stripe_standin.sessions) == 1
    assert len(creates) >= 3  # the second press was told "in use" and retried


def test_a_press_that_finds_its_payment_page_still_being_made_releases_nothing(
    stocked: Flask, client: FlaskClient, stripe_standin: StripeStandIn
) -> None:
    """The second of two presses reaches Stripe while the first is still being answered
    (slowly); once the SDK's retries are spent it tells the buyer to press again and
    leaves the order and its stock alone: the first press's page stands."""
    import threading

    add_to_cart(client, 3)
    stripe_standin.slow_next(1, seconds=3)  # under the read deadline, longer than a retry
    token = csrf_token(client)
    from tests.flows import CONTACT

    responses = []

    def press() -> None:
        responses.append(client.post("/checkout", data={**CONTACT, "csrf_token": token}))

    first = threading.Thread(target=press)
    first.start()
    while not stripe_standin.requests:
        threading.Event().wait(0.05)
    press()
    first.join()
    second, slow = responses
    assert second.status_code == 303 and second.location.endswith("/cart")
    assert slow.location.startswith(stripe_standin.base_url + "/pay/cs_")
    placed = order(stocked)
    assert placed.status == "pending_payment" and lots(stocked) == {"L1": (20, 3)}
    assert slow.location == placed.stripe_checkout_url
