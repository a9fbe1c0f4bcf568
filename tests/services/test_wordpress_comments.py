"""Links in approved comments on the round-up posts become suggestions, under the same
rules as X's, each comment read once; a hostile comment changes nothing it should
not; a failing blog leaves the other channels alone. Against the fake WordPress."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers.drafts import Article, make_app, seed
from helpers.fake_wordpress import FakeWordPress, basic_env
from helpers.markup import assert_no_active_markup
from sqlalchemy import select

from roundup_bot.adapters.render import renderer_for
from roundup_bot.core.weeks import week_by_label
from roundup_bot.services.app import App
from roundup_bot.services.drafting import draft_week
from roundup_bot.services.jobs import StopSignal, poll_mentions_job
from roundup_bot.services.publish import approve
from roundup_bot.services.wordpress_comments import read_new_comments
from roundup_bot.storage import Storage
from roundup_bot.storage.schema import suggestions

W48 = week_by_label("2026-W48", "Europe/London", "friday 09:00")
W49 = week_by_label("2026-W49", "Europe/London", "friday 09:00")
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=1)
HOSTILE = (
    '<p>Try <a href="javascript:alert(1)">this</a>, '
    '<a href="https://evil.example/x?a=&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;"'
    ' onclick="alert(3)">that</a> and <a href="data:text/html,boo">more</a>. '
    "<script>alert(4)</script> Also see https://council.example.gov.uk/plan.</p>"
)


@pytest.fixture
def wp() -> Iterator[FakeWordPress]:
    with FakeWordPress() as fake:
        yield fake


def published(
    storage: Storage, tmp_path: Path, wp: FakeWordPress, **suggestion_rules: Any
) -> tuple[App, int]:
    seed(storage, [Article(slug="a", published=W48.end - timedelta(days=1))], NOW)
    app = make_app(
        storage,
        tmp_path,
        wordpress={"enabled": True, "site_url": wp.url},
        suggestions=suggestion_rules,
    )
    app.environ = basic_env()
    draft = draft_week(app, W48, now=NOW).draft
    step = approve(app, draft.id, by="ann", now=NOW).wordpress
    assert step is not None
    assert step.post_id is not None
    return app, step.post_id


def stored(storage: Storage) -> list[tuple[str, str, str, str | None]]:
    with storage.engine.connect() as conn:
        rows = conn.execute(
            select(
                suggestions.c.author_username,
                suggestions.c.canonical_url,
                suggestions.c.status,
                suggestions.c.reason,
            )
            .where(suggestions.c.platform == "wordpress")
            .order_by(suggestions.c.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


def test_links_in_approved_comments_become_suggestions_credited_by_name(
    storage: Storage, tmp_path: Path, wp: FakeWordPress
) -> None:
    app, post = published(storage, tmp_path, wp)
    wp.add_comment(
        post,
        '<p>Great! <a href="https://www.council.example.gov.uk/news?utm_source=x">Ours</a></p>',
        name="Jo Bloggs",
    )
    wp.add_comment(post, f'<p>Me again: <a href="{wp.url}/older-roundup/">last week</a></p>')
    wp.add_comment(post, '<p><a href="https://spam.example/">buy</a></p>', status="hold")
    report = read_new_comments(app, LATER)
    assert (report.ok, report.comments, report.accepted, report.new_candidates) == (True, 2, 1, 1)
    assert stored(storage) == [
        ("Jo Bloggs", "https://www.council.example.gov.uk/news", "accepted", None)
    ]
    # The candidate credits the commenter by name, not as an @handle.
    candidate = next(
        c for c in storage.candidates.list() if c.url == "https://www.council.example.gov.uk/news"
    )
    assert candidate.suggested_by == ("Jo Bloggs",)
    assert [(s.kind, s.name) for s in candidate.sources] == [("wordpress", "Jo Bloggs")]
    again = read_new_comments(app, LATER)
    assert (again.ok, again.comments, again.accepted) == (True, 0, 0)  # each comment read once
    query = wp.requests("GET", "comments")[0].query
    assert (query["post"], query["status"]) == (str(post), "approve")


def test_the_same_rules_limits_and_rejections_as_x(
    storage: Storage, tmp_path: Path, wp: FakeWordPress
) -> None:
    app, post = published(
        storage,
        tmp_path,
        wp,
        blocked_users=["Spam Bot"],
        blocked_domains=["blocked.example"],
        max_per_user_per_week=2,
    )
    wp.add_comment(post, '<a href="https://a.example/1">1</a>', name="spam bot")
    wp.add_comment(post, '<a href="https://blocked.example/2">2</a>', name="Ann")
    links = "".join(f'<a href="https://many.example/{n}">{n}</a>' for n in range(3))
    wp.add_comment(post, links, name="Bob")
    report = read_new_comments(app, LATER)
    assert (report.accepted, report.rejected) == (2, 3)
    assert stored(storage) == [
        (
            "spam bot",
            "https://a.example/1",
            "rejected",
            "@spam bot is in [suggestions] blocked_users",
        ),
        (
            "Ann",
            "https://blocked.example/2",
            "rejected",
            "blocked.example is in [suggestions] blocked_domains (blocked.example)",
        ),
        ("Bob", "https://many.example/0", "accepted", None),
        ("Bob", "https://many.example/1", "accepted", None),
        (
            "Bob",
            "https://many.example/2",
            "rejected",
            "@Bob passed the limit of 2 suggestions a week",
        ),
    ]


def test_a_comment_with_a_hostile_link(storage: Storage, tmp_path: Path, wp: FakeWordPress) -> None:
    app, post = published(storage, tmp_path, wp)
    wp.add_comment(post, HOSTILE, name='<img src=x onerror="alert(5)">Eve')
    report = read_new_comments(app, LATER)
    assert report.ok is True
    urls = sorted(url for _name, url, _status, _reason in stored(storage))
    assert urls == [
        "https://council.example.gov.uk/plan",
        "https://evil.example/x?a=%22%3E%3Cscript%3Ealert(2)%3C/script%3E",
    ]  # javascript: and data: are never suggestions
    names = {name for name, *_rest in stored(storage)}
    assert names == {"Eve"}  # the name is plain text
    # Put into a round-up, nothing of it is live markup.
    seed(storage, [Article(slug="c", published=W49.end - timedelta(days=1))], LATER)
    draft = draft_week(app, W49, now=LATER).draft
    page = renderer_for(app.settings).render(draft, "html")
    assert_no_active_markup(page)
    assert "thanks to Eve for the tip" in page


def test_a_failing_blog_is_reported_and_the_x_channel_still_runs(
    storage: Storage, tmp_path: Path, wp: FakeWordPress, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, post = published(storage, tmp_path, wp)
    wp.add_comment(post, '<a href="https://a.example/">a</a>')
    for name, value in basic_env().items():
        monkeypatch.setenv(name, value)
    wp.fail_next("GET", "comments", "malformed")
    result = poll_mentions_job(app, StopSignal(), clock=lambda: LATER)
    assert result.ok is False
    assert "WordPress comments FAILED" in result.summary
    assert "not JSON" in result.summary
    assert stored(storage) == []  # nothing read, so nothing marked read
    result = poll_mentions_job(app, StopSignal(), clock=lambda: LATER)
    assert result.ok is True
    assert "1 new, 1 suggestions accepted" in result.summary


def test_read_comments_false_switches_it_off(
    storage: Storage, tmp_path: Path, wp: FakeWordPress
) -> None:
    seed(storage, [], NOW)
    app = make_app(
        storage,
        tmp_path,
        wordpress={"enabled": True, "site_url": wp.url, "read_comments": False},
    )
    report = read_new_comments(app, LATER)
    assert report.ok is None
    assert not wp.seen
    assert poll_mentions_job(app, StopSignal(), clock=lambda: LATER).ok is None


def test_a_comment_with_an_oversized_id_is_skipped_and_the_good_one_stored(
    storage: Storage, tmp_path: Path, wp: FakeWordPress
) -> None:
    app, post = published(storage, tmp_path, wp)
    wp.add_comment(post, '<p><a href="https://council.example.gov.uk/good">good</a></p>')
    wp.add_comment(post, '<p><a href="https://odd.example/">odd one</a></p>')
    wp.comments[-1]["id"] = 2**64  # no database column holds it: a malformed comment
    first = read_new_comments(app, LATER)
    assert (first.ok, first.comments, first.accepted) == (True, 1, 1)
    assert [url for _name, url, _s, _r in stored(storage)] == [
        "https://council.example.gov.uk/good"
    ]
    again = read_new_comments(app, LATER + timedelta(hours=1))
    assert (again.ok, again.comments) == (True, 0)  # the channel goes on


def test_new_comments_are_reached_past_two_thousand(
    storage: Storage, tmp_path: Path, wp: FakeWordPress
) -> None:
    app, post = published(storage, tmp_path, wp)
    wp.comments.extend(
        {
            "id": n,
            "post": post,
            "author": 0,
            "author_name": "Reader",
            "date_gmt": "2026-11-28T10:00:00",
            "status": "approved",
            "content": {"rendered": f"<p>thanks {n}</p>"},
        }
        for n in range(1, 2051)
    )
    first = read_new_comments(app, LATER)
    assert first.ok is True
    asked = len(wp.requests("GET", "comments"))
    wp.add_comment(post, '<p><a href="https://council.example.gov.uk/new-idea">new</a></p>')
    second = read_new_comments(app, LATER + timedelta(hours=1))
    assert (second.ok, second.comments, second.accepted) == (True, 1, 1)
    assert [url for _name, url, _s, _r in stored(storage)] == [
        "https://council.example.gov.uk/new-idea"
    ]
    pages = wp.requests("GET", "comments")[asked:]
    assert [(p.query["order"], p.query["page"]) for p in pages] == [("desc", "1")]
    third = read_new_comments(app, LATER + timedelta(hours=2))
    assert (third.ok, third.comments) == (True, 0)


def test_the_weekly_limit_counts_a_registered_commenter_by_user_id_and_others_by_name(
    storage: Storage, tmp_path: Path, wp: FakeWordPress
) -> None:
    """A signed-in commenter changing the display name is still one person (WordPress's
    user id); an anonymous one is counted by name, and approving the comment is the
    gate (README: "Comments as suggestions")."""
    app, post = published(storage, tmp_path, wp, max_per_user_per_week=1)
    wp.add_comment(post, '<a href="https://a.example/1">1</a>', name="Ann", author=5)
    wp.add_comment(post, '<a href="https://a.example/2">2</a>', name="Annie", author=5)
    wp.add_comment(post, '<a href="https://b.example/1">1</a>', name="Bob")
    wp.add_comment(post, '<a href="https://b.example/2">2</a>', name="bob")
    report = read_new_comments(app, LATER)
    assert (report.accepted, report.rejected) == (2, 2)
    assert [(name, status) for name, _url, status, _reason in stored(storage)] == [
        ("Ann", "accepted"),
        ("Annie", "rejected"),
        ("Bob", "accepted"),
        ("bob", "rejected"),
    ]
