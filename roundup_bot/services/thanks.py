"""The thank-you reply: its text from a template the operator may override.

The template is looked up in ``[roundup] templates_dir`` first, then among the
packaged templates (by the renderer, :func:`roundup_bot.adapters.render.post_template`).
It renders plain text (no HTML escaping; a post shows text as text) and must fit
in one post.
"""

from __future__ import annotations

from collections.abc import Callable

from roundup_bot.adapters.render import post_template
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
    folder = settings.roundup.templates_dir
    template = post_template(name, settings.resolve_path(folder) if folder else None)
    title = settings.roundup.title

    def render(
        username: str, links: tuple[str, ...], titles: tuple[str | None, ...], post_url: str
    ) -> str:
        text = template(
            username=username,
            links=list(links),
            titles=[t for t in titles if t],
            post_url=post_url,
            roundup_title=title,
        ).strip()
        if not text:
            raise TemplateError(f"{name}: renders to an empty reply")
        if len(text) > max_chars:
            raise TemplateError(f"{name}: renders to {len(text)} characters, over {max_chars}")
        return text

    return render
