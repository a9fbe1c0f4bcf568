"""Logging set-up for the command line and the daemon.

Logs go to standard error, as text or as one JSON object per line. The
formatters pass every finished line (tracebacks included) through
:func:`redact`, which replaces the values of the secret environment variables,
passwords in URLs and bearer tokens, so a secret can never reach a log line.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from roundup_bot.core.redaction import redact


class RedactSecrets(logging.Filter):
    """Replaces any secret in a record's message with '***' (for handlers not set up here)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class TextFormatter(logging.Formatter):
    """The text format; the whole line, traceback included, goes through :func:`redact`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line; every value goes through :func:`redact`."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("job", "feed", "next_run", "result"):
            if hasattr(record, key):
                payload[key] = str(getattr(record, key))
        if record.exc_info:
            payload["error"] = self.formatException(record.exc_info)
        return json.dumps({k: redact(v) for k, v in payload.items()}, ensure_ascii=False)


def setup_logging(level: str, fmt: str) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_roundup", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._roundup = True  # type: ignore[attr-defined]
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter())
    handler.addFilter(RedactSecrets())
    root.addHandler(handler)
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "alembic", "urllib3", "requests_oauthlib", "oauthlib"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
