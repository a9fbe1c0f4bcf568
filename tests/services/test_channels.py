"""The channel seam: any SuggestionChannel is read the same way, one failing never
stops the others, and each keeps its own place (on SQLite and PostgreSQL).

The channels here are fakes through the Protocol; each real adapter is tested
against its own local fake server in tests/adapters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from roundup_bot.config import Settings, settings_from_mapping
from roundup_bot.core.channels import ChannelPage, ReadPlace, ReplyTarget
from roundup_bot.core.errors import ChannelLimited, ChannelUnavailable, ConfigError
from roundup_bot.core.suggestion_rules import AbuseRules, SuggestedLink
from roundup_bot.services.channels import OpenChannel
from roundup_bot.services.jobs import runs_result
from roundup_bot.services.mentions import (
    RESUME_TOKEN,
    SINCE_ID,
    mentions_from_settings,
    read_channel,
)
from roundup_bot.storage import Storage
from roundup_bot.storage.schema import suggestions

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def link(post: str, handle: str, url: str, *, author_id: str | None = None) -> SuggestedLink:
    return SuggestedLink(
        post_id=post,
        post_url=f"https://social.example/{post}",
        author_id=author_id or f"id-{handle}",
        author_username=handle,
        text="have a look",
        posted_at=NOW - timedelta(hours=1),
        link=url,
        canonical_url=url,
        link_title=None,
        link_description=None,
    )


@dataclass
class FakeChannel:
    """Pages by cursor ("" is the first page); an Exception in place of a page is raised."""

    name: str
    pages: dict[str, ChannelPage | Exception]
    max_posts_per_month: int = 0
    asked: list[ReadPlace] = field(default_factory=list)
    replies: list[tuple[ReplyTarget, str]] = field(default_factory=list)
    closed: bool = False

    @property
    def platform(self) -> str:
        return self.name

    def start(self, state: Mapping[str, str | None]) -> dict[str, str | None]:
        return {"account": f"@bot@{self.name}.example"}

    def read_page(self, place: ReadPlace, limit: int) -> ChannelPage:
        self.asked.append(place)
        page = self.pages[place.cursor or ""]
        if isinstance(page, Exception):
            raise page
        return page

    def reply(self, target: ReplyTarget, text: str) -> str:
        self.replies.append((target, text))
        return "reply-1"

    def saved_state(self) -> dict[str, str | None]:
        return {}

    def close(self) -> None:
        self.closed = True


def page(*found: SuggestedLink, newest: str, cursor: str | None = None) -> ChannelPage:
    return ChannelPage(
        suggestions=found,
        mentions=len({s.post_id for s in found}),
        posts=len({s.post_id for s in found}),
        newest_id=newest,
        next_cursor=cursor,
    )


def run(storage: Storage, channel: FakeChannel, rules: AbuseRules | None = None) -> object:
    return read_channel(storage, channel, rules or AbuseRules.build(), clock=lambda: NOW)


def test_a_sweep_stopped_by_a_fault_resumes_from_the_stored_page(storage: Storage) -> None:
    first = page(link("m2", "ann@council.social", "https://a.example/1"), newest="m2", cursor="c2")
    second = page(link("m1", "bob@town.social", "https://b.example/2"), newest="m1")
    channel = FakeChannel("mastodon", {"": first, "c2": ChannelUnavailable("HTTP 503")})
    report = run(storage, channel)
    assert report.outcome == "failed"  # type: ignore[attr-defined]
    assert report.accepted == 1  # type: ignore[attr-defined]
    state = storage.state.all("mastodon")
    assert state[RESUME_TOKEN] == "c2"
    assert state.get(SINCE_ID) is None  # the floor moves only when the sweep ends
    assert state["account"] == "@bot@mastodon.example"

    channel = FakeChannel("mastodon", {"": first, "c2": second})
    report = run(storage, channel)
    assert report.outcome == "completed"  # type: ignore[attr-defined]
    assert [p.cursor for p in channel.asked] == ["c2"]  # not the first page again
    assert storage.state.get("mastodon", SINCE_ID) == "m2"
    assert storage.state.get("mastodon", RESUME_TOKEN) is None

    channel = FakeChannel("mastodon", {"": page(newest="m2")})
    run(storage, channel)
    assert channel.asked == [ReadPlace(floor_id="m2", floor_time=None, cursor=None)]
    with storage.engine.connect() as conn:
        rows = conn.execute(select(suggestions.c.platform, suggestions.c.author_username))
        assert sorted(rows) == [
            ("mastodon", "ann@council.social"),
            ("mastodon", "bob@town.social"),
        ]


def test_a_limit_keeps_the_place_and_says_when_to_resume(storage: Storage) -> None:
    when = NOW + timedelta(minutes=5)
    channel = FakeChannel("bluesky", {"": ChannelLimited("rate limited", 429, when)})
    report = run(storage, channel)
    assert report.outcome == "rate_limited"  # type: ignore[attr-defined]
    assert report.resume_at == when  # type: ignore[attr-defined]


def test_the_rules_apply_per_platform(storage: Storage) -> None:
    rules = AbuseRules.build(
        blocked_users=["bluesky:@spam.bsky.social", "@nasty@evil.social"],
        max_per_user_per_week=1,
    )
    x_like = FakeChannel(
        "x", {"": page(link("1", "ann", "https://a.example/1", author_id="7"), newest="1")}
    )
    run(storage, x_like, rules)
    found = (
        link("b3", "ann.bsky.social", "https://a.example/2", author_id="7"),
        link("b2", "spam.bsky.social", "https://a.example/3"),
        link("b1", "nasty@evil.social", "https://a.example/4"),
    )
    report = run(storage, FakeChannel("bluesky", {"": page(*found, newest="b3")}), rules)
    # The same id on another platform is another person: the weekly limit counts per platform.
    assert report.accepted == 1  # type: ignore[attr-defined]
    assert report.rejected == 2  # type: ignore[attr-defined]
    with storage.engine.connect() as conn:
        reasons = dict(
            conn.execute(
                select(suggestions.c.author_username, suggestions.c.reason).where(
                    suggestions.c.platform == "bluesky"
                )
            ).all()
        )
    assert reasons["ann.bsky.social"] is None
    assert "blocked_users" in reasons["spam.bsky.social"]
    assert "blocked_users" in reasons["nasty@evil.social"]


MASTODON_ON = {"enabled": True, "api_base_url": "https://council.social"}


def settings_with(storage_url: str, **sections: dict[str, object]) -> Settings:
    return settings_from_mapping({"database": {"url": storage_url}, **sections}, "<test>", {})


def test_one_failing_channel_never_stops_the_others(storage: Storage, db_url: str) -> None:
    settings = settings_with(db_url, twitter={"enabled": True}, mastodon=MASTODON_ON)
    good = FakeChannel(
        "mastodon", {"": page(link("m1", "ann@c.social", "https://a/1"), newest="m1")}
    )
    opened: list[str] = []

    def opener(name: str, *_args: object) -> OpenChannel:
        opened.append(name)
        if name == "x":
            return OpenChannel(FakeChannel("x", {"": ChannelUnavailable("X is down")}), 7, None)
        return OpenChannel(good, 7, None)

    reports = mentions_from_settings(settings, storage, clock=lambda: NOW, opener=opener)
    assert opened == ["x", "mastodon"]
    assert [(r.channel, r.outcome) for r in reports] == [("x", "failed"), ("mastodon", "completed")]
    assert reports[1].accepted == 1
    assert good.closed
    result = runs_result(reports)
    assert result.ok is False
    assert result.summary.startswith("x: failed: X is down")
    assert "mastodon: read 1 mentions" in result.summary

    only = mentions_from_settings(
        settings, storage, only="mastodon", clock=lambda: NOW, opener=opener
    )
    assert [r.channel for r in only] == ["mastodon"]


def test_a_channel_that_cannot_start_is_reported_and_the_others_are_read(
    storage: Storage, db_url: str
) -> None:
    settings = settings_with(db_url, twitter={"enabled": True}, mastodon=MASTODON_ON)

    def opener(name: str, *_args: object) -> OpenChannel:
        if name == "x":
            raise ConfigError("ROUNDUP_TWITTER_BEARER_TOKEN", None, "not set")
        return OpenChannel(FakeChannel("mastodon", {"": page(newest="m1")}), 7, None)

    reports = mentions_from_settings(settings, storage, clock=lambda: NOW, opener=opener)
    assert [(r.channel, r.outcome) for r in reports] == [("x", "failed"), ("mastodon", "completed")]
    assert storage.state.get("x", "last_error") == "ROUNDUP_TWITTER_BEARER_TOKEN: not set"


def test_no_channel_on_or_an_unknown_one_is_a_config_error(db_url: str, storage: Storage) -> None:
    def never(name: str, *_args: object) -> OpenChannel:
        raise AssertionError(f"{name} was opened")

    with pytest.raises(ConfigError, match="no suggestion channel is on"):
        mentions_from_settings(settings_with(db_url), storage, opener=never, clock=lambda: NOW)
    with pytest.raises(ConfigError, match=r"mastodon\.enabled"):
        mentions_from_settings(
            settings_with(db_url, twitter={"enabled": True}),
            storage,
            only="mastodon",
            opener=never,
            clock=lambda: NOW,
        )


def test_thanks_go_through_the_channel_with_what_the_platform_needs(storage: Storage) -> None:
    uri = "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3lmicbemya22g"
    ref = f'{{"cid":"bafy","root_cid":"bafy","root_uri":"{uri}"}}'
    found = replace(link(uri, "ann.bsky.social", "https://a/1"), reply_ref=ref)
    channel = FakeChannel("bluesky", {"": page(found, newest="n1")})
    report = read_channel(
        storage,
        channel,
        AbuseRules.build(),
        clock=lambda: NOW,
        thanks_text=lambda *_a: "Thanks!",
    )
    assert report.thanked == 1
    [(target, text)] = channel.replies
    assert text == "Thanks!"
    assert target.post_id == uri  # a 70-character at:// URI is a post id
    assert target.reply_ref == ref
    assert target.handle == "ann.bsky.social"
    again = read_channel(
        storage,
        FakeChannel("bluesky", {"": page(newest="n1")}),
        AbuseRules.build(),
        clock=lambda: NOW,
        thanks_text=lambda *_a: "Thanks!",
    )
    assert again.thanked == 0  # once per post
