"""Editors' own links: "Add a link" on the draft page, the bookmarklet's confirmation
form (nothing changes on a GET), `roundup-bot add`, and the SSRF rules for reading
the page (a local article server on 127.0.0.2)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT
from helpers.web import EDITOR, NOW, WEEK, csrf_of, make_site, sign_in
from pytest_httpserver import HTTPServer

from roundup_bot.core.errors import EditorLinkError
from roundup_bot.entrypoints.web.links import bookmarklet_code
from roundup_bot.services.editor_links import add_editor_link

PAGE = (
    "<html><head><title>Ignored</title>"
    '<meta property="og:title" content="Our new housing plan &amp; you">'
    '<meta property="og:description" content="What changes for tenants.">'
    "</head><body>hi</body></html>"
)


@pytest.fixture
def article() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.2", port=0)
    server.start()
    server.expect_request("/housing").respond_with_data(PAGE, content_type="text/html")
    try:
        yield server
    finally:
        server.clear()
        server.stop()


def shown_titles(html: str) -> list[str]:
    return re.findall(r'<a href="[^"]*" rel="noopener noreferrer">([^<]+)</a>', html)


def test_the_draft_pages_add_a_link_field_saves_typed_text_and_adds_the_page(
    tmp_path: Path, article: HTTPServer
) -> None:
    site = make_site(
        tmp_path,
        network={"allow_private_addresses": True},
        roundup={"fetch_link_details": True},
    )
    try:
        client = site.client()
        sign_in(client)
        draft = site.app.storage.drafts.find(site.settings.roundup.name, WEEK)
        assert draft is not None
        page = client.get(f"/drafts/{draft.id}").get_data(as_text=True)
        assert 'name="new_link"' in page
        assert ">Add a link</button>" in page
        form = {
            "csrf_token": csrf_of(page),
            "version": str(draft.version),
            "intro": "A new intro typed before adding",
            "outro": draft.outro,
            "item": [str(i.id) for i in draft.shown_items],
            "new_link": article.url_for("/housing") + "?utm_source=newsletter",
            "action": "link",
        }
        done = client.post(f"/drafts/{draft.id}", data=form, follow_redirects=True)
        html = done.get_data(as_text=True)
        assert done.status_code == 200
        assert "Saved, and added “Our new housing plan &amp; you” at the end of the list." in html
        saved = site.app.storage.drafts.get(draft.id)
        assert saved.intro == "A new intro typed before adding"
        last = saved.shown_items[-1]
        [candidate] = site.app.storage.candidates.list(ids=[last.candidate_id])
        assert candidate.url == article.url_for("/housing")  # tracking parameter dropped
        assert candidate.title == "Our new housing plan & you"
        assert [(s.kind, s.name) for s in candidate.sources] == [("editor", EDITOR)]
        assert candidate.suggested_by == ()  # editors are not thanked as followers

        again = {
            **form,
            "version": str(saved.version),
            "item": [str(i.id) for i in saved.shown_items],
            "new_link": article.url_for("/housing"),
        }
        html = client.post(f"/drafts/{draft.id}", data=again, follow_redirects=True).get_data(
            as_text=True
        )
        assert "is already in the draft" in html
        assert len(site.app.storage.drafts.get(draft.id).shown_items) == len(saved.shown_items)

        bad = {**again, "new_link": "javascript:alert(1)", "intro": "Kept?"}
        refused = client.post(f"/drafts/{draft.id}", data=bad)
        assert refused.status_code == 400
        assert "only web addresses" in refused.get_data(as_text=True)
        assert site.app.storage.drafts.get(draft.id).intro == "A new intro typed before adding"
    finally:
        site.close()


def test_the_bookmarklet_only_asks_on_get_and_adds_on_post(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    try:
        client = site.client()
        target = (
            "/add-link?url=https%3A%2F%2Fblog.example.net%2Fpost&title=%3Cb%3EA%20post%3C%2Fb%3E"
        )
        signed_out = client.get(target)
        assert signed_out.status_code == 302
        assert "next=" in signed_out.headers["Location"]  # back here after signing in
        sign_in(client)
        before = site.app.storage.candidates.count()
        shown = client.get(target)
        html = shown.get_data(as_text=True)
        assert shown.status_code == 200
        assert "Add this page to the round-up" in html
        assert "&lt;b&gt;A post&lt;/b&gt;" in html  # the other site's title, escaped
        assert f"the {WEEK} draft" in html
        assert site.app.storage.candidates.count() == before  # a GET changes nothing

        draft = site.app.storage.drafts.find(site.settings.roundup.name, WEEK)
        assert draft is not None
        data = {"csrf_token": csrf_of(html), "url": "https://blog.example.net/post",
                "draft": str(draft.id)}  # fmt: skip
        cross = client.post("/add-link", data=data, headers={"Sec-Fetch-Site": "cross-site"})
        assert cross.status_code == 403
        assert client.post("/add-link", data={**data, "csrf_token": "x"}).status_code == 400
        assert site.app.storage.candidates.count() == before

        added = client.post("/add-link", data=data)
        assert added.status_code == 302
        assert added.headers["Location"].endswith(f"/drafts/{draft.id}")
        after = site.app.storage.drafts.get(draft.id)
        [candidate] = site.app.storage.candidates.list(ids=[after.shown_items[-1].candidate_id])
        assert candidate.url == "https://blog.example.net/post"
        assert candidate.sources[0].name == EDITOR

        page = client.get("/bookmarklet").get_data(as_text=True)
        assert "Add to the round-up" in page
        assert client.get("/add-link?url=ftp%3A%2F%2Fx").status_code == 400
    finally:
        site.close()


def test_the_bookmarklet_opens_this_sites_confirmation_page() -> None:
    code = bookmarklet_code("https://editors.example.org/")
    assert code.startswith("javascript:")
    assert '"https://editors.example.org/add-link?url="' in code
    assert "encodeURIComponent(location.href)" in code


def test_a_private_address_is_never_read_unless_allowed(
    tmp_path: Path, article: HTTPServer
) -> None:
    site = make_site(tmp_path, roundup={"fetch_link_details": True})
    try:
        added = add_editor_link(
            site.app, article.url_for("/housing"), by=EDITOR, now=NOW, fetch_details=True
        )
        assert added.title is None
        assert added.details_error is not None
        assert "non-public address" in added.details_error
        assert article.log == []  # never connected
        assert added.draft is not None  # the link is added all the same
        with pytest.raises(EditorLinkError, match="only web addresses"):
            add_editor_link(site.app, "file:///etc/passwd", by=EDITOR, now=NOW)
        with pytest.raises(EditorLinkError, match="no draft 999"):
            add_editor_link(site.app, "https://a.example/", by=EDITOR, now=NOW, draft_id=999)
    finally:
        site.close()


def test_roundup_bot_add_puts_a_link_into_a_draft(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    draft = site.app.storage.drafts.find(site.settings.roundup.name, WEEK)
    assert draft is not None
    site.close()
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "roundup.db"}"\n', encoding="utf-8"
    )

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "roundup_bot", "--config", str(config), *args],
            capture_output=True,
            text=True,
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
            timeout=60,
        )

    done = run("add", "https://blog.example.net/x?utm_medium=email", "--by", "Ann Editor",
               "--draft", str(draft.id), "--no-link-details")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "credited to Ann Editor" in done.stdout
    assert f"joined draft {draft.id} ({WEEK})" in done.stdout
    bad = run("add", "not a url", "--draft", str(draft.id))
    assert bad.returncode == 1
    assert bad.stderr.strip() == "error: only web addresses (http:// or https://) can be added"


def test_the_bookmarklet_cannot_be_broken_out_of_by_the_sites_address() -> None:
    code = bookmarklet_code('https://evil.example/"+alert(1)+"')
    assert code.count('"') - code.count('\\"') == 2  # the address stays one JSON string
    assert '\\"+alert(1)+\\"' in code
