"""Staff revise a sent quote: a new version behind the same link, the old one kept in the
history, and an accept pressed on the old version refused."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from shop.extensions import db
from shop.mail.models import OutboxEmail
from shop.orders.models import Order
from tests.conftest import csrf_token
from tests.quotes.flow import accept_data, lots, quote_link, request_quote, send_answer, the_quote


def revise(
    staff_client: FlaskClient,
    quote_id: int,
    *,
    quantities: tuple[str, str] = ("100", "500"),
    prices: tuple[str, str] = ("23.00", "1.80"),
):  # type: ignore[no-untyped-def]
    page = f"/admin/quotes/{quote_id}"
    data = {f"prices-{i}": p for i, p in enumerate(prices)}
    data.update({f"quantities-{i}": q for i, q in enumerate(quantities)})
    later = (date.today() + timedelta(days=45)).isoformat()
    data.update(
        {
            "supply-0": "in_stock",
            "ships_now-0": "",
            "rest_ships_on-0": "",
            "supply-1": "made_to_order",
            "ships_now-1": "0",
            "rest_ships_on-1": later,
            "shipping": "100.00",
            "valid_until": (date.today() + timedelta(days=40)).isoformat(),
            "staff_note": "Revised for 100 packs.",
            "csrf_token": csrf_token(staff_client, page),
        }
    )
    return staff_client.post(f"{page}/revise", data=data)


def test_revision_after_the_buyer_viewed_refuses_the_old_accept_and_takes_the_new(
    stocked: Flask, client: FlaskClient, staff_client: FlaskClient
) -> None:
    quote_id = request_quote(stocked, client)
    assert send_answer(staff_client, quote_id).status_code == 303
    link = quote_link(stocked)
    old_form = accept_data(client, link)  # the buyer opened version 1
    assert old_form["version"] == "1"

    response = revise(staff_client, quote_id)
    assert response.status_code == 303, response.get_data(as_text=True)
    admin = staff_client.get(f"/admin/quotes/{quote_id}").get_data(as_text=True)
    assert "version 1 said: MN-32G-4MM-100: 120 x $24.00 = $2,880.00" in admin
    # Net 2,880.00 + 925.00 + shipping 150.00, with German VAT rounded per line (the
    # request's VAT number has a wrong check digit: taxed as for a consumer).
    assert "shipping $150.00; VAT 19 % (Germany) $751.45; total $4,706.45" in admin

    with stocked.app_context():
        mail = db.session.scalars(select(OutboxEmail).order_by(OutboxEmail.id.desc())).first()
        assert mail is not None and mail.to == "jana@dermadist.example"
        assert mail.subject.endswith("was revised (version 2)")
        # 2300 + 900 + 100 net, and VAT 437.00 + 171.00 + 19.00
        assert (
            "$3,927.00 including shipping of $100.00 and VAT 19 % (Germany) of $627.00"
            in mail.body_text
        )
        quote = the_quote()
        assert (quote.version, [x.quantity for x in quote.lines]) == (2, [100, 500])
    assert quote_link(stocked) == link  # the same link

    page = client.get(link).get_data(as_text=True)
    assert f"Revised on {date.today():%d %B %Y} (version 2)" in page
    assert "$3,927.00" in page

    stale = client.post(f"{link}/accept", data=old_form)
    assert stale.status_code == 409
    text = stale.get_data(as_text=True)
    assert "We revised this quote on" in text and "(version 2) after you opened it" in text
    assert "Review the new version below" in text
    with stocked.app_context():
        assert db.session.scalars(select(Order)).all() == []
        assert the_quote().status == "quoted"
    assert lots(stocked) == {"EARLY": (100, 0), "LATE": (200, 0)}

    fresh = accept_data(client, link)
    assert fresh["version"] == "2"
    assert client.post(f"{link}/accept", data=fresh).status_code == 303
    with stocked.app_context():
        order = db.session.scalars(select(Order)).one()
        assert order.total == 392700  # 3,300.00 net and 627.00 VAT
        assert the_quote().status == "accepted"
    assert lots(stocked) == {"EARLY": (100, 100), "LATE": (200, 0)}


def test_an_accept_without_a_version_is_refused(
    stocked: Flask, client: FlaskClient, staff_client: FlaskClient
) -> None:
    quote_id = request_quote(stocked, client)
    assert send_answer(staff_client, quote_id).status_code == 303
    link = quote_link(stocked)
    data = {**accept_data(client, link), "version": ""}
    assert client.post(f"{link}/accept", data=data).status_code == 409


def test_only_a_sent_quote_not_accepted_can_be_revised(
    stocked: Flask, client: FlaskClient, staff_client: FlaskClient
) -> None:
    quote_id = request_quote(stocked, client)
    response = revise(staff_client, quote_id)
    assert response.status_code == 409
    assert "only a sent quote not yet accepted can be revised" in response.get_data(as_text=True)
    assert send_answer(staff_client, quote_id).status_code == 303
    link = quote_link(stocked)
    assert client.post(f"{link}/accept", data=accept_data(client, link)).status_code == 303
    assert revise(staff_client, quote_id).status_code == 409
    with stocked.app_context():
        assert the_quote().version == 1


def test_a_revision_with_bad_packs_says_so_and_changes_nothing(
    stocked: Flask, client: FlaskClient, staff_client: FlaskClient
) -> None:
    quote_id = request_quote(stocked, client)
    assert send_answer(staff_client, quote_id).status_code == 303
    response = revise(staff_client, quote_id, quantities=("0", "500"))
    assert response.status_code == 422
    assert "Enter a whole number of packs, from 1 to 100,000." in response.get_data(as_text=True)
    with stocked.app_context():
        quote = the_quote()
        assert (quote.version, quote.lines[0].quantity) == (1, 120)
