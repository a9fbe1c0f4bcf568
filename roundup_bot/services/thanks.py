"""The thank-you reply: its text from a Jinja2 template the operator may override.

The template is looked up in ``[roundup] templates_dir`` first, then among the
packaged templates. It renders plain text (no HTML escaping; X shows text as
text) and must fit in one post.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

import jinja2

from roundup_bot.config import Settings
from roundup_bot.core.errors import TemplateError

MAX_CHARS = 280

#: (username, links, titles, post URL) -> the reply's text. Raises TemplateError.
ThanksText = Callable[[str, tuple[str, ...], tuple[str | None, ...], str], str]


def thanks_renderer(
    settings: Settings, name: str | None = None, max_chars: int = MAX_CHARS
) -> ThanksText:
    """Load a channel's thank-you template now (so a broken one fails before any
    reading): ``name``, by default ``[twitter] thank_template``. ``max_chars`` is
    the platform's limit for one post (X 280, Mastodon 500, Bluesky 300).

    Raises:
        TemplateError: the template is missing or does not compile.
    """
    name = name or settings.twitter.thank_template
    folders: list[str] = []
    if settings.roundup.templates_dir:
        folders.append(str(settings.resolve_path(settings.roundup.templates_dir)))
    folders.append(str(Path(str(files("roundup_bot._templates")))))
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folders),
        autoescape=False,  # noqa: S701 - plain text for a post, never HTML
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
    )
    try:
        template = environment.get_template(name)
    except jinja2.TemplateNotFound:
        raise TemplateError(
            f"{name}: thank-you template not found in {', '.join(folders)}"
        ) from None
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"{exc.filename or name}:{exc.lineno}: {exc.message}") from exc
    title = settings.roundup.title

    def render(
        username: str, links: tuple[str, ...], titles: tuple[str | None, ...], post_url: str
    ) -> str:
        try:
            text = template.render(
                username=username,
                links=list(links),
                titles=[t for t in titles if t],
                post_url=post_url,
                roundup_title=title,
            ).strip()
        except jinja2.TemplateError as exc:
            raise TemplateError(f"{name}: {exc}") from exc
        if not text:
            raise TemplateError(f"{name}: renders to an empty reply")
        if len(text) > max_chars:
            raise TemplateError(f"{name}: renders to {len(text)} characters, over {max_chars}")
        return text

    return render
