"""The published page previews well wherever it is shared: OpenGraph and Twitter card
metadata from the round-up's title, intro and public address, escaped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

from helpers.drafts import Article, make_app, seed
from helpers.markup import assert_no_active_markup

from roundup_bot.core.records import SetIntro
from roundup_bot.core.weeks import week_by_label
from roundup_bot.services.drafting import draft_week
from roundup_bot.services.publish import approve
from roundup_bot.storage import Storage

W48 = week_by_label("2026-W48", "Europe/London", "friday 09:00")
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
INTRO = 'Our "best" <script>alert(1)</script> picks of the week.\n\nA second paragraph. ' + (
    "More words. " * 30
)


class Metas(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        key = values.get("property") or values.get("name")
        if tag == "meta" and key:
            self.found[key] = values.get("content") or ""
        if tag == "link" and values.get("rel") == "canonical":
            self.found["canonical"] = values.get("href") or ""


def test_the_published_page_carries_opengraph_and_twitter_cards(
    storage: Storage, tmp_path: Path
) -> None:
    seed(storage, [Article(slug="a", published=W48.end - timedelta(days=1))], NOW)
    app = make_app(storage, tmp_path, publish={"base_url": "https://roundup.example/"})
    draft = draft_week(app, W48, now=NOW).draft
    storage.drafts.apply_edits(
        draft.id, [SetIntro(INTRO)], expected_version=draft.version, by="ann", now=NOW
    )
    approve(app, draft.id, by="ann", now=NOW)
    page = (tmp_path / "public" / "2026-W48.html").read_text(encoding="utf-8")
    assert_no_active_markup(page)
    metas = Metas()
    metas.feed(page)
    title = "That was the local government week that was – week ending 27 November 2026"
    found = metas.found
    assert found["og:title"] == found["twitter:title"] == title
    assert found["og:type"] == "article"
    assert found["og:site_name"] == "That was the local government week that was"
    assert found["og:url"] == found["canonical"] == "https://roundup.example/2026-W48.html"
    assert found["twitter:card"] == "summary"
    description = found["og:description"]
    assert description == found["twitter:description"] == found["description"]
    assert description.startswith(
        'Our "best" <script>alert(1)</script> picks of the week. A second'
    )
    assert description.endswith("…")
    assert len(description) <= 201


def test_without_a_base_url_there_is_no_og_url(storage: Storage, tmp_path: Path) -> None:
    seed(storage, [Article(slug="a", published=W48.end - timedelta(days=1))], NOW)
    app = make_app(storage, tmp_path)
    approve(app, draft_week(app, W48, now=NOW).draft.id, by="ann", now=NOW)
    metas = Metas()
    metas.feed((tmp_path / "public" / "2026-W48.html").read_text(encoding="utf-8"))
    assert "og:url" not in metas.found
    assert metas.found["og:description"] == (
        "Here's our round-up of some of our favourite blog posts of the week."
    )
