"""Sign-in, registration, roles and the buyer's order history."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from shop.accounts.models import User
from shop.extensions import db
from tests.conftest import PASSWORD, csrf_token, sign_in
from tests.factories import make_lot, make_product, make_user, make_variant


def test_passwords_are_hashed(app: Flask) -> None:
    with app.app_context():
        user = make_user("a@shop.example")
        db.session.commit()
        assert PASSWORD not in user.password_hash
        assert user.password_hash.startswith(("scrypt:", "pbkdf2:"))


def test_sign_in_and_out(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        make_user("buyer@clinic.example", role="buyer")
        db.session.commit()
    wrong = sign_in(client, "buyer@clinic.example", "wrong password")
    assert wrong.status_code == 401
    assert "That email and password do not match an account." in wrong.get_data(as_text=True)
    unknown = sign_in(client, "nobody@clinic.example")
    assert unknown.status_code == 401
    ok = sign_in(client, "BUYER@clinic.example")
    assert ok.status_code == 303 and ok.location.endswith("/account")
    assert "Your orders" in client.get("/account/orders").get_data(as_text=True)
    client.post("/account/logout", data={"csrf_token": csrf_token(client, "/account/orders")})
    assert client.get("/account/orders").status_code == 302


def test_next_is_never_an_open_redirect(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        make_user("buyer@clinic.example", role="buyer")
        db.session.commit()
    token = csrf_token(client, "/account/login")
    response = client.post(
        "/account/login?next=https://evil.example/x",
        data={"email": "buyer@clinic.example", "password": PASSWORD, "csrf_token": token},
    )
    assert response.location.endswith("/account")


def test_failed_sign_ins_are_rate_limited(app: Flask, client: FlaskClient) -> None:
    statuses = [sign_in(client, "x@clinic.example", "bad").status_code for _ in range(12)]
    assert statuses[:10] == [401] * 10
    assert statuses[10:] == [429, 429]


def test_register_validates_and_keeps_input(app: Flask, client: FlaskClient) -> None:
    token = csrf_token(client, "/account/register")
    response = client.post(
        "/account/register",
        data={
            "name": "Dr Ana",
            "email": "ana@clinic.example",
            "password": "short",
            "confirm": "short",
            "csrf_token": token,
        },
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Use at least 12 characters." in html and 'value="ana@clinic.example"' in html
    response = client.post(
        "/account/register",
        data={
            "name": "Dr Ana",
            "company": "Clinica Ana",
            "country": "ES",
            "email": "ana@clinic.example",
            "password": PASSWORD,
            "confirm": PASSWORD,
            "csrf_token": token,
        },
    )
    assert response.status_code == 303
    with app.app_context():
        user = db.session.scalar(select(User))
        assert (user.email, user.role) == ("ana@clinic.example", "buyer")


def test_anonymous_cart_merges_into_the_account_cart(app: Flask) -> None:
    with app.app_context():
        variant = make_variant(product=make_product(slug="meso-32"), sku="MN-1")
        make_lot(variant, quantity=50)
        make_user("buyer@clinic.example", role="buyer")
        db.session.commit()
    first = app.test_client()
    sign_in(first, "buyer@clinic.example")
    first.post(
        "/cart/add",
        data={"sku": "MN-1", "quantity": "2", "csrf_token": csrf_token(first, "/products/meso-32")},
    )
    other_device = app.test_client()
    other_device.post(
        "/cart/add",
        data={
            "sku": "MN-1",
            "quantity": "3",
            "csrf_token": csrf_token(other_device, "/products/meso-32"),
        },
    )
    sign_in(other_device, "buyer@clinic.example")
    html = other_device.get("/cart").get_data(as_text=True)
    assert 'name="quantity" min="0" step="1" value="5"' in html


def test_create_admin_command(app: Flask) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-admin", "boss@shop.example"], input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert "Admin account boss@shop.example created." in result.output
    again = runner.invoke(args=["create-admin", "boss@shop.example"], input=PASSWORD + "\n")
    assert again.exit_code != 0 and "exists" in again.output
    short = runner.invoke(args=["create-admin", "x@shop.example"], input="short\n")
    assert short.exit_code != 0 and "12 characters" in short.output


def test_signing_in_over_another_account_never_puts_the_order_in_it(
    app: Flask, client: FlaskClient
) -> None:
    """Issue 9.13: B signs in on a browser where A is still signed in; B's order went to A."""
    from tests.flows import add_to_cart, checkout, order, stock_needle

    stock_needle(app, {"L1": 50})
    with app.app_context():
        make_user("a@clinic.example", role="buyer")
        make_user("b@clinic.example", role="buyer")
        db.session.commit()
    assert sign_in(client, "a@clinic.example").status_code == 303
    add_to_cart(client, 4)
    assert sign_in(client, "b@clinic.example").status_code == 303  # no sign-out between
    assert "Your cart is empty" in client.get("/cart").get_data(as_text=True)
    add_to_cart(client, 2)
    checkout(client, payment_method="bank_transfer", email="b@clinic.example")
    with app.app_context():
        b = db.session.scalar(select(User).where(User.email == "b@clinic.example"))
        assert b is not None
        assert order(app).user_id == b.id and order(app).lines[0].quantity == 2
    orders_of_a = app.test_client()
    sign_in(orders_of_a, "a@clinic.example")
    assert order(app).number not in orders_of_a.get("/account/orders").get_data(as_text=True)


def test_merging_carts_at_sign_in_keeps_to_the_stock_and_the_line_limits(
    app: Flask, client: FlaskClient
) -> None:
    """Issue 9.13: the merge added quantities past the stock without a word."""
    from tests.flows import add_to_cart, stock_needle

    stock_needle(app, {"L1": 50})
    with app.app_context():
        make_user("buyer@clinic.example", role="buyer")
        db.session.commit()
    sign_in(client, "buyer@clinic.example")
    add_to_cart(client, 30)
    client.post("/account/logout", data={"csrf_token": csrf_token(client, "/cart")})
    assert add_to_cart(client, 40).status_code == 303  # as a visitor
    response = sign_in(client, "buyer@clinic.example")
    page = client.get(response.location).get_data(as_text=True)
    assert "Not carried into your cart: MN-32G-4MM-100: Only 50 packs" in page
    cart = client.get("/cart").get_data(as_text=True)
    assert 'value="30"' in cart and 'value="70"' not in cart


def _copy_session(source: FlaskClient, target: FlaskClient) -> None:
    """Copy the session cookie, as someone who read it off a shared computer would."""
    cookie = source.get_cookie("session")
    assert cookie is not None
    target.set_cookie("session", cookie.value)


def test_a_copied_session_cookie_is_dead_after_sign_out(app: Flask, client: FlaskClient) -> None:
    """Issue 10: sessions lived on after sign-out; a copied cookie still worked."""
    with app.app_context():
        make_user("buyer@clinic.example", role="buyer")
        db.session.commit()
    sign_in(client, "buyer@clinic.example")
    thief = app.test_client()
    _copy_session(client, thief)
    assert thief.get("/account/orders").status_code == 200  # the copy works while signed in
    client.post("/account/logout", data={"csrf_token": csrf_token(client, "/account/orders")})
    assert thief.get("/account/orders").status_code == 302  # and not after sign-out
    assert client.get("/account/orders").status_code == 302


def test_a_new_password_or_a_deactivation_ends_staff_sessions(
    app: Flask, admin_client: FlaskClient, staff_client: FlaskClient
) -> None:
    """Issue 10: a staff password reset left old sessions valid."""
    from shop.accounts.models import User as Account

    assert staff_client.get("/admin/").status_code == 200
    with app.app_context():
        staff = db.session.scalar(select(Account).where(Account.email == "staff@shop.example"))
        assert staff is not None
        staff_id = staff.id
    page = f"/admin/staff/{staff_id}/password"
    token = csrf_token(admin_client, "/admin/staff")
    response = admin_client.post(
        page,
        data={
            "password": "another long password",
            "confirm": "another long password",
            "csrf_token": token,
        },
    )
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:300]
    assert staff_client.get("/admin/").status_code == 302  # sent to sign in again
    assert sign_in(staff_client, "staff@shop.example", "another long password").status_code == 303
    assert staff_client.get("/admin/").status_code == 200
    token = csrf_token(admin_client, "/admin/staff")
    admin_client.post(f"/admin/staff/{staff_id}/deactivate", data={"csrf_token": token})
    assert staff_client.get("/admin/").status_code == 302


def test_a_staff_session_ends_after_twelve_hours(app: Flask, staff_client: FlaskClient) -> None:
    import time as clock

    from shop.accounts.auth import SINCE_KEY

    assert staff_client.get("/admin/").status_code == 200
    with staff_client.session_transaction() as session:
        session[SINCE_KEY] = int(clock.time()) - 12 * 3600 - 60
    assert staff_client.get("/admin/").status_code == 302


def test_the_order_page_is_never_stored_by_a_browser_or_proxy(
    app: Flask, client: FlaskClient
) -> None:
    from tests.flows import add_to_cart, checkout, order, stock_needle

    stock_needle(app, {"L1": 20})
    add_to_cart(client, 2)
    checkout(client, payment_method="bank_transfer")
    page = client.get(f"/orders/{order(app).token}")
    assert page.status_code == 200 and "no-store" in page.headers["Cache-Control"]
