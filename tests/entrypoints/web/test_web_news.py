"""What changed since you last looked, on the draft page: the parts another editor
changed are marked (until your next visit), and the candidates and suggestions
that arrived after the draft was made are listed, each one click from joining it."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from helpers.feeds import record_parsed
from helpers.web import (
    EDITOR,
    FAST_HASHER,
    HOSTILE,
    NOW,
    Site,
    csrf_of,
    draft,
    entry,
    post,
    sign_in,
)
from markupsafe import escape
from sqlalchemy import insert, text

from roundup_bot.core.records import ParsedFeed
from roundup_bot.entrypoints.web.accounts import Accounts
from roundup_bot.entrypoints.web.service import RankingCache
from roundup_bot.storage.schema import suggestions

BOB = "Bob Editor"


def at(site: Site, moment: datetime) -> None:
    site.flask.extensions["roundup_bot"].clock = lambda: moment


def bob(site: Site) -> FlaskClient:
    Accounts(site.app.storage.editors, FAST_HASHER).add(BOB, "bobs long password", NOW)
    client = site.client()
    sign_in(client, BOB, "bobs long password")
    return client


def marks(html: str) -> list[str]:
    return [
        re.sub(r"\s+", " ", m).strip()
        for m in re.findall(r'<span class="changed-mark">(.*?)</span>', html, re.S)
    ]


def page(client: FlaskClient) -> str:
    response = client.get("/drafts/1")
    assert response.status_code == 200
    return str(response.get_data(as_text=True))


def test_another_editors_change_is_marked_until_your_next_visit(
    site: Site, client: FlaskClient
) -> None:
    first = draft(site).shown_items[0]
    at(site, NOW)
    assert "Changed by" not in page(client)  # Ann's first look: nothing to mark
    # Bob rewrites the first blurb an hour later; his own page marks nothing.
    at(site, NOW + timedelta(hours=1))
    other = bob(site)
    post(other, site, **{f"blurb-{first.id}": "Bob's better words."})
    assert "Changed by" not in page(other)
    # Ann comes back in the afternoon: the item is marked, and the top says so.
    at(site, NOW + timedelta(hours=4))
    html = page(client)
    assert marks(html) == [
        "<strong>Changed by Bob Editor</strong> 11:00 on Wed 25 Nov: rewrote the blurb."
    ]
    assert re.search(rf'<li class="item changed" id="item-{first.id}">', html)
    assert "Changed by others since 10:00 today" in html
    assert "Bob Editor changed 1 part of this draft since you last looked." in html
    assert (
        f'<a href="#item-{first.id}">Potholes and people</a>: Bob Editor rewrote the blurb' in html
    )
    # It stays while she works (every button reloads the page)...
    at(site, NOW + timedelta(hours=4, minutes=10))
    post(client, site, action="down-" + str(draft(site).shown_items[1].id))
    assert len(marks(page(client))) == 1
    # ...and is gone on her next visit.
    at(site, NOW + timedelta(hours=6))
    assert "Changed by" not in page(client)


def test_the_intro_and_a_removed_item_are_marked_too(site: Site, client: FlaskClient) -> None:
    at(site, NOW)
    page(client)
    at(site, NOW + timedelta(hours=1))
    other = bob(site)
    gone = draft(site).shown_items[2]
    post(other, site, intro="Bob's intro.", action=f"remove-{gone.id}")
    at(site, NOW + timedelta(hours=3))
    html = page(client)
    assert "Changed by others since 10:00 today" in html
    assert "Bob Editor changed 2 parts" in html
    assert '<a href="#intro">The intro</a>: Bob Editor rewrote it' in html
    assert f'<a href="#removed-{gone.id}">' in html
    assert f'<li id="removed-{gone.id}">' in html
    assert len(marks(html)) == 2


def arrive(site: Site, moment: datetime) -> int:
    """A new article polled at ``moment`` from the other feed; its candidate id."""
    feeds = site.app.storage.feeds
    feed = next(f for f in feeds.for_update(moment, mode="all") if "other" in f.url)
    new = entry(7, "Fresh from the council", site="other.example.org", hours_ago=-40)
    record_parsed(
        site.app.storage,
        feed,
        parsed=ParsedFeed(url=feed.url, title="Other Blog", site_url=None, entries=(new,)),
        now=moment,
    )
    return next(c.id for c in site.app.storage.candidates.list() if c.title == new.title)


def test_what_arrived_after_the_draft_was_made_is_one_click_from_joining_it(
    site: Site, client: FlaskClient
) -> None:
    site.flask.extensions["roundup_bot"].rankings = RankingCache(ttl_s=0.0)
    at(site, NOW)
    html = page(client)
    assert 'id="new-candidates"' not in html
    fresh = arrive(site, NOW + timedelta(hours=1))
    # A suggestion of a candidate that was there already counts too.
    bins = next(c for c in site.app.storage.candidates.list() if c.title == "Bins, again")
    with site.app.storage.engine.begin() as conn:
        conn.execute(
            insert(suggestions).values(
                platform="x",
                post_id="77",
                post_url="https://x.com/ann/status/77",
                author_username="ann",
                link=bins.link,
                canonical_url=bins.url,
                candidate_id=bins.id,
                status="accepted",
                created_at=NOW + timedelta(hours=2),
            )
        )
    at(site, NOW + timedelta(hours=5))
    html = page(client)
    section = html[html.index('id="new-candidates"') :]
    section = section[: section.index("</section>")]
    assert '<h2 id="new-candidates-heading">2 new since 10:00 today</h2>' in section
    titles = re.findall(r'rel="noopener noreferrer">([^<]+)</a>', section)
    assert titles == ["Bins, again", "Fresh from the council"]  # the latest first
    assert "Suggested again, suggested by @ann, 12:00 on Wed 25 Nov" in section
    assert "New, 11:00 on Wed 25 Nov" in section
    assert f'<button type="submit" name="action" value="add-{fresh}"' in section
    # One click: the form's own Add, with the CSRF token like every other button.
    added: Any = post(client, site, action=f"add-{fresh}")
    assert added.status_code == 302
    assert draft(site).shown_items[-1].candidate_id == fresh
    after = page(client)
    section = after[after.index('id="new-candidates"') :]
    assert "1 new since 10:00 today" in section
    assert "Fresh from the council" not in section[: section.index("</section>")]


def test_arrivals_are_not_listed_on_an_approved_round_up(site: Site, client: FlaskClient) -> None:
    site.flask.extensions["roundup_bot"].rankings = RankingCache(ttl_s=0.0)
    arrive(site, NOW + timedelta(hours=1))
    at(site, NOW + timedelta(hours=2))
    assert 'id="new-candidates"' in page(client)
    html = client.get("/drafts/1/preview").get_data(as_text=True)
    client.post(
        "/drafts/1/approve",
        data={"csrf_token": csrf_of(html), "version": draft(site).version, "confirm": "publish"},
    )
    assert draft(site).status == "published"
    assert 'id="new-candidates"' not in page(client)
    assert EDITOR


def test_a_hostile_title_in_the_news_is_text(site: Site, client: FlaskClient) -> None:
    hostile = next(i for i in draft(site).shown_items if i.title == HOSTILE)
    at(site, NOW)
    page(client)
    at(site, NOW + timedelta(hours=1))
    post(bob(site), site, **{f"blurb-{hostile.id}": "Bob's words."})
    at(site, NOW + timedelta(hours=3))
    html = page(client)
    assert (
        f'<a href="#item-{hostile.id}">{escape(HOSTILE)}</a>: Bob Editor rewrote the blurb' in html
    )
    assert HOSTILE not in html


def test_the_page_shows_without_the_news_when_it_cannot_be_read(
    site: Site, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    with site.app.storage.engine.begin() as conn:  # a database that lost the tables
        conn.execute(text("DROP TABLE draft_views"))
        conn.execute(text("DROP TABLE draft_changes"))
    response = client.get("/drafts/1")
    assert response.status_code == 200
    assert "Potholes and people" in response.get_data(as_text=True)
    assert "what is new could not be read" in caplog.text
