"""Money and stock are never wrong, whatever happens in whatever order.

A Hypothesis state machine drives random sequences through the shop's public doors (the
buyer's pages, Stripe's signed webhooks against the loopback stand-in, the worker and the
staff's services): add to cart, check out by card or bank transfer, restart checkout, pay,
pay by a delayed method that succeeds or fails, pay late, leave Stripe's page, Stripe
expiring a session, replayed and reordered events, worker runs hours or days later, bank
transfers exact or short, refunds in part and in full (some pending, then failing), staff
cancellations and stock adjustments. After every step the ledger audit (`shop.audit`) must
find nothing, and Stripe and the books must agree.

`make test` runs a bounded number of examples on SQLite; CI runs it on PostgreSQL too.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from shop import audit, tax
from shop.errors import ValidationError
from shop.extensions import db
from shop.inventory import services as inventory
from shop.inventory.models import Lot
from shop.orders import services as orders
from shop.orders.models import Order, OrderStatus, PaymentMethod
from shop.payments import services as payments
from shop.payments import stripe_client
from tests.conftest import WEBHOOK_SECRET, csrf_token, empty_tables
from tests.flows import CONTACT, add_to_cart, send_event
from tests.stripe_standin import StripeStandIn

SKUS = ("SM-A", "SM-B")
# Where buyers ship to, with the VAT ID they give: a Spanish consumer (21 %), a German
# consumer and business (19 %), an Austrian business (reverse charge), Switzerland (export).
DESTINATIONS = (("ES", ""), ("DE", ""), ("DE", "DE136695976"), ("AT", "ATU13585627"), ("CH", ""))
TREATMENTS = {"ES": "eu_distance", "DE": "domestic", "AT": "reverse_charge", "CH": "export"}
EXAMPLES = int(os.environ.get("SHOP_STATE_MACHINE_EXAMPLES", "10"))
STEPS = int(os.environ.get("SHOP_STATE_MACHINE_STEPS", "40"))


class MoneyAndStock(RuleBasedStateMachine):
    def __init__(self, app: Flask, standin: StripeStandIn) -> None:
        super().__init__()
        self.app, self.standin = app, standin
        with app.app_context():
            empty_tables()
        for store in (standin.sessions, standin.charges, standin.refunds, standin.events):
            store.clear()
        standin.payment_intents.clear()
        standin.refund_status = "succeeded"
        standin.down = False
        from tests.factories import make_lot, make_product, make_variant

        with app.app_context():
            for n, sku in enumerate(SKUS):
                variant = make_variant(
                    product=make_product(slug=f"sm-{n}"),
                    sku=sku,
                    prices=((1, 2000 + 500 * n), (5, 1800 + 500 * n)),
                )
                make_lot(variant, quantity=6, lot_number=f"{sku}-1", expires_in_days=500)
                make_lot(variant, quantity=4, lot_number=f"{sku}-2", expires_in_days=900)
            db.session.commit()
        self.buyers: list[FlaskClient] = []
        for n in range(2):
            client = app.test_client()
            client.environ_base["REMOTE_ADDR"] = f"10.9.{n}.{secrets.randbelow(250)}"
            self.buyers.append(client)
        self.undelivered: list[dict[str, Any]] = []
        self.delivered: list[dict[str, Any]] = []
        self.later = timedelta(0)
        self.snapshot: list[Order] = []

    # ---- helpers -----------------------------------------------------------------------

    def _orders(self) -> list[Order]:
        with self.app.app_context():
            found = list(db.session.scalars(select(Order).order_by(Order.id)))
            db.session.expunge_all()
            return found

    def _pick(self, index: int, **where: Any) -> Order | None:
        fits = [
            o
            for o in self.snapshot
            if all(
                getattr(o, k) in v if isinstance(v, tuple) else getattr(o, k) == v
                for k, v in where.items()
            )
        ]
        return fits[index % len(fits)] if fits else None

    def _queue(self, kind: str, obj: dict[str, Any]) -> None:
        self.undelivered.append(self.standin.event(kind, obj))

    def _staff(self, action: Any) -> None:
        """Run a staff action as the admin views do: a refusal changes nothing (a refund
        Stripe refused is kept as failed); any other error is a bug and fails the test."""
        with self.app.app_context():
            try:
                action()
                db.session.commit()
            except stripe_client.RefundRefused:
                db.session.commit()
            except (orders.ActionRefused, ValidationError, stripe_client.StripeError):
                db.session.rollback()

    @initialize(card=st.sampled_from(["none", "open", "paid"]), transfer=st.booleans())
    def some_orders_to_start_with(self, card: str, transfer: bool) -> None:
        """Start, often, with a card order (open or paid) and a bank transfer paid, so the
        random steps reach refunds, cancellations and late events sooner."""
        if card != "none":
            self.order_packs(1, SKUS[0], 2, by_card=True)
            self.snapshot = self._orders()
            if card == "paid":
                self.pay_at_stripe(0, delayed=False)
                self.deliver_an_event(0)
        if transfer:
            self.order_packs(0, SKUS[1], 3, by_card=False)
            self.snapshot = self._orders()
            self.bank_transfer_arrives(len(self.snapshot) - 1, short=False)
        self.the_books_agree()

    # ---- the buyer ---------------------------------------------------------------------

    @rule(buyer=st.integers(0, 1), sku=st.sampled_from(SKUS), packs=st.integers(1, 7))
    def add_to_cart(self, buyer: int, sku: str, packs: int) -> None:
        slug = f"sm-{SKUS.index(sku)}"
        add_to_cart(self.buyers[buyer], packs, sku=sku, slug=slug)

    @rule(
        buyer=st.integers(0, 1),
        sku=st.sampled_from(SKUS),
        packs=st.integers(1, 7),
        by_card=st.booleans(),
        destination=st.sampled_from(DESTINATIONS),
    )
    def order_packs(
        self,
        buyer: int,
        sku: str,
        packs: int,
        by_card: bool,
        destination: tuple[str, str] = DESTINATIONS[0],
    ) -> None:
        self.add_to_cart(buyer, sku, packs)
        self.check_out(buyer, by_card, destination)

    @rule(buyer=st.integers(0, 1), by_card=st.booleans(), destination=st.sampled_from(DESTINATIONS))
    def check_out(
        self, buyer: int, by_card: bool, destination: tuple[str, str] = DESTINATIONS[0]
    ) -> None:
        client = self.buyers[buyer]
        method = "card" if by_card else "bank_transfer"
        country, vat_id = destination
        response = client.post(
            "/checkout",
            data={
                **CONTACT,
                "email": f"buyer{buyer}@clinic.example",
                "country": country,
                "vat_id": vat_id,
                "payment_method": method,
                "csrf_token": csrf_token(client, "/products/sm-0"),
            },
        )
        assert response.status_code in (303, 409, 422), response.status_code

    @precondition(lambda self: any(o.status == "pending_payment" for o in self.snapshot))
    @rule(index=st.integers(0, 50), delayed=st.booleans())
    def pay_at_stripe(self, index: int, delayed: bool) -> None:
        order = self._pick(index, status="pending_payment")
        if order is not None and order.stripe_session_id:
            self._pay(order.stripe_session_id, delayed=delayed)

    @precondition(lambda self: any(o.stripe_session_id for o in self.snapshot))
    @rule(index=st.integers(0, 50))
    def pay_any_page_left_open(self, index: int) -> None:
        """An old payment page in another tab: Stripe takes it only if still open."""
        order = self._pick(index, payment_method="card")
        if order is not None and order.stripe_session_id:
            self._pay(order.stripe_session_id, delayed=False)

    def _pay(self, session_id: str, *, delayed: bool) -> None:
        try:
            paid = self.standin.complete(session_id, async_payment=delayed)
        except ValueError:  # expired or paid already: Stripe refuses, as it would
            return
        self._queue("checkout.session.completed", paid)

    @precondition(lambda self: any(o.status == "payment_processing" for o in self.snapshot))
    @rule(index=st.integers(0, 50), succeeded=st.booleans())
    def delayed_payment_outcome(self, index: int, succeeded: bool) -> None:
        order = self._pick(index, payment_method="card")
        if order is None or order.stripe_session_id is None:
            return
        try:
            session = self.standin.settle_async_payment(
                order.stripe_session_id, succeeded=succeeded
            )
        except ValueError:
            return
        kind = "succeeded" if succeeded else "failed"
        self._queue(f"checkout.session.async_payment_{kind}", session)

    @precondition(lambda self: any(o.stripe_session_id for o in self.snapshot))
    @rule(index=st.integers(0, 50))
    def return_from_stripe(self, index: int) -> None:
        order = self._pick(index, payment_method="card")
        if order is not None and order.stripe_session_id:
            self.buyers[0].get(f"/checkout/success?session_id={order.stripe_session_id}")

    @precondition(lambda self: any(o.stripe_session_id for o in self.snapshot))
    @rule(index=st.integers(0, 50), buyer=st.integers(0, 1))
    def leave_stripe_page(self, index: int, buyer: int) -> None:
        order = self._pick(index, payment_method="card")
        if order is not None:
            self.buyers[buyer].get(f"/checkout/cancel?order={order.token}")

    # ---- Stripe ------------------------------------------------------------------------

    @precondition(lambda self: any(o.stripe_session_id for o in self.snapshot))
    @rule(index=st.integers(0, 50))
    def stripe_expires_a_session(self, index: int) -> None:
        order = self._pick(index, payment_method="card")
        if order is None or order.stripe_session_id is None:
            return
        session = self.standin.lapse(order.stripe_session_id)
        if session["status"] == "expired":
            self._queue("checkout.session.expired", session)

    @precondition(lambda self: bool(self.undelivered))
    @rule(index=st.integers(0, 50))
    def deliver_an_event(self, index: int) -> None:
        if not self.undelivered:
            return
        event = self.undelivered.pop(index % len(self.undelivered))
        response = send_event(self.buyers[0], event)
        assert response.status_code in (200, 503), response.get_data(as_text=True)
        if response.status_code == 200:
            self.delivered.append(event)
        else:
            self.undelivered.append(event)

    @precondition(lambda self: bool(self.delivered))
    @rule(index=st.integers(0, 50))
    def replay_an_event(self, index: int) -> None:
        if self.delivered:
            event = self.delivered[index % len(self.delivered)]
            assert send_event(self.buyers[1], event).get_json()["outcome"] == "duplicate"

    @precondition(lambda self: self.standin.refund_status == "pending")
    @rule(index=st.integers(0, 50), succeeded=st.booleans())
    def a_pending_refund_settles(self, index: int, succeeded: bool) -> None:
        pending = [r for r, v in self.standin.refunds.items() if v["status"] == "pending"]
        if not pending:
            return
        refund = self.standin.settle_refund(pending[index % len(pending)], succeeded=succeeded)
        self._queue("refund.updated" if succeeded else "refund.failed", refund)

    @rule(pending=st.booleans())
    def stripe_refunds_come_back(self, pending: bool) -> None:
        self.standin.refund_status = "pending" if pending else "succeeded"

    # ---- the worker and time -----------------------------------------------------------

    @precondition(lambda self: bool(self.snapshot))
    @rule(hours=st.sampled_from([0, 1, 30, 24 * 8]))
    def worker_runs(self, hours: int) -> None:
        self.later = max(self.later, timedelta(hours=hours))
        now = datetime.now(UTC) + self.later
        with self.app.app_context():
            payments.settle_lapsed_orders(now)
            payments.resend_refunds(now + timedelta(minutes=5))
            db.session.remove()

    # ---- staff -------------------------------------------------------------------------

    @precondition(lambda self: any(o.payment_method == "bank_transfer" for o in self.snapshot))
    @rule(index=st.integers(0, 50), short=st.booleans())
    def bank_transfer_arrives(self, index: int, short: bool) -> None:
        order = self._pick(index, payment_method=PaymentMethod.BANK_TRANSFER.value)
        if order is None:
            return

        def record() -> None:
            row = db.session.get(Order, order.id)
            assert row is not None
            orders.record_transfer(row, amount=row.total - (100 if short else 0), actor="staff")

        self._staff(record)

    @precondition(lambda self: any(o.transfer_received for o in self.snapshot))
    @rule(index=st.integers(0, 50))
    def staff_accept_a_shortfall(self, index: int) -> None:
        """A short transfer is accepted: paid for what came, the rest written off (the audit
        holds amount paid + shortfall = total for every paid order)."""
        order = self._pick(index, payment_method=PaymentMethod.BANK_TRANSFER.value)
        if order is None:
            return

        def accept() -> None:
            row = db.session.get(Order, order.id)
            assert row is not None
            orders.accept_shortfall(row, reason="bank fee", actor="staff")

        self._staff(accept)

    @precondition(lambda self: any(o.amount_paid for o in self.snapshot))
    @rule(
        index=st.integers(0, 50),
        share=st.sampled_from([0.25, 0.5, 1.0]),
        restock=st.booleans(),
        cancel=st.booleans(),
    )
    def staff_refund(self, index: int, share: float, restock: bool, cancel: bool) -> None:
        paid = [o for o in self.snapshot if o.amount_paid]
        order = paid[index % len(paid)]

        def refund() -> None:
            row = db.session.get(Order, order.id)
            assert row is not None
            amount = row.refundable if cancel or share == 1.0 else int(row.refundable * share)
            request = orders.request_refund(
                row,
                amount=amount,
                restock=orders.restockable(row) if restock else {},
                request_key=payments.refund_key(row, secrets.token_urlsafe(16)),
                actor="staff",
                cancel=cancel,
            )
            payments.send_refund(request, actor="staff")

        self._staff(refund)

    @precondition(lambda self: bool(self.snapshot))
    @rule(index=st.integers(0, 50), restock=st.booleans())
    def staff_cancel(self, index: int, restock: bool) -> None:
        order = self._pick(index)
        if order is None:
            return

        def cancel() -> None:
            row = db.session.get(Order, order.id)
            assert row is not None
            payments.cancel_order(
                row,
                actor="staff",
                reason="tests",
                restock_all=restock,
                nonce=secrets.token_urlsafe(16),
            )

        self._staff(cancel)

    @precondition(lambda self: any(o.status == "paid" for o in self.snapshot))
    @rule(index=st.integers(0, 50))
    def staff_ship(self, index: int) -> None:
        order = self._pick(index, status=OrderStatus.PAID.value)
        if order is None:
            return

        def ship() -> None:
            row = db.session.get(Order, order.id)
            assert row is not None
            orders.ship(row, carrier="DHL", tracking_number="123", actor="staff")

        self._staff(ship)

    @rule(index=st.integers(0, 3), delta=st.integers(-4, 6))
    def staff_adjusts_a_lot(self, index: int, delta: int) -> None:
        def adjust() -> None:
            lots = list(db.session.scalars(select(Lot).order_by(Lot.id)))
            if delta:
                inventory.adjust(lots[index % len(lots)], delta, actor="staff", reason="count")

        self._staff(adjust)

    # ---- what must always hold -------------------------------------------------------------

    @invariant()
    def the_books_agree(self) -> None:
        with self.app.app_context():
            assert audit.breaches() == []
            db.session.remove()
        self.snapshot = self._orders()

    @invariant()
    def every_total_is_net_plus_vat_rounded_per_line(self) -> None:
        """total = subtotal + shipping + tax; the tax is each line's and the shipping's,
        rounded half up on its own, at the rate the destination and VAT ID call for."""
        with self.app.app_context():
            for order in db.session.scalars(select(Order)):
                assert order.total == order.subtotal + order.shipping_amount + order.tax_amount
                assert order.tax_treatment == TREATMENTS[order.country], order.number
                for line in order.lines:
                    assert line.tax_amount == tax.tax_of(line.line_total, order.tax_rate)
                assert order.shipping_tax == tax.tax_of(order.shipping_amount, order.tax_rate)
                assert order.amount_refunded <= order.amount_paid <= order.total
            db.session.remove()

    @invariant()
    def stripe_and_the_books_agree(self) -> None:
        by_session = {o.stripe_session_id: o for o in self._orders() if o.stripe_session_id}
        for session_id, session in list(self.standin.sessions.items()):
            order = by_session.get(session_id)
            assert order is not None, "Stripe has a session no order knows"
            assert session["amount_total"] == order.total, "Stripe charges the gross total"
            if order.amount_paid and order.payment_method == "card":
                assert session["payment_status"] == "paid", order.number
            if session["payment_status"] == "paid" and order.status == "cancelled":
                assert order.amount_paid, "a paid session's order was closed unpaid"

    def teardown(self) -> None:
        """Deliver what Stripe still owes, let the worker run: every payment Stripe took
        is then on the books, honoured or flagged for a refund."""
        for event in self.undelivered:
            send_event(self.buyers[0], event)
        self.undelivered.clear()
        self.worker_runs(24 * 8)
        paid_sessions = {
            sid for sid, s in self.standin.sessions.items() if s["payment_status"] == "paid"
        }
        refunded_at_stripe: dict[str, int] = {}
        for refund in self.standin.refunds.values():
            if refund["status"] == "succeeded":
                intent = refund["payment_intent"]
                refunded_at_stripe[intent] = refunded_at_stripe.get(intent, 0) + refund["amount"]
        for order in self._orders():
            if order.stripe_session_id in paid_sessions:
                assert order.amount_paid == order.total or order.needs_attention, order.number
            if order.stripe_payment_intent:
                at_stripe = refunded_at_stripe.get(order.stripe_payment_intent, 0)
                assert order.amount_refunded == at_stripe, order.number
        self.the_books_agree()


def test_money_and_stock_hold_under_any_sequence(
    stripe_app: Flask, stripe_standin: StripeStandIn
) -> None:
    stripe_app.config["SHOP_CHECKOUT_LIMIT"] = "100000 per minute"
    stripe_app.config["SHOP_SETTINGS"] = dataclasses.replace(
        stripe_app.config["SHOP_SETTINGS"], max_open_transfers=100
    )
    run_state_machine_as_test(
        lambda: MoneyAndStock(stripe_app, stripe_standin),
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    assert WEBHOOK_SECRET  # events are signed with the shop's own secret
