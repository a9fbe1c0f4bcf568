"""Logging set-up for the command line and the daemon.

Logs go to standard error, as text or as one JSON object per line. A filter
replaces the values of the secret environment variables wherever they might
appear in a message, so a token can never reach a log line.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime

from roundup_bot.config import NON_KEY_ENV

SECRET_ENV = tuple(name for name in NON_KEY_ENV if name != "ROUNDUP_CONFIG")


class RedactSecrets(logging.Filter):
    """Replaces any secret's value in a record's message with '***'."""

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = [os.environ[name] for name in SECRET_ENV if len(os.environ.get(name, "")) >= 6]
        if secrets:
            message = record.getMessage()
            redacted = message
            for secret in secrets:
                redacted = redacted.replace(secret, "***")
            if redacted != message:
                record.msg, record.args = redacted, None
        return True


class JsonFormatter(logging.Formatter):
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
        return json.dumps(payload, ensure_ascii=False)


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
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets())
    root.addHandler(handler)
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "alembic", "urllib3", "requests_oauthlib", "oauthlib"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
