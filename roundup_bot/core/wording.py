"""Small pieces of English for messages people read: counts with the right plural."""

from __future__ import annotations


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``1 feed``, ``3 feeds``, ``1 entry``/``2 entries`` (given ``plural_form``).

    Messages are read by editors and operators; "1 article pages" reads as a bug.
    """
    word = singular if count == 1 else (plural_form or f"{singular}s")
    return f"{count} {word}"
