"""Posting one message to a Teams or Slack incoming webhook (httpx).

Both accept ``{"text": ...}``. The webhook's URL is a secret (whoever has it can
post to the channel), so errors name only its host. The post has a deadline and
reads at most a few KiB of the answer.
"""

from __future__ import annotations

import httpx

from roundup_bot.core.errors import NotifyError

#: Webhooks answer "1" or "ok"; more than this is not read.
ANSWER_LIMIT = 16 * 1024


def post_message(url: str, text: str, *, timeout: float) -> None:
    """Raises NotifyError naming the webhook's host when the post fails."""
    host = httpx.URL(url).host or "the webhook"
    try:
        with (
            httpx.Client(timeout=timeout, follow_redirects=False) as client,
            client.stream("POST", url, json={"text": text}) as answer,
        ):
            seen = 0
            said = b""
            for chunk in answer.iter_bytes():
                seen += len(chunk)
                said = (said + chunk)[:200]
                if seen > ANSWER_LIMIT:
                    break
    except httpx.TimeoutException:
        raise NotifyError(f"the webhook at {host} did not answer within {timeout:g} s") from None
    except httpx.HTTPError as exc:
        problem = str(exc).replace(url, host) or type(exc).__name__
        raise NotifyError(f"could not reach the webhook at {host}: {problem}") from None
    if not answer.is_success:
        detail = " ".join(said.decode("utf-8", "replace").split())[:120]
        raise NotifyError(f"the webhook at {host} answered HTTP {answer.status_code} {detail}")
