"""Rendering a round-up with Jinja2.

Templates are looked up in ``[roundup] templates_dir`` first, then in the
packaged ``templates/``; a user template may extend or include a packaged one
by its name prefixed with ``package/`` (``{% extends "package/roundup.html.j2" %}``).
Every environment uses StrictUndefined, so a misspelt variable is an error
rather than a silent blank. Any problem with a template becomes a
:class:`TemplateError` naming the template file and line.

Feed and tweet text is untrusted. HTML templates are always autoescaped,
whatever the template's name; in Markdown every value is escaped so it cannot
become a link, emphasis or raw HTML; and every link is checked to be http(s)
before it reaches any template (anything else becomes ``#``).
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

import jinja2

from roundup_bot.config import Settings
from roundup_bot.core.curation import excerpt
from roundup_bot.core.errors import TemplateError
from roundup_bot.core.records import Draft, DraftItem

Format = Literal["html", "markdown", "text"]
FORMATS: tuple[Format, ...] = ("html", "markdown", "text")


def packaged_templates() -> Path:
    """The folder of the templates that ship with roundup-bot."""
    resource = files("roundup_bot._templates")
    with as_file(resource) as path:  # a real folder for a normal or editable install
        return Path(path)


# --- what templates see ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ItemView:
    """One item as templates see it (documented in the README)."""

    position: int
    url: str  # http(s) only; anything else is "#"
    title: str  # the article's title (its URL when there is none)
    author: str | None
    site_name: str | None  # the blog
    via: str | None  # the link blog that pointed at the article
    blurb: str
    suggested_by: tuple[str, ...]  # "@name", each person once
    thanks: str  # "thanks to @a and @b for the tip", or "" when nobody suggested it
    published: datetime | None  # the article's date in [roundup] timezone
    score: float


@dataclass(frozen=True, slots=True)
class RoundupView:
    """The round-up as templates see it (documented in the README)."""

    id: int
    title: str
    week: str  # "2026-W48"
    week_start: datetime  # in [roundup] timezone
    week_end: datetime
    date: str  # the week's end as "27 November 2026"
    intro: str
    outro: str
    status: str
    approved_by: str | None
    approved_at: datetime | None
    published_at: datetime | None
    republished: bool  # reopened and published again
    url: str | None  # where the HTML is published, when [publish] base_url is set
    items: tuple[ItemView, ...]
    description: str = ""  # the intro as one short line, for link previews (og:description)


#: A link preview's description: the intro, cut at a word to this many characters.
DESCRIPTION_CHARS = 200
_URL_SAFE = ":/?#[]@!$&'()*+,;=%~-._"


def safe_url(url: str | None) -> str:
    """An http(s) URL, or '#' for anything else (javascript:, data:, relative...)."""
    if not url:
        return "#"
    text = url.strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return "#"
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return "#"
    # Percent-encode anything that is not plainly part of a URL (spaces, quotes, <>,
    # backticks, control characters), keeping what is already encoded.
    return quote(text, safe=_URL_SAFE)


def and_list(names: tuple[str, ...] | list[str]) -> str:
    """['@a', '@b', '@c'] -> '@a, @b and @c'."""
    names = list(names)
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def paragraphs(text: str | None) -> list[str]:
    """Text split at blank lines into paragraphs, each stripped; empty ones dropped."""
    return [part.strip() for part in re.split(r"\n\s*\n", text or "") if part.strip()]


def thanks_line(people: tuple[str, ...]) -> str:
    return f"thanks to {and_list(people)} for the tip" if people else ""


# Characters that XML 1.0 forbids (C0 controls but tab and newlines, lone surrogates,
# U+FFFE/U+FFFF): an editor's pasted text can hold them, and one in feed.xml stops lxml.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def clean_text(text: str) -> str:
    """``text`` without the characters no XML or HTML page may hold."""
    return _NOT_XML.sub("", text)


def _clean(text: str | None) -> str | None:
    return clean_text(text) if text is not None else None


def roundup_view(draft: Draft, zone: str, base_url: str = "") -> RoundupView:
    """What templates see of ``draft``; every text is free of XML-forbidden characters."""
    tz = ZoneInfo(zone)

    def item_view(item: DraftItem) -> ItemView:
        return ItemView(
            position=item.position,
            url=safe_url(item.url),
            title=clean_text(item.title or item.url),
            author=_clean(item.author),
            site_name=_clean(item.site_name),
            via=_clean(item.via),
            blurb=clean_text(item.blurb),
            suggested_by=tuple(clean_text(name) for name in item.suggested_by),
            thanks=clean_text(thanks_line(item.suggested_by)),
            published=item.published.astimezone(tz) if item.published else None,
            score=item.score,
        )

    end = draft.period_end.astimezone(tz)
    return RoundupView(
        id=draft.id,
        title=clean_text(draft.title),
        week=draft.week,
        week_start=draft.period_start.astimezone(tz),
        week_end=end,
        date=f"{end.day} {end:%B %Y}",
        intro=clean_text(draft.intro),
        outro=clean_text(draft.outro),
        status=draft.status,
        approved_by=_clean(draft.approved_by),
        approved_at=draft.approved_at.astimezone(tz) if draft.approved_at else None,
        published_at=draft.published_at.astimezone(tz) if draft.published_at else None,
        republished=draft.publish_count > 1 or (draft.reopened_at is not None),
        url=f"{base_url.rstrip('/')}/{draft.week}.html" if base_url else None,
        items=tuple(item_view(item) for item in draft.shown_items),
        description=excerpt(" ".join(paragraphs(clean_text(draft.intro))), DESCRIPTION_CHARS) or "",
    )


# --- Markdown escaping -------------------------------------------------------------------

_MD_INLINE = re.compile(r"([\\`*_\[\]<>&|~])")
# Block syntax only counts at the start of a line: headings, quotes, lists, rules.
_MD_LINE_START = re.compile(r"^(\s*)([#>+=-])", re.MULTILINE)
_MD_ORDERED = re.compile(r"^(\s*\d+)([.)])", re.MULTILINE)


class MarkdownSafe(str):
    """Text that is already Markdown (a link target made by ``md_url``)."""

    __slots__ = ()


def markdown_escape(value: Any) -> str:
    """Make any value literal text in Markdown: no links, emphasis or raw HTML."""
    if value is None:
        return ""
    if isinstance(value, MarkdownSafe):
        return value
    text = _MD_INLINE.sub(r"\\\1", str(value))
    text = _MD_LINE_START.sub(lambda m: f"{m.group(1)}\\{m.group(2)}", text)
    return _MD_ORDERED.sub(lambda m: f"{m.group(1)}\\{m.group(2)}", text)


def md_url(url: str | None) -> MarkdownSafe:
    """A link target for ``[text](<target>)``: http(s) only, with no character that
    could end the target early."""
    return MarkdownSafe(quote(safe_url(url), safe=_URL_SAFE.replace("(", "").replace(")", "")))


# --- environments ------------------------------------------------------------------------


class Renderer:
    """Renders drafts with the configured templates. One per app; cheap to keep."""

    def __init__(
        self,
        templates_dir: Path | None = None,
        *,
        timezone: str = "Europe/London",
        base_url: str = "",
        templates: Mapping[Format, str] | None = None,
    ) -> None:
        self.templates_dir = templates_dir
        self.timezone = timezone
        self.base_url = base_url
        self.templates: dict[Format, str] = {
            "html": "roundup.html.j2",
            "markdown": "roundup.md.j2",
            "text": "roundup.txt.j2",
            **(templates or {}),
        }
        package = packaged_templates()
        searched = [str(templates_dir)] if templates_dir is not None else []
        searched.append(str(package))
        loader = jinja2.ChoiceLoader(
            [
                jinja2.FileSystemLoader(searched),
                jinja2.PrefixLoader({"package": jinja2.FileSystemLoader(str(package))}),
            ]
        )
        self._searched = searched
        common: dict[str, Any] = {
            "loader": loader,
            "undefined": jinja2.StrictUndefined,
            "trim_blocks": True,
            "lstrip_blocks": True,
            "keep_trailing_newline": True,
        }
        self.html = jinja2.Environment(autoescape=True, **common)
        # Markdown escapes every value itself (finalize); plain text is not markup at all.
        self.markdown = jinja2.Environment(
            autoescape=False,  # noqa: S701
            finalize=markdown_escape,
            **common,
        )
        self.text = jinja2.Environment(autoescape=False, **common)  # noqa: S701
        for env in (self.html, self.markdown, self.text):
            env.filters["and_list"] = and_list
            env.filters["safe_url"] = safe_url
            env.filters["paragraphs"] = paragraphs
        self.markdown.filters["md_url"] = md_url
        self.markdown.filters["md"] = markdown_escape

    def environment(self, fmt: Format) -> jinja2.Environment:
        return {"html": self.html, "markdown": self.markdown, "text": self.text}[fmt]

    def context(self, draft: Draft) -> dict[str, Any]:
        view = roundup_view(draft, self.timezone, self.base_url)
        return {"roundup": view, "items": view.items}

    def render(self, draft: Draft, fmt: Format = "html", template: str | None = None) -> str:
        """Render ``draft`` in ``fmt`` with ``template`` (default: the configured one).

        Raises:
            TemplateError: the template is missing or broken (names file and line).
        """
        return self.render_template(template or self.templates[fmt], fmt=fmt, **self.context(draft))

    def render_template(self, name: str, *, fmt: Format, **context: Any) -> str:
        with template_errors(name, self._searched):
            return self.environment(fmt).get_template(name).render(**context)


@contextmanager
def template_errors(name: str, searched: Sequence[str]) -> Iterator[None]:
    """Turn whatever Jinja2 (or a template's own expression) raises into one TemplateError
    naming the file and line: the one place that maps Jinja2's errors."""
    try:
        yield
    except jinja2.TemplateNotFound as exc:
        missing = exc.name or name
        raise TemplateError(f"template {missing!r} not found in {' or '.join(searched)}") from None
    except jinja2.TemplateSyntaxError as exc:
        where = exc.filename or exc.name or name
        raise TemplateError(f"{where}:{exc.lineno}: {exc.message}") from exc
    except jinja2.TemplateError as exc:
        raise TemplateError(f"{_where(exc, name)}: {exc}") from exc
    except (TypeError, ValueError, AttributeError, KeyError, ZeroDivisionError) as exc:
        raise TemplateError(f"{_where(exc, name)}: {type(exc).__name__}: {exc}") from exc


#: Renders a post template with its values as keyword arguments. Raises TemplateError.
PostText = Callable[..., str]


def post_template(name: str, templates_dir: Path | None) -> PostText:
    """A plain-text template for a post (a thank-you reply), compiled now so a broken
    one fails before any work is done.

    Looked up in ``templates_dir`` first, then among the packaged templates. Nothing
    is escaped (a post shows text as text), and blocks keep their whitespace as
    written, unlike the round-up's text format.

    Raises:
        TemplateError: the template is missing or does not compile (and, from the
            returned function, when rendering fails).
    """
    searched = [str(templates_dir)] if templates_dir is not None else []
    searched.append(str(packaged_templates()))
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(searched),
        autoescape=False,  # noqa: S701 - plain text for a post, never HTML
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
    )
    with template_errors(name, searched):
        template = environment.get_template(name)

    def render(**context: Any) -> str:
        with template_errors(name, searched):
            return template.render(**context)

    return render


def _where(exc: BaseException, name: str) -> str:
    """'path/to/template.j2:LINE' from the traceback Jinja rewrote to point at templates."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename and frame.filename.endswith((".j2", ".html", ".md", ".txt", ".xml")):
            return f"{frame.filename}:{frame.lineno}"
    return name


def renderer_for(settings: Settings) -> Renderer:
    """The renderer the settings ask for: their templates folder, zone and base URL."""
    roundup = settings.roundup
    folder = settings.resolve_path(roundup.templates_dir) if roundup.templates_dir else None
    return Renderer(
        folder,
        timezone=roundup.timezone,
        base_url=settings.publish.base_url,
        templates={
            "html": roundup.template,
            "markdown": roundup.markdown_template,
            "text": roundup.text_template,
        },
    )
