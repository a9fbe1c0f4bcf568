"""The week's draft page: show, edit, move, remove, add, conflicts, preview, approve, reopen."""

from __future__ import annotations

import logging
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import request
from flask.testing import FlaskClient
from helpers.web import (
    EDITOR,
    FAST_HASHER,
    NOW,
    PASSWORD,
    WEEK,
    Site,
    csrf_of,
    draft,
    form_of,
    make_draft,
    make_site,
    post,
    serving,
    sign_in,
)
from markupsafe import escape

from roundup_bot.adapters.render import renderer_for
from roundup_bot.core.draft_edits import MAX_BLURB
from roundup_bot.core.records import SetBlurb
from roundup_bot.entrypoints.web.accounts import Accounts
from roundup_bot.services.publish import approve as cli_approve


def test_home_leads_to_the_current_weeks_draft(client: FlaskClient) -> None:
    assert client.get("/").headers["Location"] == "/drafts/1"


def test_home_leads_to_the_week_just_ended_until_it_is_published(site: Site) -> None:
    from datetime import timedelta

    # Friday 27 Nov, 10:00: week 2026-W48 ended at 09:00.
    site.flask.extensions["roundup_bot"].clock = lambda: NOW + timedelta(days=2)
    client = site.client()
    sign_in(client)
    assert client.get("/").headers["Location"] == "/drafts/1"
    nxt = site.app.storage.drafts.find("welovelocalgov", "2026-W49")
    assert nxt is None
    approve(client, draft(site).version)
    offer = client.get("/").get_data(as_text=True)
    assert "There is no draft yet for week 2026-W49" in offer
    assert f"Last week's round-up ({WEEK}) was published" in offer


def test_home_offers_to_make_the_draft_and_making_it_works(tmp_path: Path) -> None:
    site = make_site(tmp_path, with_draft=False)
    try:
        client = site.client()
        sign_in(client)
        page = client.get("/")
        html = page.get_data(as_text=True)
        assert page.status_code == 200
        assert f"There is no draft yet for week {WEEK}" in html
        assert f"Make the draft for {WEEK}" in html
        assert "Make the draft for 2026-W47" in html  # the week before has none either
        made = client.post("/drafts/new", data={"week": WEEK, "csrf_token": csrf_of(html)})
        assert made.status_code == 302
        new = site.app.storage.drafts.find("welovelocalgov", WEEK)
        assert new is not None
        assert len(new.shown_items) == 3
        assert made.headers["Location"] == f"/drafts/{new.id}"
        assert client.get("/").headers["Location"] == f"/drafts/{new.id}"
    finally:
        site.close()


def test_each_item_shows_its_linked_title_author_blog_suggesters_and_score(
    site: Site, client: FlaskClient
) -> None:
    html = client.get("/drafts/1").get_data(as_text=True)
    first = draft(site).shown_items[0]
    assert f'<a href="{first.url}" rel="noopener noreferrer">{first.title}</a>' in html
    assert f"by {first.author} · Council Blog" in html
    assert 'Score <span class="score">' in html
    assert "carried by 1 feed (Council Blog)" in html
    assert "new this week: " in html
    assert "before the deadline" in html
    assert html.count(">Blurb<") == 3
    assert html.count(">Move up<") == 3
    assert html.count(">Move down<") == 3


def test_suggesters_are_credited(site: Site, client: FlaskClient) -> None:
    from datetime import timedelta

    from roundup_bot.storage.schema import suggestions

    item = draft(site).shown_items[0]
    with site.app.storage.engine.begin() as conn:
        conn.execute(
            suggestions.insert().values(
                platform="x",
                post_id="99",
                post_url="https://x.com/jo/status/99",
                author_username="jo_council",
                posted_at=NOW - timedelta(hours=5),
                link=item.url,
                canonical_url=item.url,
                candidate_id=item.candidate_id,
                status="accepted",
                created_at=NOW,
            )
        )
    assert "Suggested by @jo_council" in client.get("/drafts/1").get_data(as_text=True)


def test_save_rewrites_a_blurb_and_the_intro_and_outro(site: Site, client: FlaskClient) -> None:
    item = draft(site).shown_items[1]
    response = post(
        client,
        site,
        action="save",
        intro="A new intro.",
        outro="A new outro.",
        **{f"blurb-{item.id}": "An editor's own words."},
    )
    assert response.status_code == 302
    saved = draft(site)
    assert saved.intro == "A new intro."
    assert saved.intro_edited
    assert saved.outro == "A new outro."
    assert saved.outro_edited
    assert saved.shown_items[1].blurb == "An editor's own words."
    assert saved.shown_items[1].blurb_edited
    assert not saved.shown_items[0].blurb_edited  # untouched: not marked
    assert saved.updated_by == EDITOR
    assert "Saved." in client.get(response.headers["Location"]).get_data(as_text=True)


def test_move_buttons_reorder_and_keep_what_was_typed(site: Site, client: FlaskClient) -> None:
    before = [i.id for i in draft(site).shown_items]
    response = post(
        client,
        site,
        action=f"down-{before[0]}",
        **{f"blurb-{before[0]}": "Typed before moving."},
    )
    assert response.headers["Location"] == f"/drafts/1?focus=down-{before[0]}#item-{before[0]}"
    after = draft(site)
    assert [i.id for i in after.shown_items] == [before[1], before[0], before[2]]
    assert after.shown_items[1].blurb == "Typed before moving."
    post(client, site, action=f"up-{before[2]}")
    assert [i.id for i in draft(site).shown_items] == [before[1], before[2], before[0]]


def test_remove_and_put_back(site: Site, client: FlaskClient) -> None:
    first = draft(site).shown_items[0]
    post(client, site, action=f"remove-{first.id}")
    assert first.id not in [i.id for i in draft(site).shown_items]
    html = client.get("/drafts/1").get_data(as_text=True)
    assert ">Removed</h2>" in html
    assert f'value="restore-{first.id}"' in html
    post(client, site, action=f"restore-{first.id}")
    assert draft(site).shown_items[-1].id == first.id


def test_search_finds_other_candidates_by_title_or_site_without_saving(
    site: Site, client: FlaskClient
) -> None:
    before = draft(site)
    response = post(client, site, action="search", q="other.example", intro="Typed, unsaved")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "3 matches for “other.example”" in html
    assert "Parks in winter" in html
    assert "Bins, again" in html
    assert "Typed, unsaved" in html  # still on the page
    assert draft(site) == before  # and nothing saved
    by_title = post(client, site, action="search", q="parks WINTER").get_data(as_text=True)
    assert "1 match for" in by_title


def test_add_a_candidate_of_the_week(site: Site, client: FlaskClient) -> None:
    parks = next(c for c in site.app.storage.candidates.list() if c.title == "Parks in winter")
    response = post(client, site, action=f"add-{parks.id}")
    assert response.status_code == 302
    saved = draft(site)
    assert saved.shown_items[-1].candidate_id == parks.id
    assert saved.shown_items[-1].added_by_editor


def test_an_unknown_candidate_is_refused_and_nothing_changes(
    site: Site, client: FlaskClient
) -> None:
    before = draft(site)
    in_draft = before.shown_items[0].candidate_id
    for target in (999999, in_draft):
        response = post(client, site, action=f"add-{target}", intro="Typed")
        html = response.get_data(as_text=True)
        assert response.status_code == 400
        assert "That candidate cannot be added" in html
        assert "Nothing was saved." in html
        assert "Typed" in html
    assert draft(site) == before


def test_with_nothing_left_to_add_the_page_says_so(site: Site, client: FlaskClient) -> None:
    assert "No other candidates to suggest" not in client.get("/drafts/1").text
    for _ in range(50):
        offered = re.findall(r'name="action" value="add-(\d+)"', client.get("/drafts/1").text)
        if not offered:
            break
        assert post(client, site, action=f"add-{offered[0]}").status_code == 302
    assert "No other candidates to suggest this week." in client.get("/drafts/1").text


def test_a_blurb_over_the_limit_is_refused_with_a_message_and_nothing_changes(
    site: Site, client: FlaskClient
) -> None:
    before = draft(site)
    item = before.shown_items[0]
    long = "x" * (MAX_BLURB + 1)
    response = post(client, site, action="save", intro="Also typed", **{f"blurb-{item.id}": long})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f"the limit is {MAX_BLURB}" in html
    assert "Nothing was saved." in html
    assert long in html  # their text is still in the box to shorten
    # On a page of ten items the message says which box, and leads to it.
    title = escape(item.title or item.url)
    assert f"The blurb of item 1 (“{title}”) is {MAX_BLURB + 1} characters" in html
    assert f'<a href="#blurb-{item.id}">Go to that box</a>' in html
    assert f'id="blurb-{item.id}" name="blurb-{item.id}" rows="3" data-max="{MAX_BLURB}"' in html
    assert 'aria-invalid="true" aria-describedby="form-error"' in html
    assert draft(site) == before


def test_a_damaged_form_is_refused(site: Site, client: FlaskClient) -> None:
    before = draft(site)
    for changes in ({"action": "explode"}, {"item": ["1", "x"]}, {"item": ["1"]}):
        assert post(client, site, **changes).status_code == 400, changes
    assert draft(site) == before


def test_two_editors_saving_at_once_the_later_is_told_and_nothing_is_lost(
    site: Site, client: FlaskClient
) -> None:
    Accounts(site.app.storage.editors, site.flask.extensions["roundup_bot"].accounts.hasher).add(
        "Bob Editor", "another long password", NOW
    )
    bob = site.client()
    sign_in(bob, "Bob Editor", "another long password")
    d = draft(site)
    first, second = d.shown_items[0], d.shown_items[1]
    ann_page = client.get("/drafts/1").get_data(as_text=True)
    bob_page = bob.get("/drafts/1").get_data(as_text=True)
    ann = client.post(
        "/drafts/1",
        data=form_of(d, ann_page, **{f"blurb-{first.id}": "Ann's words", "intro": "Ann's intro"}),
    )
    assert ann.status_code == 302
    later = bob.post(
        "/drafts/1",
        data=form_of(
            d,
            bob_page,
            action=f"down-{first.id}",
            **{f"blurb-{second.id}": "Bob's words", "intro": "Bob's intro"},
        ),
    )
    html = later.get_data(as_text=True)
    assert later.status_code == 409
    assert "the draft changed meanwhile" in html
    assert "Ann Editor saved this draft" in html
    saved = draft(site)
    assert saved.intro == "Ann's intro"  # Ann's save stands
    assert saved.shown_items[0].blurb == "Ann's words"
    assert saved.shown_items[1].blurb == second.blurb  # Bob's did not go through
    # Bob's text is on the page beside the boxes, and the form now carries Ann's version.
    assert re.search(r'id="mine-intro" readonly>Bob&#39;s intro</textarea>', html)
    assert re.search(rf'id="mine-{second.id}" readonly>Bob&#39;s words</textarea>', html)
    assert f'id="mine-{first.id}"' not in html  # Bob left it alone: nothing to offer back
    assert "mine-outro" not in html
    assert f'name="version" value="{saved.version}"' in html
    assert f"You pressed “Move down” for “{first.title}”; it was not done." in html
    assert "Ann&#39;s words" in html  # Ann's text is in the box
    # Bob re-applies his text on the fresh version: it saves.
    again = bob.post(
        "/drafts/1",
        data=form_of(saved, html, **{f"blurb-{second.id}": "Bob's words"}),
    )
    assert again.status_code == 302
    assert draft(site).shown_items[1].blurb == "Bob's words"
    assert draft(site).shown_items[0].blurb == "Ann's words"


def test_a_later_draft_refresh_never_overwrites_edits_made_on_the_page(
    site: Site, client: FlaskClient
) -> None:
    d = draft(site)
    first, second, third = d.shown_items
    post(
        client,
        site,
        action=f"remove-{third.id}",
        intro="Page intro",
        **{f"blurb-{first.id}": "Page blurb"},
    )
    post(client, site, action=f"down-{first.id}")
    make_draft(site.app)  # what `roundup-bot draft` does
    refreshed = draft(site)
    assert refreshed.intro == "Page intro"
    assert [i.id for i in refreshed.shown_items][:2] == [second.id, first.id]
    assert next(i for i in refreshed.items if i.id == first.id).blurb == "Page blurb"
    assert third.id not in [i.id for i in refreshed.shown_items]


def test_preview_uses_the_published_template(site: Site, client: FlaskClient) -> None:
    page = client.get("/drafts/1/preview").get_data(as_text=True)
    assert 'src="/drafts/1/preview.html?v=' in page
    assert ">Approve</button>" in page
    framed = client.get("/drafts/1/preview.html").get_data(as_text=True)
    assert framed == renderer_for(site.settings).render(draft(site), "html")


def test_save_and_preview_saves_then_shows_the_preview(site: Site, client: FlaskClient) -> None:
    response = post(client, site, action="preview", intro="Previewed intro")
    assert response.headers["Location"] == "/drafts/1/preview"
    assert "Previewed intro" in client.get("/drafts/1/preview.html").get_data(as_text=True)


def approve(client: FlaskClient, version: int, confirm: str | None = "publish") -> Any:
    page = client.get("/drafts/1/preview").get_data(as_text=True)
    data = {"version": str(version), "csrf_token": csrf_of(page)}
    if confirm is not None:
        data["confirm"] = confirm
    return client.post("/drafts/1/approve", data=data)


@pytest.mark.parametrize("confirm", [None, "", "yes"])
def test_approve_without_the_box_ticked_publishes_nothing(
    site: Site, client: FlaskClient, confirm: str | None
) -> None:
    response = approve(client, draft(site).version, confirm=confirm)
    assert response.headers["Location"] == "/drafts/1/preview"
    assert draft(site).status == "draft"
    assert not (site.tmp_path / "public" / f"{WEEK}.html").exists()
    page = client.get("/drafts/1/preview").get_data(as_text=True)
    assert "Nothing was published: tick" in page
    assert 'name="confirm" value="publish" required' in page


def test_approve_publishes_through_the_cli_path_and_records_the_editor(
    site: Site, client: FlaskClient
) -> None:
    item = draft(site).shown_items[2]
    post(client, site, action=f"up-{item.id}", **{f"blurb-{item.id}": "Fresh words."})
    response = approve(client, draft(site).version)
    assert response.status_code == 302
    published = draft(site)
    assert published.status == "published"
    assert published.approved_by == EDITOR
    html_file = site.tmp_path / "public" / f"{WEEK}.html"
    assert published.published_path == str(html_file)
    text = html_file.read_text(encoding="utf-8")
    assert "Fresh words." in text
    assert (site.tmp_path / "public" / f"{WEEK}.md").exists()
    assert (site.tmp_path / "public" / "feed.xml").exists()
    page = client.get("/drafts/1").get_data(as_text=True)
    assert f"Approved and published to {html_file}" in page
    assert "A published round-up is read-only here." in page
    assert 'id="draft-form"' not in page
    listed = client.get("/published").get_data(as_text=True)
    assert f'<a href="/drafts/1">{WEEK}</a>' in listed
    assert EDITOR in listed


def test_approving_a_version_other_than_the_one_previewed_is_refused(
    site: Site, client: FlaskClient
) -> None:
    stale = draft(site).version
    post(client, site, intro="Changed after the preview")
    response = approve(client, stale)
    assert response.headers["Location"] == "/drafts/1/preview"
    assert draft(site).status == "draft"
    assert "not approved" in client.get("/drafts/1/preview").get_data(as_text=True)


def test_a_published_round_up_is_read_only(site: Site, client: FlaskClient) -> None:
    approve(client, draft(site).version)
    before = draft(site)
    response = post(client, site, intro="Too late")
    assert response.status_code == 409
    assert "cannot be changed" in response.get_data(as_text=True)
    page = client.get("/drafts/1").get_data(as_text=True)
    reopen = client.post(
        "/drafts/1/reopen", data={"version": str(before.version), "csrf_token": csrf_of(page)}
    )
    assert reopen.status_code == 302
    assert draft(site) == before


def test_text_typed_while_another_editor_published_is_shown_back_not_lost(
    site: Site, client: FlaskClient
) -> None:
    before = draft(site)
    item, untouched = before.shown_items[1], before.shown_items[2]
    typed = form_of(
        before,
        client.get("/drafts/1").get_data(as_text=True),
        intro="My <new> intro",
        **{f"blurb-{item.id}": "Words I typed before it was published"},
    )
    approve(client, before.version)  # meanwhile (another editor, in another tab)
    response = client.post("/drafts/1", data=typed)
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert f"This round-up is published (approved by {EDITOR}), so it cannot be changed." in html
    assert "Your unsaved text" in html
    assert "My &lt;new&gt; intro</textarea>" in html
    assert "Words I typed before it was published</textarea>" in html
    assert f"Blurb for “{escape(item.title or item.url)}”" in html
    assert f"Blurb for “{escape(untouched.title or untouched.url)}”" not in html  # not typed
    assert draft(site).intro == before.intro


def test_reopen_takes_an_approved_draft_back(site: Site, client: FlaskClient) -> None:
    site.app.storage.drafts.approve(1, by="Someone", now=NOW)
    page = client.get("/drafts/1").get_data(as_text=True)
    assert ">Reopen</button>" in page
    response = client.post(
        "/drafts/1/reopen", data={"version": str(draft(site).version), "csrf_token": csrf_of(page)}
    )
    assert response.status_code == 302
    reopened = draft(site)
    assert reopened.status == "draft"
    assert reopened.reopened_by == EDITOR
    assert 'id="draft-form"' in client.get("/drafts/1").get_data(as_text=True)


def test_the_cli_and_the_page_publish_the_same_files(tmp_path: Path) -> None:
    by_page = make_site(tmp_path / "page")
    by_cli = make_site(tmp_path / "cli")
    try:
        client = by_page.client()
        sign_in(client)
        approve(client, draft(by_page).version)
        cli_approve(by_cli.app, 1, by=EDITOR, now=NOW)
        for name in (f"{WEEK}.html", f"{WEEK}.md"):
            assert (tmp_path / "page" / "public" / name).read_text() == (
                tmp_path / "cli" / "public" / name
            ).read_text()
    finally:
        by_page.close()
        by_cli.close()


def test_an_unknown_draft_is_a_404_with_a_message(client: FlaskClient) -> None:
    response = client.get("/drafts/999")
    assert response.status_code == 404
    assert "There is no draft number 999." in response.get_data(as_text=True)


def test_the_candidates_page_lists_the_week_with_scores_and_reasons_and_searches(
    client: FlaskClient,
) -> None:
    html = client.get("/candidates").get_data(as_text=True)
    assert f"Candidates for week {WEEK}" in html
    assert "6 candidates this week, best first." in html
    assert html.count("Score <span") == 6
    assert "In the draft" in html
    found = client.get("/candidates?q=parks").get_data(as_text=True)
    assert "1 of 6 candidates match" in found
    assert "Parks in winter" in found
    assert "Bins, again" not in found
    earlier = client.get("/candidates?week=2026-W47").get_data(as_text=True)
    assert "No candidates this week yet." in earlier
    assert client.get("/candidates?week=nonsense").status_code == 400


def test_when_publishing_fails_the_draft_stays_approved_and_publish_retries(
    site: Site, client: FlaskClient
) -> None:
    public = site.tmp_path / "public"
    public.write_text("a file where the folder should be")
    response = approve(client, draft(site).version)
    assert response.headers["Location"] == "/drafts/1"
    page = client.get("/drafts/1").get_data(as_text=True)
    assert "Approved, but publishing failed" in page
    assert draft(site).status == "approved"
    assert ">Publish</button>" in page
    assert draft(site).approved_by == EDITOR
    public.unlink()
    retry = client.post(
        "/drafts/1/approve",
        data={"version": str(draft(site).version), "csrf_token": csrf_of(page)},
    )
    assert retry.headers["Location"] == "/drafts/1"
    assert draft(site).status == "published"
    assert (public / f"{WEEK}.html").exists()


def test_an_editor_can_correct_an_items_title_author_and_blog(
    site: Site, client: FlaskClient
) -> None:
    hostile = next(i for i in draft(site).shown_items if "Hostile" in (i.title or ""))
    html = client.get("/drafts/1").get_data(as_text=True)
    assert f'<label for="title-{hostile.id}">Title</label>' in html
    assert f'<label for="site-{hostile.id}">Blog</label>' in html
    response = post(
        client,
        site,
        **{
            f"title-{hostile.id}": "A   safe title",
            f"author-{hostile.id}": "Jo Bloggs",
            f"site-{hostile.id}": "Council Blog",
        },
    )
    assert response.status_code == 302
    fixed = next(i for i in draft(site).items if i.id == hostile.id)
    assert (fixed.title, fixed.author, fixed.site_name) == (
        "A safe title",
        "Jo Bloggs",
        "Council Blog",
    )
    assert fixed.details_edited
    make_draft(site.app)  # a refresh keeps them
    kept = next(i for i in draft(site).items if i.id == hostile.id)
    assert kept.title == "A safe title"
    assert "A safe title" in client.get("/drafts/1/preview.html").get_data(as_text=True)


def test_a_title_over_the_limit_is_refused(site: Site, client: FlaskClient) -> None:
    before = draft(site)
    item = before.shown_items[0]
    response = post(client, site, **{f"title-{item.id}": "t" * 301})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "the limit is 300" in html
    assert "The title of item 1 (" in html
    assert '<details class="edit-details" open>' in html
    assert draft(site) == before


def test_a_conflict_keeps_a_changed_title_too(site: Site, client: FlaskClient) -> None:
    d = draft(site)
    item = d.shown_items[0]
    page = client.get("/drafts/1").get_data(as_text=True)
    post(client, site, intro="Someone else's intro")  # another save meanwhile
    stale = client.post("/drafts/1", data=form_of(d, page, **{f"title-{item.id}": "My title"}))
    html = stale.get_data(as_text=True)
    assert stale.status_code == 409
    assert f'id="mine-title-{item.id}" value="My title" readonly' in html
    assert f'id="mine-author-{item.id}"' not in html


def test_home_prefers_the_week_in_progress_once_the_last_one_is_days_old(site: Site) -> None:
    from datetime import timedelta

    from roundup_bot.core.weeks import week_by_label

    ctx = site.flask.extensions["roundup_bot"]
    ctx.clock = lambda: NOW + timedelta(days=5)  # Monday 30 Nov: W48 ended three days ago
    week = week_by_label("2026-W49", "Europe/London", "friday 09:00")
    from roundup_bot.services.drafting import draft_week

    newer = draft_week(site.app, week, now=NOW + timedelta(days=5), fetch_details=False).draft
    client = site.client()
    sign_in(client)
    assert client.get("/").headers["Location"] == f"/drafts/{newer.id}"
    ctx.clock = lambda: NOW + timedelta(days=2, hours=1)  # Friday, an hour after W48 ended
    assert client.get("/").headers["Location"] == "/drafts/1"


@pytest.mark.postgres
def test_the_page_works_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    site = make_site(tmp_path, database={"url": postgres_url})
    try:
        client = site.client()
        sign_in(client)
        d = draft(site)
        first = d.shown_items[0]
        response = post(
            client, site, action=f"down-{first.id}", **{f"blurb-{first.id}": "On PostgreSQL."}
        )
        assert response.status_code == 302
        moved = draft(site)
        assert moved.shown_items[1].blurb == "On PostgreSQL."
        stale = client.post(
            "/drafts/1", data=form_of(d, client.get("/drafts/1").get_data(as_text=True))
        )
        assert stale.status_code == 409
        assert approve(client, moved.version).status_code == 302
        assert draft(site).status == "published"
        assert "On PostgreSQL." in (tmp_path / "public" / f"{WEEK}.html").read_text()
    finally:
        site.close()


HUGE_ID = "99999999999999999999999"


def test_out_of_range_ids_and_weeks_are_404_not_500(tmp_path: Path, db_url: str) -> None:
    """On SQLite and PostgreSQL: an id no row can have, and a week the calendar
    cannot hold (or a year without that week), is a plain "not found"."""
    site = make_site(tmp_path, database={"url": db_url})
    try:
        client = site.client()
        sign_in(client)
        token = csrf_of(client.get("/drafts/1").get_data(as_text=True))
        for draft_id in (HUGE_ID, "9223372036854775808", "2147483648", "0"):
            for path in ("", "/preview", "/preview.html"):
                assert client.get(f"/drafts/{draft_id}{path}").status_code == 404, path
            for path in ("", "/approve", "/reopen"):
                posted = client.post(f"/drafts/{draft_id}{path}", data={"csrf_token": token})
                assert posted.status_code == 404, path
        for week in ("0001-W01", "9999-W52", "2026-W99", "1969-W52"):
            page = client.get(f"/candidates?week={week}")
            assert page.status_code == 404, week
            assert "No such week" in page.get_data(as_text=True)
            made = client.post("/drafts/new", data={"csrf_token": token, "week": week})
            assert made.status_code == 404, week
        assert client.get("/candidates?week=1970-W02").status_code == 200
        assert client.get("/candidates?week=nonsense").status_code == 400
    finally:
        site.close()


def test_the_draft_page_looks_the_articles_pages_up_again_keeping_edits(tmp_path: Path) -> None:
    """The button reads every picked page again (a real local server), refreshes the
    automatic blurbs and keeps what the editor saved."""
    from helpers.server import LocalServer, Reply
    from sqlalchemy import update

    from roundup_bot.storage.schema import candidates

    with LocalServer() as blog:
        site = make_site(tmp_path, with_draft=False, network={"allow_private_addresses": True})
        try:
            with site.app.storage.engine.begin() as conn:  # the articles live on the server
                for row in conn.execute(candidates.select()).all():
                    path = "/" + row.url.split("/", 3)[3]
                    conn.execute(
                        update(candidates)
                        .where(candidates.c.id == row.id)
                        .values(url=blog.url(path), summary="Read more")
                    )
                    blog.route(
                        path,
                        Reply(
                            200,
                            {"Content-Type": "text/html"},
                            b'<title>t</title><meta name="description"'
                            b' content="What the page says about itself today.">',
                        ),
                    )
            made = make_draft(site.app)
            first = made.shown_items[0]
            site.app.storage.drafts.apply_edits(
                made.id,
                [SetBlurb(first.id, "The editor's own words.")],
                expected_version=made.version,
                by=EDITOR,
                now=NOW,
            )
            client = site.client()
            sign_in(client)
            html = client.get(f"/drafts/{made.id}").get_data(as_text=True)
            assert "Look the articles' pages up again" in html
            done = client.post(
                "/drafts/new",
                data={"week": WEEK, "refresh_details": "1", "csrf_token": csrf_of(html)},
                follow_redirects=True,
            )
            assert "Looked up 3 article pages again; your edits were kept." in done.get_data(
                as_text=True
            )
            assert len(blog.requests) == 3
            after = site.app.storage.drafts.get(made.id)
            blurbs = {i.id: i.blurb for i in after.shown_items}
            assert blurbs.pop(first.id) == "The editor's own words."
            assert set(blurbs.values()) == {"What the page says about itself today."}
        finally:
            site.close()


def test_editors_approving_at_once_publish_once_and_the_others_are_told_by_whom(
    tmp_path: Path, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Four editors press Approve together (held until all four requests are in):
    it is published once, the one who won is told so, the others that it was
    already approved and by whom; nobody is told publishing failed, nothing is
    logged as an error."""
    editors = [EDITOR, "Bob Editor", "Cy Editor", "Di Editor"]
    site = make_site(tmp_path, database={"url": db_url})
    try:
        for name in editors[1:]:
            Accounts(site.app.storage.editors, FAST_HASHER).add(name, PASSWORD, NOW)
        together = threading.Barrier(len(editors), timeout=60)

        @site.flask.before_request
        def all_at_once() -> None:
            if request.endpoint == "drafts.approve":
                together.wait()

        version = draft(site).version
        with serving(site.flask, threads=len(editors)) as base:
            browsers = [httpx.Client(base_url=base, timeout=90) for _ in editors]
            try:
                tokens = []
                for browser, name in zip(browsers, editors, strict=True):
                    page = browser.get("/sign-in").text
                    browser.post(
                        "/sign-in",
                        data={"name": name, "password": PASSWORD, "csrf_token": csrf_of(page)},
                    )
                    tokens.append(csrf_of(browser.get("/drafts/1/preview").text))

                def press_approve(n: int) -> str:
                    data = {"csrf_token": tokens[n], "version": str(version), "confirm": "publish"}
                    answer = browsers[n].post("/drafts/1/approve", data=data)
                    assert answer.status_code == 302
                    return browsers[n].get(answer.headers["Location"]).text

                caplog.set_level(logging.INFO)
                with ThreadPoolExecutor(max_workers=len(editors)) as pool:
                    pages = list(pool.map(press_approve, range(len(editors))))
            finally:
                for browser in browsers:
                    browser.close()
        published = draft(site)
        assert published.status == "published"
        assert published.publish_count == 1
        winner = published.approved_by
        assert winner in editors
        assert sum("Approved and published to" in page for page in pages) == 1
        told = [page for page in pages if "Approved and published to" not in page]
        for page in told:
            assert "publishing failed" not in page
            assert f"Already approved by {escape(winner)}" in page, page
        assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    finally:
        site.close()
