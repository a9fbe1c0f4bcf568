"""Formatting helpers for command output: ISO dates, JSON, plain tables."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import click


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def shorten(text: str | None, width: int) -> str:
    text = (text or "").replace("\n", " ")
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], flexible: int) -> None:
    """Print a plain table; column ``flexible`` takes whatever width is left."""
    total = shutil.get_terminal_size((120, 24)).columns
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    fixed = sum(w for i, w in enumerate(widths) if i != flexible) + 2 * (len(headers) - 1)
    widths[flexible] = max(min(widths[flexible], total - fixed), 12)

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            shorten(c, widths[i]).ljust(widths[i]) for i, c in enumerate(cells)
        ).rstrip()

    click.echo(line(headers))
    click.echo(line(["-" * w for w in widths]))
    for row in rows:
        click.echo(line(row))


def parse_when(value: str, default_tz: Any) -> datetime:
    """ISO 8601 date or date-time; one without a zone is in ``default_tz``."""
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 date such as 2026-11-20") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=default_tz)
    return when
