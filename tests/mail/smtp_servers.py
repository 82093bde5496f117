"""Real SMTP servers on loopback for the mail tests: aiosmtpd (plain, STARTTLS with a sign-in,
TLS from the start), one that refuses some recipients, and a socket that never answers."""

from __future__ import annotations

import dataclasses
import socket
import ssl
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from flask import Flask

SENDER = "Meso Needle Works <shop@meso-needles.example>"


class Collector:
    """aiosmtpd handler keeping every message it is given (and refusing `refused`)."""

    def __init__(self, refused: frozenset[str] = frozenset()) -> None:
        self.envelopes: list[Envelope] = []
        self.refused = refused
        self.sessions: list[Session] = []

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refused:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        self.sessions.append(session)
        return "250 Message accepted for delivery"

    @property
    def messages(self) -> list[EmailMessage]:
        """The messages as a mailbox stores them (line ends as \\n, not the wire's CRLF)."""
        raw = [e.content for e in self.envelopes if isinstance(e.content, bytes)]
        return [message_from_bytes(r.replace(b"\r\n", b"\n"), policy=policy.default) for r in raw]


class SMTPServer:
    def __init__(self, port: int, handler: Collector | None = None, **smtp: Any) -> None:
        self.port = port
        self.handler = handler or Collector()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=port, **smtp)

    def start(self) -> SMTPServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


class Silent:
    """A server that accepts connections and never says a word (a hanging mail server), or
    only its greeting and then nothing."""

    def __init__(self, greeting: bytes = b"") -> None:
        self.greeting = greeting
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port = int(self.listener.getsockname()[1])
        self.accepted: list[socket.socket] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.accepted.append(connection)
            if self.greeting:
                connection.sendall(self.greeting)

    def start(self) -> Silent:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        self.listener.close()
        for connection in self.accepted:
            connection.close()


class Certificates:
    """A certificate authority made for this test, and a server certificate for 127.0.0.1."""

    def __init__(self, folder: Path) -> None:
        self.ca = trustme.CA()
        self.ca_file = folder / "mail-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        self.server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("127.0.0.1").configure_cert(self.server)


def password_check(user: str, password: str) -> Any:
    """An aiosmtpd authenticator knowing one account."""

    def check(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        known = isinstance(auth_data, LoginPassword) and (
            auth_data.login.decode(),
            auth_data.password.decode(),
        ) == (user, password)
        return AuthResult(success=known, handled=False)

    return check


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def use_mail_server(app: Flask, port: int | None, **settings: Any) -> None:
    """Point the app's settings at 127.0.0.1:port (None: no mail server, log instead)."""
    app.config["SHOP_SETTINGS"] = dataclasses.replace(
        app.config["SHOP_SETTINGS"],
        mail_server=None if port is None else "127.0.0.1",
        mail_port=port or 25,
        mail_default_sender=SENDER,
        **settings,
    )
