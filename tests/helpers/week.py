"""A realistic week of local-government blogs, served by real local servers.

Each blog is a :class:`LocalServer` on its own loopback address (127.0.0.2,
127.0.0.3, ...), serving an RSS feed at ``/feed.xml`` and its articles' pages,
so the draft sees several hosts exactly as it would on the web. The week holds
every case an editor meets: a prolific blog, a sponsored post, a click tracker
in front of a blog's links, a syndicated copy naming its original, a link blog,
junk and first-person summaries, a page with a body but no description, and a
redirect to a private address.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path
from typing import Any

from helpers.server import LocalServer, Reply
from roundup_bot.config import settings_from_mapping
from roundup_bot.core.weeks import week_by_label
from roundup_bot.services.app import App
from roundup_bot.services.polling import poll_feeds
from roundup_bot.storage import Storage

WEEK = week_by_label("2026-W48", "Europe/London", "friday 09:00")  # 20 Nov 09:00 - 27 Nov 09:00
NOW = WEEK.end + timedelta(hours=1)


def day(n: float) -> datetime:
    return WEEK.start + timedelta(days=n)


@dataclass
class Post:
    title: str
    published: datetime
    link: str = ""  # absolute; filled in for the blog's own posts
    slug: str = ""
    author: str | None = None
    summary: str = ""
    categories: tuple[str, ...] = ()


@dataclass
class Page:
    """An article page: its metadata, canonical link and body paragraphs."""

    title: str
    author: str | None = None
    site_name: str | None = None
    description: str | None = None
    canonical: str | None = None
    paragraphs: tuple[str, ...] = ()

    def html(self) -> str:
        meta = [f"<title>{escape(self.title)}</title>"]
        meta.append(f'<meta property="og:title" content="{escape(self.title)}">')
        if self.site_name:
            meta.append(f'<meta property="og:site_name" content="{escape(self.site_name)}">')
        if self.author:
            meta.append(f'<meta name="author" content="{escape(self.author)}">')
        if self.description:
            meta.append(f'<meta property="og:description" content="{escape(self.description)}">')
        if self.canonical:
            meta.append(f'<link rel="canonical" href="{escape(self.canonical)}">')
        body = "".join(f"<p>{escape(p)}</p>" for p in self.paragraphs)
        return (
            "<!doctype html><html><head><meta charset='utf-8'>"
            + "".join(meta)
            + "</head><body><nav><a href='/'>Home</a> <a href='/about'>About us</a></nav>"
            + "<div class='cookie-banner'>We use cookies to make this site work."
            + " Accept all cookies.</div>"
            + f"<main><article><h1>{escape(self.title)}</h1><p>Posted on 24 November</p>"
            + body
            + "</article></main><footer>Copyright 2026. All rights reserved.</footer>"
            + "</body></html>"
        )


def rss(title: str, site: str, posts: Sequence[Post]) -> str:
    items = []
    for post in posts:
        categories = "".join(f"<category>{escape(c)}</category>" for c in post.categories)
        author = f"<dc:creator>{escape(post.author)}</dc:creator>" if post.author else ""
        items.append(
            f"<item><title>{escape(post.title)}</title><link>{escape(post.link)}</link>"
            f"<guid>{escape(post.link)}</guid>{author}{categories}"
            f"<pubDate>{format_datetime(post.published.astimezone(UTC), usegmt=True)}</pubDate>"
            f"<description>{escape(post.summary)}</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"<title>{escape(title)}</title><link>{escape(site)}</link>"
        + "".join(items)
        + "</channel></rss>"
    )


@dataclass
class Blog:
    server: LocalServer
    name: str
    posts: list[Post] = field(default_factory=list)

    def url(self, path: str = "/") -> str:
        return self.server.url(path)

    def page(self, slug: str, page: Page) -> str:
        return self.server.route(
            f"/posts/{slug}",
            Reply(200, {"Content-Type": "text/html; charset=utf-8"}, page.html().encode()),
        )

    def post(self, slug: str, page: Page | None = None, **fields: Any) -> Post:
        """A post of this blog, at its own address, with its page."""
        link = self.page(slug, page or Page(fields["title"]))
        post = Post(link=link, slug=slug, **fields)
        self.posts.append(post)
        return post

    def link(self, link: str, **fields: Any) -> Post:
        """An entry whose link goes somewhere else (a tracker, another site)."""
        post = Post(link=link, **fields)
        self.posts.append(post)
        return post

    def publish(self) -> str:
        return self.server.route(
            "/feed.xml",
            Reply.feed(rss(self.name, self.url("/"), self.posts)),
        )


@dataclass
class Week:
    blogs: dict[str, Blog]
    tracker: LocalServer
    elsewhere: LocalServer  # sites that are not feeds (a link blog's targets)

    def feed_urls(self) -> list[tuple[str, str]]:
        return [(blog.publish(), blog.name) for blog in self.blogs.values()]


LOREM = (
    "The team spent the autumn talking to residents in libraries, leisure centres and"
    " community cafes about what they need from the council's website."
)


@contextmanager
def fixture_week() -> Iterator[Week]:
    """The week's blogs, started. Every blog's feed is published when asked for."""
    with ExitStack() as stack:
        servers = [stack.enter_context(LocalServer(f"127.0.0.{n}")) for n in range(2, 14)]
        tracker, elsewhere = servers[0], servers[1]
        names = [
            "Comms2point0",
            "Leeds Digital",
            "Fireball Links",
            "Medium Copies",
            "Ann Example",
            "Katie Floyd",
            "Shorty",
            "Housing Matters",
            "LocalGov Digital",
            "Social Care Notes",
        ]
        blogs = {name: Blog(server, name) for name, server in zip(names, servers[2:], strict=True)}
        week = Week(blogs=blogs, tracker=tracker, elsewhere=elsewhere)
        _write_the_week(week)
        yield week


def _write_the_week(week: Week) -> None:
    b = week.blogs
    # A prolific blog: six posts late in the week (they would take six places).
    for n in range(6):
        b["Comms2point0"].post(
            f"post-{n}",
            Page(f"Comms post {n}", author="Dan Slee", site_name="Comms2point0"),
            title=f"Comms post {n}",
            published=day(6.4 - n * 0.05),
            author="Dan Slee",
            summary=f"Dan Slee rounds up comms idea number {n} for councils. It is a good one.",
        )
    # First person, by name: quoted and attributed.
    b["Comms2point0"].posts[
        0
    ].summary = "We opened up social media to every member of staff. Here is what happened next."
    b["Comms2point0"].posts[0].author = "Helen Reynolds"
    # A click tracker in front of the blog's links, and a junk summary ("Read more")
    # with a page that describes itself.
    leeds = b["Leeds Digital"]
    real = leeds.page(
        "bins",
        Page(
            "Rebuilding the bins service",
            author="Priya Shah",
            site_name="Leeds Digital",
            description="Forty interviews with residents changed how the bins service works.",
            paragraphs=(LOREM,),
        ),
    )
    week.tracker.route("/link/1/bins", Reply.redirect(302, real))
    leeds.link(
        week.tracker.url("/link/1/bins"),
        title="Rebuilding the bins service",
        published=day(5),
        author="Priya Shah",
        summary="Read more",
    )
    # A link blog: its entry points at another site's article; and two adverts.
    birch = week.elsewhere.route(
        "/blog/a-post",
        Reply(
            200,
            {"Content-Type": "text/html"},
            Page(
                "Why I still use RSS in 2026",
                author="Matt Birchler",
                site_name="Birchtree",
                description="Matt Birchler on why feeds still matter for following local news.",
            )
            .html()
            .encode(),
        ),
    )
    fireball = b["Fireball Links"]
    fireball.link(
        birch,
        title="Why I still use RSS in 2026",
        published=day(4),
        author="John Gruber",
        summary="I love this piece. Feeds are how I read everything.",
    )
    fireball.post(
        "sponsor",
        title="[Sponsor] Timing — Automatic Time Tracking for Mac",
        published=day(6.9),
        author="John Gruber",
        summary="Timing tracks your time automatically. Try it free this week.",
    )
    fireball.post(
        "partner",
        title="Making timesheets painless",
        published=day(6.8),
        author="John Gruber",
        summary="A word from this week's partner about timesheets for councils.",
        categories=("Sponsored",),
    )
    # A syndicated copy that names its original, carried by both blogs' feeds.
    ann = b["Ann Example"]
    original = ann.post(
        "original",
        Page("Open data in small councils", author="Ann Example", site_name="Ann Example"),
        title="Open data in small councils",
        published=day(3),
        author="Ann Example",
        summary="Small councils can publish open data without a data team, and should.",
    )
    b["Medium Copies"].post(
        "copy",
        Page("Open data in small councils", author="Ann Example", canonical=original.link),
        title="Open data in small councils",
        published=day(3.5),
        author="Ann Example",
        summary="Small councils can publish open data without a data team, and should.",
    )
    # A personal blog named after its author; a summary that is only "[…]" and a page
    # with no description but a real first paragraph.
    b["Katie Floyd"].post(
        "notes",
        Page(
            "Notes from a digital week",
            author="Katie Floyd",
            site_name="Katie Floyd",
            paragraphs=(
                "Katie Floyd",
                "The digital team spent the week testing the new council tax forms with"
                " residents, and found three things that confused almost everyone.",
                "More paragraphs follow here.",
            ),
        ),
        title="Notes from a digital week",
        published=day(2),
        author="Katie Floyd",
        summary="[…]",
    )
    # A link whose redirect leads to a private address: never followed.
    shorty = b["Shorty"]
    week.tracker.route("/go/metadata", Reply.redirect(302, "http://169.254.169.254/latest/"))
    shorty.link(
        week.tracker.url("/go/metadata"),
        title="A short link that goes nowhere good",
        published=day(1),
        author="Sam Short",
        summary="This link is a test of the address rules for councils everywhere.",
    )
    # WordPress boilerplate as the summary, with a page description.
    b["Housing Matters"].post(
        "homes",
        Page(
            "Building homes people can afford",
            author="Jo Bloggs",
            site_name="Housing Matters",
            description="How one district council built 200 social homes in three years.",
        ),
        title="Building homes people can afford",
        published=day(1.5),
        author="Jo Bloggs",
        summary="The post Building homes people can afford appeared first on Housing Matters.",
    )
    b["LocalGov Digital"].post(
        "pipeline",
        Page("The pipeline, a year on", author="Phil Rumens", site_name="LocalGov Digital"),
        title="The pipeline, a year on",
        published=day(0.5),
        author="Phil Rumens",
        summary="A year after launch, the pipeline lists 400 shared council projects.",
    )
    b["Social Care Notes"].post(
        "care",
        Page("Strengths-based practice", author="Lyn Romeo", site_name="Social Care Notes"),
        title="Strengths-based practice",
        published=day(0.2),
        author="Lyn Romeo",
        summary="Lyn Romeo explains what strengths-based practice means for social workers.",
    )


def week_app(storage: Storage, tmp_path: Path, week: Week, **roundup: Any) -> App:
    """An app over ``storage`` whose feeds are the week's blogs, link details on."""
    data: dict[str, Any] = {
        "database": {"url": "sqlite:///unused.db"},
        "publish": {"output_dir": str(tmp_path / "public")},
        "roundup": {"fetch_link_details": True, **roundup},
        "polling": {"timeout": 10},
        "feeds": [{"url": url, "name": name} for url, name in week.feed_urls()],
    }
    settings = settings_from_mapping(data, "<test>", environ={})
    return App(settings=settings, storage=storage)


def poll(app: App) -> None:
    app.sync_feeds(NOW)
    feeds = app.storage.feeds.for_update(NOW, mode="all")
    outcomes = poll_feeds(
        app.storage, feeds, app.feed_policy(), app.poll_options(), clock=lambda: NOW
    )
    assert all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok]
