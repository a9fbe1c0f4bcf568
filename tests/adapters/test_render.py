"""Rendering: packaged and user templates, clear errors, and no markup from outside text."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path

import pytest
from helpers.markup import assert_no_active_markup

from roundup_bot.adapters.render import Renderer, markdown_escape, md_url, safe_url
from roundup_bot.core.errors import TemplateError
from roundup_bot.core.records import Draft, DraftItem

START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
HOSTILE = [
    '<script>alert("x")</script>',
    '"><img src=x onerror=alert(1)>',
    "<svg/onload=alert(1)>",
    '<a href="javascript:alert(1)">click</a>',
    "</p></section><script src=//evil.example/x.js></script>",
    "<iframe src=javascript:alert(1)>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "[click](javascript:alert(1)) ![x](javascript:alert(1))",
]


def item(n: int, **overrides: object) -> DraftItem:
    values: dict[str, object] = {
        "id": n,
        "candidate_id": n,
        "position": n,
        "url": f"https://blog.example.gov.uk/post-{n}",
        "title": f"Post {n}",
        "author": "Jo Bloggs",
        "site_name": "Council Blog",
        "blurb": f"Blurb {n}.",
        "suggested_by": (),
        "score": 1.0,
        "why": (),
    }
    values.update(overrides)
    return DraftItem(**values)  # type: ignore[arg-type]


def draft(*items: DraftItem, **overrides: object) -> Draft:
    values: dict[str, object] = {
        "id": 7,
        "roundup": "welovelocalgov",
        "week": "2026-W48",
        "period_start": START,
        "period_end": START + timedelta(days=7),
        "status": "draft",
        "title": "That was the local government week that was",
        "intro": "Here's our round-up.",
        "outro": "Tweet us @welovelocalgov.",
        "version": 1,
        "created_at": START,
        "updated_at": START,
        "items": items,
    }
    values.update(overrides)
    return Draft(**values)  # type: ignore[arg-type]


def test_the_packaged_html_reads_like_the_roundup() -> None:
    html = Renderer().render(
        draft(item(1, suggested_by=("@ann", "@bob")), item(2), item(3, removed=True)), "html"
    )
    assert html.startswith("<!DOCTYPE html>")
    assert "<h1>That was the local government week that was</h1>" in html
    assert "Week ending 27 November 2026" in html
    assert '<h2><a href="https://blog.example.gov.uk/post-1">Post 1</a></h2>' in html
    assert "Jo Bloggs, <cite>Council Blog</cite>" in html
    assert "(thanks to @ann and @bob for the tip)" in html
    assert "Post 2" in html
    assert "Post 3" not in html  # removed by an editor
    text = unescape(html)
    assert text.index("Here's our round-up.") < text.index("Post 1") < text.index("Tweet us")
    assert_no_active_markup(html)


def test_markdown_and_text_read_like_the_roundup() -> None:
    d = draft(item(1, suggested_by=("@ann",)), item(2, author=None))
    markdown = Renderer().render(d, "markdown")
    assert "# That was the local government week that was" in markdown
    assert "## [Post 1](<https://blog.example.gov.uk/post-1>)" in markdown
    assert "*Jo Bloggs, Council Blog*" in markdown
    assert "Blurb 1. (thanks to @ann for the tip)" in markdown
    assert "*Council Blog*" in markdown
    assert "for the tip)\n\n## [Post 2]" in markdown  # each item its own paragraphs
    text = Renderer().render(d, "text")
    assert "1. Post 1\n   https://blog.example.gov.uk/post-1\n   Jo Bloggs, Council Blog\n" in text
    assert "(thanks to @ann for the tip)" in text


@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_feed_text_never_becomes_markup_in_html(payload: str) -> None:
    hostile = item(
        1,
        title=payload,
        author=payload,
        site_name=payload,
        blurb=payload,
        suggested_by=(f"@{payload}",),
        url="javascript:alert(1)",
    )
    also = item(2, url=f"https://ok.example/{payload}", title="fine")
    d = draft(hostile, also, intro=payload, outro=payload, title=payload)
    html = Renderer().render(d, "html")
    assert_no_active_markup(html)
    assert 'href="#"' in html  # the javascript: link was replaced
    article = Renderer().render(d, "html", template="roundup_article.html.j2")
    assert_no_active_markup(article)


@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_feed_text_is_literal_in_markdown(payload: str) -> None:
    d = draft(item(1, title=payload, blurb=payload, author=payload, url="javascript:alert(1)"))
    markdown = Renderer().render(d, "markdown")
    body = markdown.split("\n", 1)[1]
    assert not re.search(r"(?<!\\)<[a-z/!]", body.replace("](<", "](")), body
    assert "javascript:" not in re.findall(r"(?<!\\)\]\(<?([^)>]*)", body)[0]
    assert re.findall(r"(?<!\\)\]\(", body) == ["]("]  # only the template's own link


def test_url_and_markdown_helpers() -> None:
    assert safe_url(" javascript:alert(1)") == "#"
    assert safe_url("data:text/html,x") == "#"
    assert safe_url("//evil.example/") == "#"
    assert safe_url("https://a.example/x?y=1") == "https://a.example/x?y=1"
    assert safe_url('https://a.example/"onmouseover=x') == "https://a.example/%22onmouseover=x"
    assert safe_url("https://a.example/a%20b c") == "https://a.example/a%20b%20c"
    assert md_url("https://a.example/a (b)>") == "https://a.example/a%20%28b%29%3E"
    assert markdown_escape("*bold* <b> [x](y) # h") == r"\*bold\* \<b\> \[x\](y) # h"
    assert markdown_escape("# heading\n- item\n1. one") == "\\# heading\n\\- item\n1\\. one"


def test_user_templates_are_searched_first_and_can_extend_the_packaged_ones(
    tmp_path: Path,
) -> None:
    (tmp_path / "roundup.txt.j2").write_text(
        "MINE {{ roundup.week }}: {{ items | map(attribute='title') | join(', ') }}\n"
    )
    (tmp_path / "roundup.html.j2").write_text('{% extends "package/roundup.html.j2" %}')
    (tmp_path / "roundup_article.html.j2").write_text(
        "<p class=mine>{{ roundup.title }}</p>{% for i in items %}<b>{{ i.title }}</b>{% endfor %}"
    )
    renderer = Renderer(tmp_path)
    d = draft(item(1), item(2))
    assert renderer.render(d, "text") == "MINE 2026-W48: Post 1, Post 2\n"
    html = renderer.render(d, "html")
    assert html.startswith("<!DOCTYPE html>")  # the packaged page...
    assert "<p class=mine>" in html  # ...around the user's article
    assert "<b>Post 2</b>" in html
    # and the packaged Markdown is still there for what the user did not override
    assert "## [Post 1]" in renderer.render(d, "markdown")


def test_a_broken_user_template_names_the_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "syntax.html.j2").write_text(
        "<h1>{{ roundup.title }}</h1>\n\n{% for x in items %}\n"
    )
    (tmp_path / "undefined.html.j2").write_text("<h1>ok</h1>\n<p>{{ roundup.no_such_thing }}</p>\n")
    renderer = Renderer(tmp_path)
    with pytest.raises(TemplateError) as caught:
        renderer.render(draft(item(1)), "html", template="syntax.html.j2")
    message = str(caught.value)
    assert str(tmp_path / "syntax.html.j2") in message
    assert ":3:" in message or ":4:" in message
    with pytest.raises(TemplateError) as caught:
        renderer.render(draft(item(1)), "html", template="undefined.html.j2")
    assert f"{tmp_path / 'undefined.html.j2'}:2" in str(caught.value)
    assert "no_such_thing" in str(caught.value)
    with pytest.raises(TemplateError, match=r"'missing\.j2' not found"):
        renderer.render(draft(item(1)), "html", template="missing.j2")
