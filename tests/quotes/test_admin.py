"""The back office's quotes: the list, the answer form's errors, declining, withdrawing."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import csrf_token
from tests.quotes.flow import (
    request_quote,
    send_answer,
    the_quote,
)


def test_the_list_filters_by_status(
    stocked: Flask, client: FlaskClient, staff_client: FlaskClient
) -> None:
    quote_id = request_quote(stocked, client)
    with stocked.app_context():
        reference = the_quote().reference
    assert reference in staff_client.get("/admin/quotes").get_data(as_text=True)
    assert reference in staff_client.get("/admin/quotes?status=new").get_data(as_text=True)
    quoted = staff_client.get("/admin/quotes?status=quoted").get_data(as_text=True)
    assert reference not in quoted and "No quotes with the status" in quoted
    assert reference in staff_client.get("/admin/quotes?status=bogus").get_data(as_text=True)
    assert send_answer(staff_client, quote_id).status_code == 303
    assert reference in staff_client.get("/admin/quotes?status=quoted").get_data(as_text=True)


def test_free_text_lines_need_a_typed_price(
    stocked: Flask, client: FlaskClient, staff_client: FlaskClient
) -> None:
    quote_id = request_quote(stocked, client)
    response = send_answer(staff_client, quote_id, prices=("24.00", ""), shipping="ten")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="prices-1-error"' in html and "Enter the price of one pack." in html
    assert 'aria-describedby="prices-1-error"' in html
    assert "Enter an amount like 45.00, or 0 for free shipping." in html
    assert 'value="24.00"' in html  # what was typed stays
    with stocked.app_context():
        quote = the_quote()
        assert quote.status == "new" and quote.lines[0].unit_amount is None


def test_a_validity_date_in_the_past_is_refused(
    stocked: Flask, client: FlaskClient, staff_client: FlaskClient
) -> None:
    from datetime import date, timedelta

    quote_id = request_quote(stocked, client)
    response = send_answer(staff_client, quote_id, valid_until=date.today() - timedelta(days=1))
    assert response.status_code == 422
    assert "Choose a date from today to a year ahead." in response.get_data(as_text=True)
    with stocked.app_context():
        assert the_quote().status == "new"


def test_staff_decline_a_request_and_withdraw_a_quote_to_reissue_it(
    stocked: Flask, client: FlaskClient, staff_client: FlaskClient
) -> None:
    quote_id = request_quote(stocked, client)
    page = f"/admin/quotes/{quote_id}"
    assert send_answer(staff_client, quote_id).status_code == 303
    response = staff_client.post(
        f"{page}/decline",
        data={"reason": "Wrong price for line 2", "csrf_token": csrf_token(staff_client, page)},
    )
    assert response.status_code == 303
    html = staff_client.get(page).get_data(as_text=True)
    assert "Quoted → Declined" in html and "Wrong price for line 2" in html
    assert send_answer(staff_client, quote_id, prices=("23.00", "1.80")).status_code == 303
    with stocked.app_context():
        quote = the_quote()
        assert quote.status == "quoted" and [x.unit_amount for x in quote.lines] == [2300, 180]
        assert quote.decline_reason == ""
        assert [e.to_status for e in quote.history] == ["new", "quoted", "declined", "quoted"]
        assert quote.history[-1].note.startswith("reissued")


def test_an_unknown_quote_is_not_found(staff_client: FlaskClient) -> None:
    assert staff_client.get("/admin/quotes/999").status_code == 404
