"""Hiding secrets in text that leaves the process: log lines, command output, pages.

The values of the secret environment variables, passwords in URLs
(``https://user:secret@host/feed``) and bearer tokens become ``***``.
"""

from __future__ import annotations

import os
import re

from roundup_bot.config import NON_KEY_ENV

SECRET_ENV = tuple(name for name in NON_KEY_ENV if name != "ROUNDUP_CONFIG")


#: The password runs to the *last* "@" of the authority: "user:p@ss@host" has the
#: password "p@ss" (as HTTP clients read it), and all of it must go.
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*):[^/?#\s]+@", re.IGNORECASE)
_BEARER = re.compile(r"(?P<head>\bbearer\s+)[a-z0-9._~+/=-]{8,}", re.IGNORECASE)


def redact(text: str) -> str:
    """Hide secrets in one log line: the values of the secret environment variables,
    passwords in URLs (a database URL in an error) and bearer tokens."""
    for name in SECRET_ENV:
        secret = os.environ.get(name, "")
        if len(secret) >= 6:
            text = text.replace(secret, "***")
    return _BEARER.sub(r"\g<head>***", redact_url(text))


def redact_url(url: str) -> str:
    """Hide the password of every ``user:password@host`` URL in ``text``; cheap for
    the usual text without one (candidates --json runs this for every source of a big week)."""
    return _URL_PASSWORD.sub(r"\g<head>:***@", url) if "@" in url else url
