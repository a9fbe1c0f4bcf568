"""The published round-ups, newest first, each read-only."""

from __future__ import annotations

from flask import Blueprint, render_template

from roundup_bot.entrypoints.web.context import web

bp = Blueprint("published", __name__)


@bp.get("/published")
def index() -> str:
    svc = web().service()
    found = svc.published()
    return render_template(
        "published/index.html",
        drafts=found,
        urls={d.id: svc.public_url(d) for d in found},
        output_dir=str(svc.settings.resolve_path(svc.settings.publish.output_dir)),
    )
