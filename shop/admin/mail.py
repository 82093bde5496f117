"""Mail that did not go: what was given up and what is waiting after a failed try, with
the mail server's answer, so staff can reach those buyers another way."""

from __future__ import annotations

from flask import render_template

from shop.admin.blueprint import bp, section
from shop.mail.services import MAX_ATTEMPTS, troubled

section("admin.mail", "Mail")


@bp.get("/mail")
def mail() -> str:
    given_up, waiting = troubled()
    return render_template(
        "admin/mail.html", given_up=given_up, waiting=waiting, max_attempts=MAX_ATTEMPTS
    )
