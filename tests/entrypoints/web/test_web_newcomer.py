"""The newcomer's trips on the draft page, at the server: the preview tells the
truth about the save, a search lands on its results, the score reads plainly.
(The browser half, with layout and focus, is in test_browser_a11y.py.)"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient
from helpers.web import NOW, Site, draft, post

from roundup_bot.core.records import SetBlurb


def flashes(client: FlaskClient, response: Any) -> list[str]:
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    return re.findall(r'<div class="flash[^>]*>([^<]*)</div>', html)


def test_save_then_save_and_preview_says_the_save_holds_not_nothing_changed(
    site: Site, client: FlaskClient
) -> None:
    first = draft(site).shown_items[0]
    saved = post(client, site, action="save", **{f"blurb-{first.id}": "My new words."})
    assert flashes(client, saved) == ["Saved."]
    again = post(client, site, action="preview")
    assert again.headers["Location"] == "/drafts/1/preview"
    html = client.get(again.headers["Location"]).get_data(as_text=True)
    assert "Nothing had changed" not in html
    assert (
        "Already saved: you saved it at 10:00 on Wed 25 Nov. This preview shows what you saved."
        in html
    )
    # The preview itself always says which save it shows.
    assert "the version saved at 10:00 on Wed 25 Nov by Ann Editor." in html
    # And pressing Save with nothing new says the same, on the draft page.
    same = post(client, site, action="save")
    assert flashes(client, same) == [
        "Already saved: you saved it at 10:00 on Wed 25 Nov. The page shows what you saved."
    ]


def test_a_preview_with_nothing_new_names_who_saved_last(site: Site, client: FlaskClient) -> None:
    made = post(client, site, action="preview")
    assert flashes(client, made) == [
        "No changes to save. This preview shows the draft as it was made at 10:00 on Wed 25 Nov."
    ]
    d = draft(site)
    site.app.storage.drafts.apply_edits(
        d.id,
        [SetBlurb(d.shown_items[0].id, "Bob's words.")],
        expected_version=d.version,
        by="Bob",
        now=NOW + timedelta(minutes=5),
    )
    later = post(client, site, action="preview")
    assert flashes(client, later) == [
        "No changes to save. This preview shows the draft as Bob saved it at 10:05 on Wed 25 Nov."
    ]


def test_search_posts_to_its_results_and_only_a_search_focuses_them(
    site: Site, client: FlaskClient
) -> None:
    page = client.get("/drafts/1").get_data(as_text=True)
    button = re.search(r'<button[^>]*value="search"[^>]*>', page)
    assert button is not None
    assert 'formaction="/drafts/1#search-results"' in button.group(0)
    searched = post(client, site, action="search", q="parks")
    html = searched.get_data(as_text=True)
    assert searched.status_code == 200
    assert re.search(r'<p role="status" id="search-results"[^>]*data-focus-on-load', html)
    assert "1 match for “parks”" in html
    # Coming back to a page with a search in its address (after Add) does not steal focus.
    again = client.get("/drafts/1?q=parks").get_data(as_text=True)
    assert 'id="search-results"' in again
    assert "data-focus-on-load" not in again


def test_the_score_reads_as_plain_words(client: FlaskClient) -> None:
    html = client.get("/drafts/1").get_data(as_text=True)
    assert "+0.9 new this week: 4.0 days before the deadline" in html
    assert "recency" not in html
    assert "week's end" not in html
    candidates = client.get("/candidates").get_data(as_text=True)
    assert "new this week: " in candidates
    assert "recency" not in candidates
