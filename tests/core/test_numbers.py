"""Whole numbers read from outside text: ASCII digits of a sane length, or None."""

from __future__ import annotations


def test_whole_numbers_from_outside_text_never_raise() -> None:
    from roundup_bot.core.numbers import whole_number

    assert whole_number(" 120 ") == 120
    for hostile in ("²", "٣", "1²", "-1", "1e3", "", None, "9" * 5000):
        assert whole_number(hostile) is None
