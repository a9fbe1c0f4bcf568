"""Sending one plain-text email through the operator's SMTP server (smtplib).

``smtp://host[:port]`` upgrades to TLS with STARTTLS whenever the server offers
it, and a password is only ever sent over TLS (or to this machine): a server
that does not offer STARTTLS, or someone on the path who strips the offer,
gets no password. ``smtps://host[:port]`` speaks TLS from the start. The
password is handed in (it comes from ROUNDUP_SMTP_PASSWORD) and is never part of
an error message. Every socket step has the configured timeout; smtplib caps
each reply line.

The envelope and the message are sent step by step so that a failure is known
to have come before the message went out (safe to send again) or during DATA
(the server may have it: :class:`MaybeDelivered`, never sent again by itself).
"""

from __future__ import annotations

import ipaddress
import smtplib
import ssl
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import unquote, urlsplit

from roundup_bot.core.errors import MaybeDelivered, NotifyError


@dataclass(frozen=True, slots=True)
class SmtpServer:
    """Where and how to send: from ``[notify] smtp_url``."""

    host: str
    port: int
    implicit_tls: bool  # smtps://
    user: str | None

    @classmethod
    def from_url(cls, url: str) -> SmtpServer:
        parts = urlsplit(url)
        implicit = parts.scheme == "smtps"
        return cls(
            host=parts.hostname or "",
            port=parts.port or (465 if implicit else 25),
            implicit_tls=implicit,
            user=unquote(parts.username) if parts.username else None,
        )

    @property
    def is_loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def __str__(self) -> str:
        return f"{'smtps' if self.implicit_tls else 'smtp'}://{self.host}:{self.port}"


def build_message(*, sender: str, to: str, subject: str, text: str) -> EmailMessage:
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    # text/plain; utf-8, quoted-printable: 7-bit safe on any server, lines kept short
    message.set_content(text, cte="quoted-printable")
    return message


def send_email(
    server: SmtpServer,
    *,
    password: str | None,
    sender: str,
    to: str,
    subject: str,
    text: str,
    timeout: float,
    tls: ssl.SSLContext | None = None,
) -> None:
    """Send one message to one address.

    Raises:
        MaybeDelivered: the server stopped answering, or hung up, during DATA.
        NotifyError: the server could not be reached, refused us, the sender or the
            address, or would not take a password safely; the message names the
            server and the SMTP answer. Nothing was delivered: safe to try again.
    """
    message = build_message(sender=sender, to=to, subject=subject, text=text)
    context = tls or ssl.create_default_context()
    step = "connect"
    try:
        client: smtplib.SMTP
        if server.implicit_tls:
            client = smtplib.SMTP_SSL(server.host, server.port, timeout=timeout, context=context)
        else:
            client = smtplib.SMTP(server.host, server.port, timeout=timeout)
        with client:
            step = "hello"
            client.ehlo()
            encrypted = server.implicit_tls
            if not encrypted and client.has_extn("starttls"):
                client.starttls(context=context)
                client.ehlo()
                encrypted = True
            if server.user and password:
                if not encrypted and not server.is_loopback:
                    raise NotifyError(
                        f"the mail server {server} does not offer STARTTLS: the password "
                        "is never sent unencrypted (use smtps://, or a server with STARTTLS)"
                    )
                client.login(server.user, password)
            step = "envelope"
            code, answer = client.mail(sender)
            if code != 250:
                raise smtplib.SMTPSenderRefused(code, answer, sender)
            code, answer = client.rcpt(to)
            if code not in (250, 251):
                raise smtplib.SMTPRecipientsRefused({to: (code, answer)})
            step = "data"
            client.data(message.as_bytes())
    except smtplib.SMTPAuthenticationError as exc:
        raise NotifyError(
            f"the mail server {server} refused the user {server.user!r}: "
            f"{_answer(exc.smtp_code, exc.smtp_error)} (check ROUNDUP_SMTP_PASSWORD)"
        ) from None
    except smtplib.SMTPRecipientsRefused as exc:
        codes = next(iter(exc.recipients.values()), (0, b""))
        raise NotifyError(
            f"the mail server {server} refused the address {to}: {_answer(*codes)}"
        ) from None
    except smtplib.SMTPResponseException as exc:  # an answer: nothing was taken
        raise NotifyError(
            f"the mail server {server} answered {_answer(exc.smtp_code, exc.smtp_error)}"
        ) from None
    except (TimeoutError, OSError, smtplib.SMTPException) as exc:
        timed_out = isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError)
        what = f"did not answer within {timeout:g} s" if timed_out else f"failed: {exc}"
        if step == "data":
            raise MaybeDelivered(
                f"the mail server {server} {what} while taking the message to {to}: "
                "it may have it, so it is not sent again"
            ) from None
        raise NotifyError(f"the mail server {server} {what}") from None


def _answer(code: int, text: bytes | str) -> str:
    said = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {' '.join(said.split())[:200]}"
