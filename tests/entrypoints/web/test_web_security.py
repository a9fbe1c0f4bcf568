"""Headers, CSRF, cross-site requests, escaping, and templates that CSP cannot break."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from importlib.resources import files
from pathlib import Path

import pytest
from helpers.web import HOSTILE, Site, csrf_of

TEMPLATES = Path(str(files("roundup_bot.entrypoints.web") / "templates"))


def _directives(policy: str) -> dict[str, str]:
    return {
        part.strip().split(" ", 1)[0]: part.strip().partition(" ")[2]
        for part in policy.split(";")
        if part.strip()
    }


@pytest.mark.parametrize("path", ["/sign-in", "/drafts/1", "/sources", "/drafts/1/preview"])
def test_pages_allow_no_inline_script_and_no_framing(site: Site, client, path: str) -> None:  # type: ignore[no-untyped-def]
    response = (site.client() if path == "/sign-in" else client).get(path)
    assert response.status_code == 200
    policy = _directives(response.headers["Content-Security-Policy"])
    assert policy["script-src"] == "'self'"
    assert "unsafe-inline" not in policy.get("style-src", "")
    assert policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


def test_the_framed_preview_runs_no_script_and_only_this_site_may_frame_it(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/drafts/1/preview.html")
    policy = _directives(response.headers["Content-Security-Policy"])
    assert policy["default-src"] == "'none'"
    assert "script-src" not in policy  # falls back to default-src 'none'
    assert policy["frame-ancestors"] == "'self'"
    assert "sandbox" in policy
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(
    site: Site,
    client,  # type: ignore[no-untyped-def]
) -> None:
    before = site.app.storage.drafts.get(1)
    response = client.post("/drafts/1", data={"version": "1", "intro": "Forged"})
    assert response.status_code == 400
    assert "nothing was changed" in response.get_data(as_text=True)
    # Back (not reload, which would lose the typed text) is the way to try again.
    assert "Use your browser&#39;s Back button: what you typed is still there." in (
        response.get_data(as_text=True)
    )
    assert site.app.storage.drafts.get(1) == before


def test_a_post_from_another_site_is_refused_even_with_a_token(site: Site, client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/drafts/1").get_data(as_text=True)
    before = site.app.storage.drafts.get(1)
    for headers in (
        {"Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "null"},
    ):
        response = client.post(
            "/drafts/1",
            data={"version": "1", "intro": "Forged", "csrf_token": csrf_of(page)},
            headers=headers,
        )
        assert response.status_code == 403, headers
    assert site.app.storage.drafts.get(1) == before


def test_a_same_origin_post_with_its_token_is_accepted(site: Site, client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/drafts/1").get_data(as_text=True)
    response = client.post(
        "/drafts/1",
        data={"version": "1", "intro": "New intro", "csrf_token": csrf_of(page)},
        headers={"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"},
    )
    assert response.status_code == 302
    assert site.app.storage.drafts.get(1).intro == "New intro"


def test_sign_out_needs_a_post_with_a_token(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/sign-out").status_code == 405
    assert client.post("/sign-out").status_code == 400
    assert client.get("/sources").status_code == 200


class _Scan(HTMLParser):
    """Collects what a strict CSP would block or what a hostile title could inject."""

    def __init__(self) -> None:
        super().__init__()
        self.inline_scripts = 0
        self.script_srcs: list[str] = []
        self.handlers: list[str] = []
        self.style_attrs = 0
        self.style_tags = 0
        self.images: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "script":
            if names.get("src"):
                self.script_srcs.append(names["src"] or "")
            else:
                self.inline_scripts += 1
        if tag == "style":
            self.style_tags += 1
        if tag == "img":
            self.images.append(names.get("src") or "")
        for name, _ in attrs:
            if name.startswith("on"):
                self.handlers.append(f"{tag}.{name}")
            if name == "style":
                self.style_attrs += 1


@pytest.mark.parametrize(
    "path", ["/drafts/1", "/drafts/1?q=Hostile", "/candidates", "/candidates?q=script"]
)
def test_a_hostile_feed_title_is_shown_as_text_and_injects_nothing(client, path: str) -> None:  # type: ignore[no-untyped-def]
    html = client.get(path).get_data(as_text=True)
    scan = _Scan()
    scan.feed(html)
    assert scan.inline_scripts == 0
    assert scan.handlers == []
    assert scan.images == []
    assert scan.style_attrs == 0
    assert scan.style_tags == 0
    assert all(src.startswith("/static/") for src in scan.script_srcs)
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html


def test_the_preview_of_a_hostile_title_injects_nothing(client) -> None:  # type: ignore[no-untyped-def]
    html = client.get("/drafts/1/preview.html").get_data(as_text=True)
    scan = _Scan()
    scan.feed(html)
    assert scan.inline_scripts == 0
    assert scan.script_srcs == []
    assert scan.handlers == []
    assert scan.images == []
    assert "Hostile" in html
    assert HOSTILE not in html


def test_an_editors_blurb_is_escaped_too(site: Site, client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/drafts/1").get_data(as_text=True)
    item = site.app.storage.drafts.get(1).shown_items[0]
    client.post(
        "/drafts/1",
        data={
            "version": "1",
            "item": [str(i.id) for i in site.app.storage.drafts.get(1).shown_items],
            f"blurb-{item.id}": '</textarea><script>alert("x")</script>',
            "csrf_token": csrf_of(page),
        },
    )
    html = client.get("/drafts/1").get_data(as_text=True)
    scan = _Scan()
    scan.feed(html)
    assert scan.inline_scripts == 0
    assert "&lt;/textarea&gt;&lt;script&gt;" in html


def test_templates_use_no_inline_script_style_or_safe_filter() -> None:
    found = sorted(TEMPLATES.rglob("*.html"))
    assert len(found) >= 10
    for path in found:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\|\s*safe\b", text), path
        assert "Markup(" not in text, path
        scan = _Scan()
        scan.feed(text)
        assert scan.inline_scripts == 0, path
        assert scan.handlers == [], path
        assert scan.style_attrs == 0, path
        if path.name != "broken_template.html":
            assert scan.style_tags == 0, path


def test_a_request_body_too_large_is_refused_with_a_message(client) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/drafts/1", data={"intro": "x" * (600 * 1024)})
    assert response.status_code == 413
    assert "Nothing was changed" in response.get_data(as_text=True)


def test_an_expired_sign_in_form_asks_to_sign_in_again(site: Site) -> None:
    client = site.client()
    response = client.post("/sign-in", data={"name": "Ann Editor", "password": "x"})
    assert response.headers["Location"] == "/sign-in"
    assert "The sign-in form had expired" in client.get("/sign-in").get_data(as_text=True)


_LINKED = re.compile(r'\b(?:href|src|action)="([^"]*\{\{[^"]*)"')


def test_every_address_a_template_links_to_goes_through_safe_url() -> None:
    """The same rule as the published round-up: an address from a feed, a page or
    the config becomes an href only through safe_url (http(s) or '#')."""
    for path in sorted(TEMPLATES.rglob("*.html")):
        for value in _LINKED.findall(path.read_text(encoding="utf-8")):
            if value.startswith("#") or re.fullmatch(r"\{\{ url_for\([^}]*\) \}\}", value):
                continue
            if (path.name, value) == ("bookmarklet.html", "{{ code }}"):
                # The one javascript: link, on purpose: the bookmarklet, built by
                # links.bookmarklet_code from a constant and this site's own address
                # (JSON-quoted); nothing from outside goes into it.
                continue
            assert re.fullmatch(r"\{\{ [^}]*\|\s*safe_url \}\}", value), (path.name, value)


@pytest.mark.parametrize("path", ["/drafts/1", "/candidates"])
def test_a_stored_javascript_link_is_never_an_href(site: Site, client, path: str) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select, update

    from roundup_bot.storage.schema import candidates

    hostile = "javascript:alert(document.domain)//https://example.org/"
    with site.app.storage.engine.begin() as conn:  # as if a source had let one through
        for n in conn.execute(select(candidates.c.id)).scalars().all():
            linked = update(candidates).where(candidates.c.id == n)
            conn.execute(linked.values(link=f"{hostile}{n}", url=f"{hostile}{n}"))
    html = client.get(path).get_data(as_text=True)
    assert 'href="#"' in html  # linked to nowhere...
    assert not re.search(r'href="\s*javascript:', html, re.IGNORECASE)  # ...never to script
