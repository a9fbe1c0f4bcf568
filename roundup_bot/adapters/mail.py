"""Sending one plain-text email through the operator's SMTP server (smtplib).

``smtp://host[:port]`` upgrades to TLS with STARTTLS whenever the server offers
it; ``smtps://host[:port]`` speaks TLS from the start. The password is handed in
(it comes from ROUNDUP_SMTP_PASSWORD) and is never part of an error message.
Every socket step has the configured timeout; smtplib caps each reply line.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import unquote, urlsplit

from roundup_bot.core.errors import NotifyError


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

    def __str__(self) -> str:
        return f"{'smtps' if self.implicit_tls else 'smtp'}://{self.host}:{self.port}"


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
        NotifyError: the server could not be reached, refused us or the address,
            or timed out; the message names the server and the SMTP answer.
    """
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message.set_content(text)  # text/plain; utf-8, line-wrapped safely by the library
    context = tls or ssl.create_default_context()
    try:
        client: smtplib.SMTP
        if server.implicit_tls:
            client = smtplib.SMTP_SSL(server.host, server.port, timeout=timeout, context=context)
        else:
            client = smtplib.SMTP(server.host, server.port, timeout=timeout)
        with client:
            client.ehlo()
            if not server.implicit_tls and client.has_extn("starttls"):
                client.starttls(context=context)
                client.ehlo()
            if server.user and password:
                client.login(server.user, password)
            client.send_message(message)
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
    except smtplib.SMTPResponseException as exc:
        raise NotifyError(
            f"the mail server {server} answered {_answer(exc.smtp_code, exc.smtp_error)}"
        ) from None
    except smtplib.SMTPServerDisconnected as exc:
        if isinstance(exc.__context__, TimeoutError):  # smtplib turns a timeout into this
            raise NotifyError(
                f"the mail server {server} did not answer within {timeout:g} s"
            ) from None
        raise NotifyError(f"the mail server {server} hung up: {exc}") from None
    except TimeoutError:
        raise NotifyError(f"the mail server {server} did not answer within {timeout:g} s") from None
    except (OSError, smtplib.SMTPException) as exc:
        raise NotifyError(f"could not send through {server}: {exc or type(exc).__name__}") from None


def _answer(code: int, text: bytes | str) -> str:
    said = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {' '.join(said.split())[:200]}"
