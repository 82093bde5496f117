"""Staff accounts: admins only; create, deactivate and reactivate, set a new password."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from shop.accounts.models import User
from shop.extensions import db
from tests.conftest import PASSWORD, csrf_token, sign_in
from tests.factories import make_user

NEW_PASSWORD = "a long new passphrase"


def _token(client: FlaskClient) -> str:
    return csrf_token(client, "/admin/")


def _user(app: Flask, email: str) -> User:
    with app.app_context():
        user = db.session.scalars(select(User).where(User.email == email)).one()
        db.session.expunge_all()
        return user


def _make(app: Flask, email: str, role: str = "staff") -> int:
    with app.app_context():
        user = make_user(email, role=role)
        db.session.commit()
        return user.id  # type: ignore[attr-defined]


def test_staff_are_refused_every_staff_account_page(app: Flask, staff_client: FlaskClient) -> None:
    colleague = _make(app, "colleague@shop.example")
    token = _token(staff_client)
    for path in ("/admin/staff", "/admin/staff/new", f"/admin/staff/{colleague}/password"):
        assert staff_client.get(path).status_code == 403, path
    for action in ("deactivate", "reactivate", "password"):
        response = staff_client.post(
            f"/admin/staff/{colleague}/{action}",
            data={"csrf_token": token, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        )
        assert response.status_code == 403, action
    response = staff_client.post(
        "/admin/staff/new",
        data={
            "csrf_token": token,
            "email": "sneaky@shop.example",
            "name": "Sneaky",
            "role": "admin",
            "password": NEW_PASSWORD,
        },
    )
    assert response.status_code == 403
    assert _user(app, "colleague@shop.example").active
    with app.app_context():
        assert db.session.scalar(select(User).where(User.email == "sneaky@shop.example")) is None
    assert "Staff accounts" not in staff_client.get("/admin/").get_data(as_text=True)


def test_admin_lists_back_office_accounts_only(app: Flask, admin_client: FlaskClient) -> None:
    _make(app, "colleague@shop.example")
    _make(app, "buyer@clinic.example", role="buyer")
    assert "Staff accounts" in admin_client.get("/admin/").get_data(as_text=True)
    html = admin_client.get("/admin/staff").get_data(as_text=True)
    assert "colleague@shop.example" in html and "admin@shop.example (you)" in html
    assert "buyer@clinic.example" not in html
    buyer = _user(app, "buyer@clinic.example")
    assert admin_client.get(f"/admin/staff/{buyer.id}/password").status_code == 404


def test_admin_creates_a_staff_account_that_can_sign_in(
    app: Flask, admin_client: FlaskClient
) -> None:
    response = admin_client.post(
        "/admin/staff/new",
        data={
            "csrf_token": _token(admin_client),
            "email": " Nora@Shop.example ",
            "name": "Nora Lind",
            "role": "staff",
            "password": NEW_PASSWORD,
        },
    )
    assert response.status_code == 303
    assert "Staff account nora@shop.example created." in admin_client.get(
        response.location
    ).get_data(as_text=True)
    nora = _user(app, "nora@shop.example")
    assert (nora.name, nora.role, nora.active) == ("Nora Lind", "staff", True)
    client = app.test_client()
    assert sign_in(client, "nora@shop.example", NEW_PASSWORD).status_code == 303
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/staff").status_code == 403


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"password": "too short"}, "Use at least 12 characters."),
        ({"email": "not an email"}, "Enter an email address like"),
        ({"email": "admin@shop.example"}, "An account with this email exists already."),
        ({"role": "buyer"}, "Not a valid choice"),
        ({"name": ""}, "Enter their name."),
    ],
)
def test_bad_new_accounts_are_refused_with_a_reason(
    app: Flask, admin_client: FlaskClient, changes: dict[str, str], message: str
) -> None:
    data = {
        "csrf_token": _token(admin_client),
        "email": "new@shop.example",
        "name": "New Person",
        "role": "admin",
        "password": NEW_PASSWORD,
        **changes,
    }
    response = admin_client.post("/admin/staff/new", data=data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html
    assert 'aria-invalid="true"' in html or 'id="role-error"' in html
    with app.app_context():
        assert db.session.scalar(select(User).where(User.email == "new@shop.example")) is None


def test_deactivated_staff_lose_the_back_office_at_once_until_reactivated(
    app: Flask, admin_client: FlaskClient, staff_client: FlaskClient
) -> None:
    staff = _user(app, "staff@shop.example")
    token = _token(admin_client)
    response = admin_client.post(f"/admin/staff/{staff.id}/deactivate", data={"csrf_token": token})
    assert response.status_code == 303
    assert "staff@shop.example is deactivated." in admin_client.get(response.location).get_data(
        as_text=True
    )
    assert not _user(app, "staff@shop.example").active
    # The session that was signed in is signed out at its next request.
    kicked = staff_client.get("/admin/orders")
    assert kicked.status_code == 302 and "/account/login" in kicked.location
    assert staff_client.get("/admin/").status_code == 302
    assert sign_in(app.test_client(), "staff@shop.example").status_code == 401
    admin_client.post(f"/admin/staff/{staff.id}/reactivate", data={"csrf_token": token})
    assert _user(app, "staff@shop.example").active
    assert sign_in(app.test_client(), "staff@shop.example").status_code == 303


def test_an_admin_cannot_deactivate_themself(app: Flask, admin_client: FlaskClient) -> None:
    me = _user(app, "admin@shop.example")
    response = admin_client.post(
        f"/admin/staff/{me.id}/deactivate", data={"csrf_token": _token(admin_client)}
    )
    assert "You cannot deactivate your own account." in admin_client.get(
        response.location
    ).get_data(as_text=True)
    assert _user(app, "admin@shop.example").active


def test_admin_sets_a_new_password(app: Flask, admin_client: FlaskClient) -> None:
    colleague = _make(app, "colleague@shop.example")
    token = _token(admin_client)
    mismatch = admin_client.post(
        f"/admin/staff/{colleague}/password",
        data={"csrf_token": token, "password": NEW_PASSWORD, "confirm": "something else"},
    )
    assert mismatch.status_code == 422
    assert "The two passwords differ." in mismatch.get_data(as_text=True)
    response = admin_client.post(
        f"/admin/staff/{colleague}/password",
        data={"csrf_token": token, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert response.status_code == 303
    assert sign_in(app.test_client(), "colleague@shop.example", PASSWORD).status_code == 401
    assert sign_in(app.test_client(), "colleague@shop.example", NEW_PASSWORD).status_code == 303


def test_staff_account_forms_need_the_csrf_token(app: Flask, admin_client: FlaskClient) -> None:
    colleague = _make(app, "colleague@shop.example")
    posts = {
        "/admin/staff/new": {
            "email": "x@shop.example",
            "name": "X",
            "role": "admin",
            "password": NEW_PASSWORD,
        },
        f"/admin/staff/{colleague}/deactivate": {},
        f"/admin/staff/{colleague}/password": {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    }
    for path, data in posts.items():
        assert admin_client.post(path, data=data).status_code == 400, path
    assert _user(app, "colleague@shop.example").active
