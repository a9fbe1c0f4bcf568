"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, and one
that accepts connections and never says a word (a hanging server)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@dataclass
class Mailbox:
    """What the server received; ``refuse`` makes it refuse every recipient."""

    messages: list[Message] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    refuse: str | None = None  # e.g. "550 5.1.1 mailbox unavailable"
    logins: list[str] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.refuse:
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server(login: tuple[str, str] | None = None) -> Iterator[tuple[str, Mailbox]]:
    """``smtp://127.0.0.1:PORT`` and its mailbox; with ``login`` (user, password) it
    offers AUTH (over plain TCP: loopback only) and takes only that pair."""
    mailbox = Mailbox()
    port = free_port()
    extra: dict[str, Any] = {}
    if login is not None:

        def authenticate(
            server: Any, session: Any, envelope: Any, mechanism: str, data: Any
        ) -> AuthResult:
            ok = (data.login.decode(), data.password.decode()) == login
            if ok:
                mailbox.logins.append(data.login.decode())
            return AuthResult(success=ok)

        # AUTH offered over plain TCP (loopback), not required: aiosmtpd warns about
        # the required kind in its own thread, where a test cannot silence it.
        extra = {"authenticator": authenticate, "auth_require_tls": False}
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, **extra)
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{port}", mailbox
    finally:
        controller.stop()


@contextmanager
def silent_server() -> Iterator[str]:
    """A server that accepts connections and never answers: ``smtp://...`` to it."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []
    closing = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not closing.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"smtp://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        closing.set()
        thread.join(5)
        for conn in held:
            conn.close()
        listener.close()
