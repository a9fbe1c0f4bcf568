"""The draft an editor would send, end to end against real local blogs: fair picks,
no adverts, true addresses (merged, visible in candidates --json), true credits,
blurbs worth keeping, and the editor in charge."""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.server import Reply
from helpers.week import NOW, WEEK, Page, Week, fixture_week, poll, week_app

from roundup_bot.adapters import http as http_module
from roundup_bot.adapters.render import renderer_for
from roundup_bot.core.ranking import score_json
from roundup_bot.core.records import SetBlurb, SetItemDetails
from roundup_bot.entrypoints.cli.feeds import candidate_json
from roundup_bot.services.drafting import draft_week, rank_candidates
from roundup_bot.storage import Storage


@pytest.fixture
def loopback_is_the_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the blogs on 127.0.0.0/8 stand in for public sites; every other private,
    link-local or reserved address is still refused."""
    original = http_module.is_public_address
    loopback = ipaddress.ip_network("127.0.0.0/8")
    monkeypatch.setattr(
        http_module,
        "is_public_address",
        lambda a: ipaddress.ip_address(a.split("%")[0]) in loopback or original(a),
    )


@pytest.fixture
def week() -> Iterator[Week]:
    with fixture_week() as started:
        yield started


def by_title(app_items: object) -> dict[str, object]:
    return {item.title: item for item in app_items}  # type: ignore[attr-defined]


def candidates_json(app: object) -> list[dict[str, object]]:
    found = app.storage.candidates.list(WEEK.start, WEEK.end)  # type: ignore[attr-defined]
    return [
        {**candidate_json(r.candidate), **score_json(r.score)}
        for r in rank_candidates(app, found)  # type: ignore[arg-type]
    ]


@pytest.mark.usefixtures("loopback_is_the_internet")
def test_the_fixture_week_drafts_like_the_round_up(
    storage: Storage, tmp_path: Path, week: Week
) -> None:
    app = week_app(storage, tmp_path, week)
    poll(app)
    outcome = draft_week(app, WEEK, now=NOW)
    draft = outcome.draft
    items = draft.shown_items
    titles = [i.title for i in items]
    assert len(items) == 10

    # Fair picks: at most two from the prolific blog; many blogs.
    blogs = Counter(i.site_name for i in items)
    assert blogs["Comms2point0"] == 2
    assert max(blogs.values()) <= 2
    assert len(blogs) >= 8

    # No adverts.
    assert not any("Sponsor" in (t or "") or "timesheets" in (t or "") for t in titles)

    # True addresses: no tracker link; the copy and the original are one item.
    assert all("127.0.0.2:" not in i.url for i in items if "A short link" not in (i.title or ""))
    bins = next(i for i in items if i.title == "Rebuilding the bins service")
    assert bins.url == week.blogs["Leeds Digital"].url("/posts/bins")
    assert titles.count("Open data in small councils") == 1
    original = next(i for i in items if i.title == "Open data in small councils")
    assert original.url == week.blogs["Ann Example"].url("/posts/original")

    # True credits: the link blog's article is Matt Birchler's, via the link blog.
    rss_post = next(i for i in items if i.title == "Why I still use RSS in 2026")
    assert (rss_post.author, rss_post.site_name, rss_post.via) == (
        "Matt Birchler",
        "Birchtree",
        "Fireball Links",
    )
    katie = next(i for i in items if i.title == "Notes from a digital week")
    assert (katie.author, katie.site_name) == ("Katie Floyd", None)  # said once

    # Blurbs worth keeping.
    helen = next(i for i in items if i.author == "Helen Reynolds")
    assert helen.blurb == (
        "Helen Reynolds: “We opened up social media to every member of staff."
        " Here is what happened next.”"
    )
    assert bins.blurb == "Forty interviews with residents changed how the bins service works."
    assert katie.blurb.startswith("The digital team spent the week testing")
    assert katie.blurb.endswith("confused almost everyone.")
    homes = next(i for i in items if i.title == "Building homes people can afford")
    assert homes.blurb == "How one district council built 200 social homes in three years."
    assert "Birchtree" not in rss_post.blurb
    assert rss_post.blurb == "Matt Birchler on why feeds still matter for following local news."
    for item in items:
        assert item.blurb, item.title
        assert "appeared first on" not in item.blurb
        assert "[…]" not in item.blurb
        assert len(item.blurb) <= 330

    # The private redirect was refused: the item keeps the link the feed gave.
    short = next(i for i in items if i.title == "A short link that goes nowhere good")
    assert short.url == week.tracker.url("/go/metadata")
    assert outcome.details_failed == 1

    # It reads like the round-up: credits by name, many blogs, the sign-off.
    text = renderer_for(app.settings).render(draft, "text")
    assert "Matt Birchler, Birchtree (via Fireball Links)" in text
    assert "Katie Floyd, Katie Floyd" not in text
    assert text.rstrip().endswith("tweet us @welovelocalgov or share it in the comments below.")
    html = renderer_for(app.settings).render(draft, "html")
    assert "(via <cite>Fireball Links</cite>)" in html


@pytest.mark.usefixtures("loopback_is_the_internet")
def test_candidates_json_shows_the_cap_the_adverts_and_the_merges(
    storage: Storage, tmp_path: Path, week: Week
) -> None:
    app = week_app(storage, tmp_path, week)
    poll(app)
    before = len(app.storage.candidates.list(WEEK.start, WEEK.end))
    draft_week(app, WEEK, now=NOW)
    records = candidates_json(app)
    assert len(records) == before - 1  # the syndicated copy merged into its original
    comms = [r for r in records if str(r["title"]).startswith("Comms post")]
    held = [r for r in comms if any(p["name"] == "cap" for p in r["why"])]  # type: ignore[union-attr]
    assert len(held) == 4
    assert "Comms2point0 already has 2 items" in str(held[0]["why"])
    sponsor = next(r for r in records if str(r["title"]).startswith("[Sponsor]"))
    assert sponsor["excluded"] == (
        'sponsored: title marker "[Sponsor]" ([ranking] exclude_title_markers)'
    )
    partner = next(r for r in records if r["title"] == "Making timesheets painless")
    assert partner["excluded"] == 'sponsored: category "Sponsored" ([ranking] exclude_categories)'
    assert partner["categories"] == ["Sponsored"]
    bins = next(r for r in records if r["title"] == "Rebuilding the bins service")
    assert bins["merged"] == [{"url": week.tracker.url("/link/1/bins"), "reason": "redirect"}]
    original = next(r for r in records if r["title"] == "Open data in small councils")
    assert original["merged"] == [
        {"url": week.blogs["Medium Copies"].url("/posts/copy"), "reason": "canonical"}
    ]
    assert {s["name"] for s in original["sources"]} == {"Ann Example", "Medium Copies"}  # type: ignore[index, union-attr]
    # Best first, as the draft picks them.
    scores = [r["score"] for r in records if r["excluded"] is None]
    assert scores == sorted(scores, reverse=True)

    # Polling the tracker's feed again finds the same article, not a new candidate.
    poll(app)
    assert len(app.storage.candidates.list(WEEK.start, WEEK.end)) == before - 1


@pytest.mark.usefixtures("loopback_is_the_internet")
def test_a_merge_keeps_the_editors_changes_and_the_editor_stays_in_charge(
    storage: Storage, tmp_path: Path, week: Week
) -> None:
    app = week_app(storage, tmp_path, week)
    poll(app)
    # A first draft without looking pages up: the tracker's link is an item of its own.
    first = draft_week(app, WEEK, now=NOW, fetch_details=False).draft
    tracked = next(i for i in first.shown_items if "/link/1/bins" in i.url)
    copies = [i for i in first.shown_items if i.title == "Open data in small councils"]
    assert len(copies) == 2  # the original and its syndicated copy, not yet known as one
    copy = next(i for i in copies if "/posts/copy" in i.url)
    edited = app.storage.drafts.apply_edits(
        first.id,
        [
            SetBlurb(tracked.id, "Our editor's own words about the bins."),
            SetItemDetails(copy.id, title="Open data, small councils", author="Ann Example"),
        ],
        expected_version=first.version,
        by="Ann Editor",
        now=NOW,
    )
    refreshed = draft_week(app, WEEK, now=NOW).draft
    assert refreshed.version > edited.version
    [bins] = [i for i in refreshed.items if i.title == "Rebuilding the bins service"]
    assert bins.url == week.blogs["Leeds Digital"].url("/posts/bins")
    assert (bins.blurb, bins.blurb_edited) == ("Our editor's own words about the bins.", True)
    # The copy's item and the original's became one, with the editor's title.
    [open_data] = [i for i in refreshed.items if "open data" in (i.title or "").lower()]
    assert open_data.url == week.blogs["Ann Example"].url("/posts/original")
    assert (open_data.title, open_data.details_edited) == ("Open data, small councils", True)

    # Cached: a refresh reads no page again...
    leeds = week.blogs["Leeds Digital"].server
    seen = len(leeds.requests_to("/posts/bins"))
    again = draft_week(app, WEEK, now=NOW)
    assert again.details_fetched == 0
    assert len(leeds.requests_to("/posts/bins")) == seen

    # ...until the editor asks: then pages are read again, automatic blurbs follow
    # what the pages say now, and the editor's blurb stays.
    housing = week.blogs["Housing Matters"]
    housing.page(
        "homes",
        Page(
            "Building homes people can afford",
            author="Jo Bloggs",
            description="Two hundred social homes in three years, and how it was paid for.",
        ),
    )
    fresh = draft_week(app, WEEK, now=NOW, refresh_details=True)
    assert fresh.details_fetched >= 10
    assert len(leeds.requests_to("/posts/bins")) == seen + 1
    homes = next(
        i for i in fresh.draft.shown_items if i.title == "Building homes people can afford"
    )
    assert homes.blurb == "Two hundred social homes in three years, and how it was paid for."
    [bins] = [i for i in fresh.draft.items if i.title == "Rebuilding the bins service"]
    assert bins.blurb == "Our editor's own words about the bins."


@pytest.mark.usefixtures("loopback_is_the_internet")
def test_the_blurb_template_sets_the_round_ups_voice(
    storage: Storage, tmp_path: Path, week: Week
) -> None:
    own = tmp_path / "my-templates"
    own.mkdir()
    (own / "blurb.txt.j2").write_text(
        "{% if first_person %}As {{ author }} puts it, “{{ text }}”{% else %}{{ text }}{% endif %}"
    )
    app = week_app(storage, tmp_path, week, templates_dir=str(own))
    poll(app)
    items = draft_week(app, WEEK, now=NOW).draft.shown_items
    helen = next(i for i in items if i.author == "Helen Reynolds")
    assert helen.blurb == (
        "As Helen Reynolds puts it, “We opened up social media to every member of staff."
        " Here is what happened next.”"
    )


@pytest.mark.usefixtures("loopback_is_the_internet")
def test_a_redirect_to_a_private_address_is_refused_and_the_link_kept(
    storage: Storage, tmp_path: Path, week: Week
) -> None:
    app = week_app(storage, tmp_path, week)
    poll(app)
    draft_week(app, WEEK, now=NOW)
    link = week.tracker.url("/go/metadata")
    cached = app.storage.link_details.get_many([link])[link]
    assert not cached.ok
    assert "non-public address 169.254.169.254" in (cached.error or "")
    [kept] = [
        c for c in app.storage.candidates.list() if c.title == "A short link that goes nowhere good"
    ]
    assert kept.url == link
    assert kept.aliases == ()


def test_with_link_details_off_nothing_is_fetched_but_the_rules_hold(
    storage: Storage, tmp_path: Path, week: Week
) -> None:
    app = week_app(storage, tmp_path, week, fetch_link_details=False)
    poll(app)
    outcome = draft_week(app, WEEK, now=NOW)
    assert outcome.details_fetched == 0
    assert week.blogs["Leeds Digital"].server.requests_to("/posts/bins") == []
    items = outcome.draft.shown_items
    assert Counter(i.site_name for i in items)["Comms2point0"] == 2
    assert not any((i.title or "").startswith("[Sponsor]") for i in items)
    for item in items:
        assert "appeared first on" not in item.blurb
        assert item.blurb != "Read more"


@pytest.mark.usefixtures("loopback_is_the_internet")
def test_every_answer_slowed_down_still_drafts_promptly(
    storage: Storage, tmp_path: Path, week: Week
) -> None:
    """Each page answer and redirect waits 100 ms: the pages are read concurrently
    (the figure is in bench/README.md; here only that it completes and reads each once)."""
    for blog in [*week.blogs.values()]:
        for path, route in list(blog.server.routes.items()):
            if isinstance(route, Reply) and path != "/feed.xml":
                route.delay = 0.1
    for path, route in list(week.tracker.routes.items()):
        if isinstance(route, Reply):
            route.delay = 0.1
    app = week_app(storage, tmp_path, week)
    poll(app)
    outcome = draft_week(app, WEEK, now=NOW)
    assert len(outcome.draft.shown_items) == 10
    assert all(len(b.server.requests_to("/posts/post-0")) <= 1 for b in week.blogs.values())
