"""Hiding secrets in text that leaves the process: log lines, command output, pages.

The values of the secret environment variables, passwords in URLs
(``https://user:secret@host/feed``), bearer tokens and JSON Web Tokens (the
Bluesky session kept in the database holds two) become ``***``.
"""

from __future__ import annotations

import os
import re

#: The environment variables whose values are secrets: never config keys (config.py
#: skips them), never shown (:func:`redact` hides their values).
SECRET_ENV = (
    "ROUNDUP_TWITTER_BEARER_TOKEN",
    "ROUNDUP_TWITTER_CONSUMER_KEY",
    "ROUNDUP_TWITTER_CONSUMER_SECRET",
    "ROUNDUP_TWITTER_ACCESS_TOKEN",
    "ROUNDUP_TWITTER_ACCESS_TOKEN_SECRET",
    "ROUNDUP_WEB_SECRET_KEY",
    "ROUNDUP_MASTODON_ACCESS_TOKEN",
    "ROUNDUP_BLUESKY_APP_PASSWORD",
    "ROUNDUP_WORDPRESS_APP_PASSWORD",
    "ROUNDUP_WORDPRESS_TOKEN",
    "ROUNDUP_SMTP_PASSWORD",
    "ROUNDUP_NOTIFY_WEBHOOK_URL",
    "ROUNDUP_TEST_POSTGRES_URL",
)


#: The password runs to the *last* "@" of the authority: "user:p@ss@host" has the
#: password "p@ss" (as HTTP clients read it), and all of it must go.
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*):[^/?#\s]+@", re.IGNORECASE)
_BEARER = re.compile(r"(?P<head>\bbearer\s+)[a-z0-9._~+/=-]{8,}", re.IGNORECASE)
#: HTTP Basic credentials (base64 of "user:password"); the look-ahead wants a digit or
#: a base64 sign, so ordinary words after "basic" stay.
_BASIC = re.compile(
    r"(?P<head>\bbasic\s+)(?=[A-Za-z0-9+/]*[0-9+/=])[A-Za-z0-9+/]{8,}={0,2}", re.IGNORECASE
)


#: A JSON Web Token: three base64url parts, the first two JSON objects ("eyJ...").
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")


def redact(text: str) -> str:
    """Hide secrets in one log line: the values of the secret environment variables,
    passwords in URLs (a database URL in an error) and bearer tokens."""
    for name in SECRET_ENV:
        secret = os.environ.get(name, "")
        if len(secret) >= 6:
            text = text.replace(secret, "***")
    text = _BEARER.sub(r"\g<head>***", redact_url(text))
    if "eyJ" in text:  # a session's tokens (SQL echo, a library's debug line)
        text = _JWT.sub("***", text)
    return _BASIC.sub(r"\g<head>***", text) if "asic" in text else text


def redact_url(url: str) -> str:
    """Hide the password of every ``user:password@host`` URL in ``text``; cheap for
    the usual text without one (candidates --json runs this for every source of a big week)."""
    return _URL_PASSWORD.sub(r"\g<head>:***@", url) if "@" in url else url
