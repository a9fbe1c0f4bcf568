"""Posting one message to a Teams or Slack incoming webhook.

Both accept ``{"text": ...}``. The webhook's URL is a secret (whoever has it can
post to the channel), so errors name only its host. The post goes through the
bounded HTTP client: one deadline, no redirects, a few KiB of the answer read.
A post whose answer never came may have reached the channel: that is
:class:`MaybeDelivered`, never posted again by itself.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from roundup_bot.adapters.http import post_json
from roundup_bot.core.errors import ConnectFailed, FetchError, MaybeDelivered, NotifyError


def post_message(url: str, text: str, *, timeout: float) -> None:
    """Raises NotifyError (nothing posted: try again) or MaybeDelivered, naming only
    the webhook's host."""
    host = urlsplit(url).hostname or "the webhook"
    try:
        answer = post_json(url, {"text": text}, timeout=timeout)
    except ConnectFailed:
        raise NotifyError(f"could not connect to the webhook at {host}") from None
    except FetchError:
        raise MaybeDelivered(
            f"the webhook at {host} gave no answer within {timeout:g} s: "
            "the message may have been posted, so it is not posted again"
        ) from None
    if not answer.ok:  # it answered: the message was not taken
        detail = " ".join(answer.text.split())[:120]
        raise NotifyError(f"the webhook at {host} answered HTTP {answer.status} {detail}".rstrip())
