"""The web page and WordPress: approving makes the post and links to it and its edit
screen; a failed post says why and can be tried again; a published round-up offers
"Copy for the blog" (the HTML fragment) and the Markdown. Against the fake WordPress."""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from helpers.fake_wordpress import FakeWordPress, basic_env
from helpers.web import Site, csrf_of, make_site, sign_in


@pytest.fixture
def wp(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeWordPress]:
    for name, value in basic_env().items():
        monkeypatch.setenv(name, value)
    with FakeWordPress() as fake:
        yield fake


@pytest.fixture
def wp_site(tmp_path: Path, wp: FakeWordPress) -> Iterator[Site]:
    made = make_site(tmp_path, wordpress={"enabled": True, "site_url": wp.url})
    yield made
    made.close()


@pytest.fixture
def wp_client(wp_site: Site) -> FlaskClient:
    client = wp_site.flask.test_client()
    sign_in(client)
    return client


def approve(client: FlaskClient, site: Site) -> Any:
    version = site.app.storage.drafts.get(1).version
    page = client.get("/drafts/1/preview").get_data(as_text=True)
    data = {"version": str(version), "csrf_token": csrf_of(page), "confirm": "publish"}
    return client.post("/drafts/1/approve", data=data)


def test_approving_on_the_page_makes_the_post_and_links_to_it(
    wp_site: Site, wp_client: FlaskClient, wp: FakeWordPress
) -> None:
    assert approve(wp_client, wp_site).status_code == 302
    post_id = next(iter(wp.posts))
    link = f"{wp.url}/welovelocalgov-2026-w48/"
    page = wp_client.get("/drafts/1").get_data(as_text=True)
    assert f"It is on the blog: {link} (draft)." in page
    assert f'On the blog: <a href="{link}">{link}</a> (draft)' in page
    edit = html.escape(f"{wp.url}/wp-admin/post.php?post={post_id}&action=edit")
    assert f'<a href="{edit}">Edit it in WordPress</a>' in page
    assert len(wp.posts) == 1


def test_a_failed_post_says_why_and_can_be_tried_again(
    wp_site: Site, wp_client: FlaskClient, wp: FakeWordPress
) -> None:
    wp.fail_next("POST", "posts", "status", status=503)
    approve(wp_client, wp_site)
    page = wp_client.get("/drafts/1").get_data(as_text=True)
    assert "The files are published, but the blog post is not" in page
    assert "Not on the blog yet: WordPress answered HTTP 503" in page
    assert "Try the blog again" in page
    assert wp_site.app.storage.drafts.get(1).status == "published"
    response = wp_client.post("/drafts/1/publish-again", data={"csrf_token": csrf_of(page)})
    assert response.status_code == 302
    page = wp_client.get("/drafts/1").get_data(as_text=True)
    assert "It is on the blog:" in page
    assert "Try the blog again" not in page
    assert len(wp.posts) == 1
    again = wp_client.post("/drafts/1/publish-again", data={"csrf_token": csrf_of(page)})
    assert again.status_code == 302
    assert len(wp.posts) == 1  # pressing it again never makes a second post
    assert len(wp.requests("POST", "posts")) == 2  # the 503 and the one made


def test_a_published_round_up_offers_copy_for_the_blog(site: Site, client: FlaskClient) -> None:
    """Without WordPress too: for editors who paste it into the blog by hand."""
    approve(client, site)
    page = client.get("/drafts/1").get_data(as_text=True)
    assert "Copy for the blog" in page
    fragment = page.split('id="blog-html"', 1)[1].split("</textarea>", 1)[0]
    assert "&lt;h1&gt;" in fragment  # the HTML as text to copy, never live markup
    assert "&lt;html" not in fragment
    assert "DOCTYPE" not in fragment
    assert "<script" not in fragment
    markdown = page.split('id="blog-markdown"', 1)[1].split("</textarea>", 1)[0]
    assert markdown.split(">", 1)[1].lstrip().startswith("# That was the local government week")
    assert 'data-copy="blog-html"' in page
    assert 'data-copy="blog-markdown"' in page
    draft_page = client.get("/drafts").get_data(as_text=True)
    assert "Copy for the blog" not in draft_page


def test_a_draft_offers_no_copy(client: FlaskClient) -> None:
    assert "Copy for the blog" not in client.get("/drafts/1").get_data(as_text=True)
