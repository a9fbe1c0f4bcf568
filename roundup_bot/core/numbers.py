"""Reading a whole number from outside text (HTTP headers, lock rows).

``str.isdigit()`` is true for "²" and "٣", which ``int()`` then refuses or reads
as another number, and a 5,000-digit string is over ``int()``'s limit: a hostile
header must give None, never an exception.
"""

from __future__ import annotations


def whole_number(text: str | None, max_digits: int = 18) -> int | None:
    """The number ``text`` spells in ASCII digits (spaces around allowed), else None."""
    if text is None:
        return None
    text = text.strip()
    if not text or len(text) > max_digits or not (text.isascii() and text.isdigit()):
        return None
    return int(text)
