"""A link card's words, chosen freely by the poster, are cut before they are cleaned.

The review's post: a Bluesky external embed (or a Mastodon card) whose description
is ``<div>`` nested 50,000 deep. Cleaning it whole costs the square of its depth;
the bound is asserted on the work itself, the size of every text handed to the
HTML cleaner (nh3), never on wall-clock time.
"""

from __future__ import annotations

from typing import Any

import nh3
import pytest

from roundup_bot.core import bluesky_posts, mastodon_posts
from roundup_bot.core.curation import MARKUP_PER_CHAR
from roundup_bot.core.suggestion_rules import DESCRIPTION_CHARS, TEXT_CHARS, TITLE_CHARS

DEEP = "<div>" * 50_000 + "x"


@pytest.fixture
def cleaned(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The length of every text handed to nh3 (plain_text puts a space before each
    block tag first, so a text reaches nh3 at most twice as long as it was cut)."""
    sizes: list[int] = []
    real = nh3.clean

    def spy(html: str, *args: Any, **kwargs: Any) -> str:
        sizes.append(len(html))
        return real(html, *args, **kwargs)

    monkeypatch.setattr(nh3, "clean", spy)
    return sizes


def test_a_bluesky_card_nested_50000_deep_is_cleaned_only_at_its_beginning(
    cleaned: list[int],
) -> None:
    page = {
        "notifications": [
            {
                "uri": "at://did:plc:evil/app.bsky.feed.post/1",
                "cid": "bafy",
                "reason": "mention",
                "indexedAt": "2026-11-27T10:00:00Z",
                "author": {"did": "did:plc:evil", "handle": "evil.bsky.social"},
                "record": {
                    "text": "look",
                    "createdAt": "2026-11-27T10:00:00Z",
                    "embed": {
                        "$type": "app.bsky.embed.external",
                        "external": {
                            "uri": "https://example.org/",
                            "title": DEEP,
                            "description": "Words " + DEEP,
                        },
                    },
                },
            }
        ]
    }
    reading = bluesky_posts.parse_notifications(page, own_did="did:plc:bot", floor=None)
    [found] = reading.suggestions
    assert found.link == "https://example.org/"
    assert found.link_description == "Words"
    assert cleaned
    assert max(cleaned) <= 2 * max(TITLE_CHARS, DESCRIPTION_CHARS) * MARKUP_PER_CHAR


def test_a_mastodon_card_and_status_nested_50000_deep_are_cleaned_only_at_their_beginning(
    cleaned: list[int],
) -> None:
    status = {
        "id": "9",
        "url": "https://evil.example/@evil/9",
        "created_at": "2026-11-27T10:00:00Z",
        "visibility": "public",
        "account": {"id": "5", "acct": "evil"},
        "content": "<p>look " + DEEP + "</p>",
        "card": {"url": "https://example.org/", "title": DEEP, "description": "Words " + DEEP},
    }
    note = {"id": "1", "type": "mention", "created_at": "2026-11-27T10:00:00Z", "status": status}
    reading = mastodon_posts.parse_notifications([note], local_domain="council.social")
    [found] = reading.suggestions
    assert found.link == "https://example.org/"
    assert found.link_description == "Words"
    assert cleaned
    assert max(cleaned) <= 2 * max(TITLE_CHARS, DESCRIPTION_CHARS, TEXT_CHARS) * MARKUP_PER_CHAR
