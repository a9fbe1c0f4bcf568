"""Posting one message to a Teams or Slack incoming webhook.

Both accept ``{"text": ...}``. The webhook's URL is a secret (whoever has it can
post to the channel), so errors name only its host. The post goes through the
bounded HTTP client: a deadline, no redirects, a few KiB of the answer read.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from roundup_bot.adapters.http import post_json
from roundup_bot.core.errors import FetchError, NotifyError


def post_message(url: str, text: str, *, timeout: float) -> None:
    """Raises NotifyError naming the webhook's host when the post fails."""
    host = urlsplit(url).hostname or "the webhook"
    try:
        answer = post_json(url, {"text": text}, timeout=timeout)
    except FetchError as exc:
        raise NotifyError(f"the webhook at {host}: {exc}") from None
    if not answer.ok:
        detail = " ".join(answer.text.split())[:120]
        raise NotifyError(f"the webhook at {host} answered HTTP {answer.status} {detail}".rstrip())
