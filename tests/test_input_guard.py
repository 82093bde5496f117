"""Input no route can use is refused before it reaches the database: a NUL byte anywhere with
the shop's own 400 page, an id or a page number out of range with 404, a date out of range
or a number in other digits than 0-9 with a form error (each of these was a 500 on
PostgreSQL)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from shop.input_guard import MAX_INT, MAX_PAGE, whole_number
from tests.conftest import csrf_token
from tests.flows import SKU, SLUG, stock_needle
from tests.quotes.flow import post_request, quote_link, request_quote, send_answer


@pytest.mark.parametrize(
    "path",
    ["/products/a%00b", "/orders/%00", "/quotes/%00/accept", "/guides/x%00", "/media/a%00.png"],
)
def test_a_nul_byte_in_a_path_gets_the_shops_bad_request_page(
    client: FlaskClient, path: str
) -> None:
    for method in ("GET", "POST"):
        response = client.open(path, method=method)
        assert response.status_code == 400
        html = response.get_data(as_text=True)
        assert "<h1>Bad request</h1>" in html and "Traceback" not in html


def test_a_nul_byte_in_a_query_gets_400_and_json_from_the_api(client: FlaskClient) -> None:
    assert client.get("/products?q=32g%00").status_code == 400
    response = client.get("/api/v1/products?q=%00")
    assert response.status_code == 400
    assert response.get_json()["error"] == "Bad request"


def test_a_nul_byte_in_a_form_field_changes_nothing(app: Flask, client: FlaskClient) -> None:
    stock_needle(app)
    token = csrf_token(client, f"/products/{SLUG}")
    login = client.post(
        "/account/login",
        data={"email": "a\x00@clinic.example", "password": "x", "csrf_token": token},
    )
    assert login.status_code == 400 and "Bad request" in login.get_data(as_text=True)
    added = client.post(
        "/cart/add", data={"sku": SKU + "\x00", "quantity": "1", "csrf_token": token}
    )
    assert added.status_code == 400
    assert "Your cart is empty" in client.get("/cart").get_data(as_text=True)


def test_an_uploaded_file_named_with_a_nul_byte_is_refused(staff_client: FlaskClient) -> None:
    from io import BytesIO

    token = csrf_token(staff_client, "/admin/csv")
    response = staff_client.post(
        "/admin/csv/lots",
        data={"csrf_token": token, "lots-file": (BytesIO(b"sku\n"), "lots\x00.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    "path",
    [
        f"/admin/products/{MAX_INT + 1}",
        "/admin/products/99999999999999999999",
        "/admin/quotes/99999999999999999999",
        "/admin/stock/lots/99999999999999999999",
        "/admin/staff/99999999999999999999/password",
        "/admin/products/1/variants/99999999999999999999",
    ],
)
def test_an_id_beyond_what_the_database_holds_is_not_found(
    staff_client: FlaskClient, path: str
) -> None:
    assert staff_client.get(path).status_code == 404


def test_the_largest_id_a_column_holds_is_not_found(
    staff_client: FlaskClient,
) -> None:
    assert staff_client.get(f"/admin/products/{MAX_INT}").status_code == 404


@pytest.mark.parametrize(
    "listing", ["/admin/orders", "/admin/quotes", "/admin/products", "/admin/stock"]
)
def test_a_page_number_no_listing_reaches_is_not_found(
    staff_client: FlaskClient, listing: str
) -> None:
    assert staff_client.get(f"{listing}?page=99999999999999999999").status_code == 404
    assert staff_client.get(f"{listing}?page={MAX_PAGE + 1}").status_code == 404
    assert staff_client.get(f"{listing}?page={MAX_PAGE}").status_code == 200
    assert staff_client.get(f"{listing}?page=%C2%B2").status_code == 200  # read as page 1


def test_the_api_refuses_a_page_in_other_digits(client: FlaskClient) -> None:
    for page in ("%C2%B2", "%D9%A3", "99999999999999999999"):
        response = client.get(f"/api/v1/products?page={page}")
        assert response.status_code == 400
        assert "page must be a positive integer" in response.get_json()["message"]


@pytest.mark.parametrize(
    "query",
    [
        "/admin/orders?created_to=9999-12-31",
        "/admin/orders?created_from=0001-01-01",
        "/admin/stock/movements?until=9999-12-31",
        "/admin/stock?expires_to=9999-12-31",
    ],
)
def test_a_filter_date_out_of_range_is_a_form_error(staff_client: FlaskClient, query: str) -> None:
    response = staff_client.get(query)
    assert response.status_code in (200, 422)
    assert "Enter a date between 1900 and 2999." in response.get_data(as_text=True)


def test_a_quantity_in_other_digits_is_a_form_error(app: Flask, client: FlaskClient) -> None:
    stock_needle(app)
    response = post_request(client, {"lines-0-quantity": "²", "lines-1-quantity": "١٠"})
    assert response.status_code == 422
    assert response.get_data(as_text=True).count("Enter a whole number of packs") == 2


def test_a_quote_line_of_more_than_100000_packs_is_a_form_error(
    app: Flask, client: FlaskClient
) -> None:
    stock_needle(app)
    response = post_request(client, {"lines-0-quantity": "1000000"})
    assert response.status_code == 422
    assert "Enter a whole number of packs, from 1 to 100,000." in response.get_data(as_text=True)


def test_a_quote_over_the_largest_payable_total_is_refused_when_staff_answer(
    app: Flask, client: FlaskClient, staff_client: FlaskClient
) -> None:
    stock_needle(app)
    quote_id = request_quote(app, client, {"lines-0-quantity": "100000"})
    response = send_answer(staff_client, quote_id, prices=("45.00", "1.85"))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "a quote can total at most $999,999.99" in html
    page = staff_client.get(f"/admin/quotes/{quote_id}").get_data(as_text=True)
    assert "New" in page


def test_staff_declining_with_an_empty_reason_see_the_form_again(
    app: Flask, client: FlaskClient, staff_client: FlaskClient
) -> None:
    stock_needle(app)
    quote_id = request_quote(app, client)
    page = f"/admin/quotes/{quote_id}"
    for reason in ("", "   "):
        response = staff_client.post(
            f"{page}/decline", data={"reason": reason, "csrf_token": csrf_token(staff_client, page)}
        )
        assert response.status_code == 422
        html = response.get_data(as_text=True)
        assert "Give a reason." in html and "Price per pack" in html


def test_a_distributor_declining_with_only_spaces_is_asked_for_a_reason(
    app: Flask, client: FlaskClient, staff_client: FlaskClient
) -> None:
    stock_needle(app)
    assert send_answer(staff_client, request_quote(app, client)).status_code == 303
    link = quote_link(app)
    response = client.post(
        f"{link}/decline", data={"reason": "   ", "csrf_token": csrf_token(client, link)}
    )
    assert response.status_code == 422
    assert "Tell us why, so we can do better." in response.get_data(as_text=True)
    assert "Quoted" in client.get(link).get_data(as_text=True)


def test_a_prefilled_quote_keeps_only_a_quantity_in_ascii_digits(
    app: Flask, client: FlaskClient
) -> None:
    stock_needle(app)
    html = client.get(f"/quote?sku={SKU}&quantity=%C2%B2").get_data(as_text=True)
    assert 'value="²"' not in html
    assert client.get(f"/quote?sku={SKU}&quantity=12").status_code == 200


@pytest.mark.parametrize(
    ("text", "expected"),
    [("12", 12), (" 7 ", 7), ("-3", None), ("²", None), ("١٠", None), ("1e3", None), ("", None)],
)
def test_whole_numbers_are_ascii_digits_in_range(text: str, expected: int | None) -> None:
    assert whole_number(text, low=0, high=100) == expected
    assert whole_number("9" * 10_000) is None
    assert whole_number(str(MAX_INT)) == MAX_INT


def test_a_valid_until_date_far_ahead_is_a_form_error(
    app: Flask, client: FlaskClient, staff_client: FlaskClient
) -> None:
    stock_needle(app)
    quote_id = request_quote(app, client)
    response = send_answer(staff_client, quote_id, valid_until=date(9999, 12, 31))
    assert response.status_code == 422
    assert "Enter a date between 1900 and 2999." in response.get_data(as_text=True)
    in_a_month = send_answer(staff_client, quote_id, valid_until=date.today() + timedelta(30))
    assert in_a_month.status_code == 303
