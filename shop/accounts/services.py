"""Accounts: create, authenticate, and carry an anonymous cart into the account's."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from flask_login import current_user
from sqlalchemy import func, select, update

from shop.accounts import tokens
from shop.accounts.models import Address, Role, User, Verification
from shop.cart import services as carts
from shop.cart.models import Cart
from shop.countries import country_name
from shop.errors import ShopError, ValidationError
from shop.extensions import db
from shop.mail.services import queue_mail
from shop.orders.models import Order
from shop.urls import external_url

# Checked against when the email is unknown, so a wrong email takes as long as a wrong
# password and sign-in does not reveal which accounts exist.
_DUMMY = User(email="", password_hash="")
_DUMMY.set_password("not a real password")


log = logging.getLogger(__name__)


def find(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def create_user(email: str, password: str, *, name: str = "", role: Role = Role.BUYER) -> User:
    email = email.strip().lower()
    if find(email) is not None:
        raise ValidationError({"email": "An account with this email exists: please sign in."})
    if len(password) < 12:
        raise ValidationError({"password": "Use at least 12 characters."})
    user = User(email=email, name=name.strip(), role=role.value, active=True)
    if role is not Role.BUYER:  # made by an admin, who knows the address
        user.email_confirmed_at = datetime.now(UTC)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    return user


@dataclass(frozen=True)
class Details:
    """What a buyer tells the shop about their clinic: kept on the account, pre-filled at
    checkout, and shown to staff who verify professional buyers."""

    name: str
    company: str = ""
    phone: str = ""
    country: str = ""
    vat_id: str = ""
    licence_number: str = ""


def register_buyer(email: str, password: str, details: Details) -> User:
    """A new buyer account, and the confirmation link mailed to it (through the outbox).
    Guest orders of the address are linked only when that link is followed."""
    user = create_user(email, password, name=details.name)
    _apply(user, details)
    send_confirmation(user)
    return user


def _apply(user: User, details: Details) -> None:
    user.name = details.name.strip()
    user.company = details.company.strip()
    user.phone = details.phone.strip()
    user.country = details.country
    user.vat_id = details.vat_id.strip().upper()
    licence = details.licence_number.strip()
    if licence != user.licence_number and user.verification == Verification.REFUSED:
        user.verification = Verification.PENDING.value  # a new licence is checked again
    user.licence_number = licence


def update_details(user: User, details: Details) -> None:
    """Change the account's details; a verified buyer who changes the licence number is
    checked again by staff."""
    if (
        details.licence_number.strip() != user.licence_number
        and user.verification == Verification.VERIFIED
    ):
        user.verification = Verification.PENDING.value
        user.verified_at = None
    _apply(user, details)
    db.session.flush()


def send_confirmation(user: User) -> None:
    """Mail `user` a link that confirms their address (good for two days, once)."""
    queue_mail(
        to=user.email,
        subject="Confirm your email address",
        template="account_confirm",
        user=user,
        link=external_url(
            "accounts.confirm", token=tokens.make(user, tokens.Purpose.CONFIRM_EMAIL)
        ),
    )


def confirm_email(token: str) -> tuple[User, int]:
    """Follow a confirmation link: the address is confirmed, the account goes to staff for
    verification, and guest orders placed with the address join the account. Returns the
    account and how many orders were linked; raises tokens.LinkRefused."""
    user = tokens.read(token, tokens.Purpose.CONFIRM_EMAIL)
    user.email_confirmed_at = datetime.now(UTC)
    if user.verification == Verification.NONE:
        user.verification = Verification.PENDING.value
    linked = link_guest_orders(user)
    log.info("account %s confirmed its email; %s guest orders linked", user.id, linked)
    return user, linked


def link_guest_orders(user: User) -> int:
    """Put the guest orders placed with the account's address into the account, if the
    address is confirmed (never before: anyone can register someone else's address).
    Runs at confirmation and at each sign-in, so later guest orders join too."""
    if user.email_confirmed_at is None or user.closed_at is not None:
        return 0
    guest_orders = list(
        db.session.scalars(
            select(Order).where(
                Order.user_id.is_(None), func.lower(Order.email) == user.email.lower()
            )
        )
    )
    for order in guest_orders:
        order.user_id = user.id
    db.session.flush()
    return len(guest_orders)


def request_password_reset(email: str) -> None:
    """Mail a reset link when an active account has this address; nothing otherwise. The
    caller says the same thing either way, so the form never tells who has an account."""
    user = find(email)
    if user is None or not user.active:
        return
    queue_mail(
        to=user.email,
        subject="Reset your password",
        template="account_reset",
        user=user,
        link=external_url(
            "accounts.reset_password", token=tokens.make(user, tokens.Purpose.RESET_PASSWORD)
        ),
    )


def reset_password(token: str, password: str) -> User:
    """Set a new password through a reset link (once, within the hour). Every session of
    the account ends; following the link also proves the address. Raises LinkRefused."""
    user = tokens.read(token, tokens.Purpose.RESET_PASSWORD)
    if len(password) < 12:
        raise ValidationError({"password": "Use at least 12 characters."})
    user.set_password(password)
    if user.email_confirmed_at is None:
        db.session.flush()
        user.email_confirmed_at = datetime.now(UTC)
        if user.verification == Verification.NONE:
            user.verification = Verification.PENDING.value
    db.session.flush()
    return user


def change_password(user: User, current: str, new: str) -> None:
    """Change the password from the account page: the current one is needed; every other
    session of the account ends."""
    if not user.check_password(current):
        raise ValidationError({"current_password": "That is not your current password."})
    if len(new) < 12:
        raise ValidationError({"new_password": "Use at least 12 characters."})
    user.set_password(new)
    db.session.flush()


def save_address(user: User, address: Address | None, fields: dict[str, Any]) -> Address:
    """Add an address to the account, or change one of its own; `is_default` makes it the
    one checkout starts with (and the others not)."""
    if address is None:
        address = Address(user=user)
        db.session.add(address)
    elif address.user_id != user.id:
        raise ShopError("not this account's address")
    for name in ("label", "contact_name", "company", "phone", "street_address", "country"):
        setattr(address, name, str(fields.get(name) or "").strip())
    make_default = bool(fields.get("is_default")) or not any(
        a.is_default for a in user.addresses if a is not address
    )
    if make_default:
        for other in user.addresses:
            other.is_default = other is address
        address.is_default = True
    db.session.flush()
    return address


def delete_address(user: User, address: Address) -> None:
    if address.user_id != user.id:
        raise ShopError("not this account's address")
    was_default = address.is_default
    user.addresses.remove(address)
    db.session.flush()
    if was_default and user.addresses:
        user.addresses[0].is_default = True
        db.session.flush()


def own_address(user: User, address_id: int) -> Address | None:
    """One of the account's addresses by id; None for anyone else's."""
    return next((a for a in user.addresses if a.id == address_id), None)


def set_verification(user: User, decision: Verification, *, note: str, by: User) -> None:
    """Staff's decision on a buyer's professional status, mailed to the buyer."""
    if user.is_staff:
        raise AccountRefused("Back-office accounts are not verified as buyers.")
    if decision not in (Verification.VERIFIED, Verification.REFUSED):
        raise AccountRefused("Choose to verify or to refuse.")
    if decision is Verification.REFUSED and not note.strip():
        raise ValidationError({"note": "Say why, so the buyer knows what to send us."})
    user.verification = decision.value
    user.verification_note = note.strip()
    user.verified_at = datetime.now(UTC) if decision is Verification.VERIFIED else None
    user.verified_by = by.email
    queue_mail(
        to=user.email,
        subject=(
            "Your account is verified"
            if decision is Verification.VERIFIED
            else "We could not verify your account"
        ),
        template="account_verification",
        user=user,
        verified=decision is Verification.VERIFIED,
        link=external_url("accounts.home"),
    )
    log.info("buyer %s %s by %s", user.id, decision.value, by.email)
    db.session.flush()


def waiting_for_verification() -> int:
    """How many buyers (address confirmed, account open) wait for staff's decision."""
    return (
        db.session.scalar(
            select(func.count())
            .select_from(User)
            .where(
                User.role == Role.BUYER.value,
                User.verification == Verification.PENDING.value,
                User.closed_at.is_(None),
            )
        )
        or 0
    )


def what_stops_ordering(user: User | None, *, required: bool) -> str | None:
    """One sentence saying why this visitor cannot check out or accept a quote yet, or None
    when they can. Only professional buyers may order when verification is required."""
    if not required:
        return None
    if user is None:
        return (
            "We sell to healthcare professionals only: sign in or create an account with "
            "your licence number, and we will verify it before your first order."
        )
    if user.is_staff:
        return None
    if user.email_confirmed_at is None:
        return (
            "Confirm your email address first: follow the link we sent you "
            "(your account page can send it again)."
        )
    if user.verification == Verification.REFUSED:
        reason = f" ({user.verification_note})" if user.verification_note else ""
        return (
            f"We could not verify your account as a healthcare professional{reason}: "
            "update your licence number on your account page and we will check again."
        )
    if user.verification != Verification.VERIFIED:
        return (
            "Your account is waiting for our staff to verify your licence number "
            "(usually within one working day); we will email you when you can order."
        )
    return None


def ordering_blocker() -> str | None:
    """Why the visitor of this request cannot check out or accept a quote yet, or None."""
    if not current_app.config["SHOP_SETTINGS"].require_verified_buyers:
        return None
    user = current_user if current_user.is_authenticated else None
    return what_stops_ordering(user, required=True)


def close_account(user: User, password: str) -> None:
    """Close the buyer's own account: personal data is removed from it (name, address book,
    phone, VAT ID, licence, the email replaced), sign-in ends for good. Orders stay as the
    books require, with the details they were placed with."""
    if user.is_staff:
        raise AccountRefused("Back-office accounts are closed by an admin.")
    if not user.check_password(password):
        raise ValidationError({"password": "That is not your password."})
    user.email = f"closed-{user.id}-{secrets.token_hex(4)}@closed.invalid"
    user.name = ""
    user.company = ""
    user.phone = ""
    user.country = ""
    user.vat_id = ""
    user.licence_number = ""
    user.verification_note = ""
    user.addresses.clear()
    user.active = False
    user.closed_at = datetime.now(UTC)
    user.set_password(secrets.token_urlsafe(32))
    db.session.execute(update(Cart).where(Cart.user_id == user.id).values(user_id=None))
    log.info("account %s closed by its owner", user.id)
    db.session.flush()


def export_data(user: User, quotes: list[dict[str, Any]]) -> dict[str, Any]:
    """Everything the shop keeps about the buyer, as data they can take elsewhere."""
    orders = db.session.scalars(
        select(Order).where(Order.user_id == user.id).order_by(Order.id)
    ).all()
    return {
        "exported_at": datetime.now(UTC).isoformat(),
        "account": {
            "email": user.email,
            "name": user.name,
            "company": user.company,
            "phone": user.phone,
            "country": user.country,
            "vat_id": user.vat_id,
            "licence_number": user.licence_number,
            "email_confirmed_at": _iso(user.email_confirmed_at),
            "verification": user.verification,
            "created_at": _iso(user.created_at),
        },
        "addresses": [
            {
                "label": a.label,
                "contact_name": a.contact_name,
                "company": a.company,
                "phone": a.phone,
                "address": a.street_address,
                "country": a.country,
                "country_name": country_name(a.country),
                "default": a.is_default,
            }
            for a in user.addresses
        ],
        "orders": [
            {
                "number": o.number,
                "placed_at": _iso(o.created_at),
                "status": o.status,
                "currency": o.currency,
                "total_cents": o.total,
                "email": o.email,
                "contact_name": o.contact_name,
                "company": o.company,
                "phone": o.phone,
                "shipping_address": o.shipping_address,
                "country": o.country,
                "lines": [
                    {"sku": line.sku, "quantity": line.quantity, "unit_cents": line.unit_amount}
                    for line in o.lines
                ],
            }
            for o in orders
        ],
        "quotes": quotes,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def authenticate(email: str, password: str) -> User | None:
    user = find(email)
    if user is None:
        _DUMMY.check_password(password)
        return None
    if not user.check_password(password) or not user.active:
        return None
    user.last_login_at = datetime.now(UTC)
    if not user.is_staff:
        link_guest_orders(user)
    return user


def adopt_cart(user: User, anonymous: Cart | None) -> tuple[Cart | None, list[str]]:
    """The account's cart after sign-in, with the anonymous cart's lines merged in (within
    the stock and the cart's rules), and what could not be merged. Another account's cart
    is never touched."""
    own = db.session.scalar(select(Cart).where(Cart.user_id == user.id).order_by(Cart.id.desc()))
    if anonymous is None or anonymous is own or anonymous.user_id is not None:
        return own, []
    if own is None:
        anonymous.user_id = user.id
        db.session.flush()
        return anonymous, []
    return own, carts.merge(own, anonymous)


class AccountRefused(ShopError):
    """A change to a back-office account that is not allowed; the message says why."""


def set_active(user: User, active: bool, *, by: User) -> None:
    """Let a back-office account sign in again, or stop it (an admin never stops themself)."""
    if not user.is_staff:
        raise AccountRefused(f"{user.email} is not a back-office account.")
    if not active and user.id == by.id:
        raise AccountRefused("You cannot deactivate your own account.")
    user.active = active
    if not active:
        user.end_sessions()
    log.info(
        "account %s %s by %s", user.email, "reactivated" if active else "deactivated", by.email
    )
    db.session.flush()


def set_password(user: User, password: str, *, by: User) -> None:
    """Give a back-office account a new password (at least 12 characters)."""
    if not user.is_staff:
        raise AccountRefused(f"{user.email} is not a back-office account.")
    if len(password) < 12:
        raise ValidationError({"password": "Use at least 12 characters."})
    user.set_password(password)
    log.info("password of %s set by %s", user.email, by.email)
    db.session.flush()
