"""Fuzzing the config loader: whatever TOML (and ROUNDUP_* environment) it is
given, it returns settings or raises a one-line ConfigError naming the file or
the variable; never another exception, never a traceback.

Three kinds of document: random text, documents built from the real sections
and keys with values of any TOML type, and the example config with random
bytes changed. Hypothesis runs a fixed number of examples, derandomized, with
no example database, so every run tries the same cases.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roundup_bot.config import Settings, load_settings
from roundup_bot.core.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = (ROOT / "config.example.toml").read_text(encoding="utf-8")
SECTIONS = {
    name: sorted(getattr(field.annotation, "model_fields", {}))
    for name, field in Settings.model_fields.items()
    if name not in ("path", "feeds")
}
FEED_KEYS = ["url", "name", "weight", "enabled"]
FUZZ = settings(
    max_examples=150,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def toml_string(text: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's, for text without surrogates)."""
    return json.dumps(text, ensure_ascii=True)


def toml_value(value: Any) -> str:
    """``value`` written inline, as TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{toml_string(k)} = {toml_value(v)}" for k, v in value.items())
        return "{" + inner + "}"
    raise TypeError(type(value))


TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
SCALARS = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    TEXT,
    st.sampled_from(
        [
            "2h",
            "0",
            "1s",
            "friday 09:00",
            "Europe/London",
            "sqlite:///x.db",
            "postgresql://u:p@h/d",
            "https://example.org/feed",
            "http://[::1",
            "https://example.org:99999/",
            "off",
            "nearest",
        ]
    ),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=3)),
    max_leaves=12,
)


@st.composite
def documents(draw: st.DrawFn) -> str:
    """A document of real sections and keys (and some that are not), any values."""
    lines: list[str] = []
    names = [*SECTIONS, "bogus"]
    for section in draw(st.lists(st.sampled_from(names), max_size=5, unique=True)):
        lines.append(f"[{section}]")
        keys = [*SECTIONS.get(section, []), "unknown_key"]
        for key in draw(st.lists(st.sampled_from(keys), max_size=4, unique=True)):
            lines.append(f"{key} = {toml_value(draw(VALUES))}")
    for _ in range(draw(st.integers(0, 3))):
        lines.append("[[feeds]]")
        for key in draw(st.lists(st.sampled_from(FEED_KEYS), max_size=4, unique=True)):
            lines.append(f"{key} = {toml_value(draw(VALUES))}")
    return "\n".join(lines) + "\n"


@st.composite
def mutated_example(draw: st.DrawFn) -> str:
    """The example config with a few characters replaced, inserted or removed."""
    text = EXAMPLE
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(text)))
        cut = draw(st.integers(0, 3))
        put = draw(st.text(st.sampled_from("[]{}\"'=,.\n #\\0aZé\t"), max_size=3))
        text = text[:at] + put + text[at + cut :]
    return text


ENVIRONMENTS = st.dictionaries(
    st.sampled_from(
        [f"ROUNDUP_{s.upper()}_{k.upper()}" for s, keys in SECTIONS.items() for k in keys]
        + ["ROUNDUP_POLLING_NOPE", "ROUNDUP_OTHER_TOOL"]
    ),
    st.one_of(TEXT, VALUES.map(toml_value)),
    max_size=3,
)


def check(tmp_path: Path, body: str | bytes, env: dict[str, str]) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(body if isinstance(body, bytes) else body.encode("utf-8"))
    try:
        found = load_settings(path, env)
    except ConfigError as exc:
        message = str(exc)
        assert "\n" not in message, message
        assert message.startswith(str(path)) or message.startswith("ROUNDUP_"), message
        assert len(message) < 400, message
    else:
        assert isinstance(found, Settings)


@FUZZ
@given(body=st.binary(max_size=300) | TEXT, env=ENVIRONMENTS)
def test_random_text_is_settings_or_a_config_error(
    tmp_path: Path, body: str | bytes, env: dict[str, str]
) -> None:
    check(tmp_path, body, env)


@FUZZ
@given(body=documents(), env=ENVIRONMENTS)
def test_any_values_under_the_real_keys_are_settings_or_a_config_error(
    tmp_path: Path, body: str, env: dict[str, str]
) -> None:
    check(tmp_path, body, env)


@FUZZ
@given(body=mutated_example(), env=ENVIRONMENTS)
def test_a_mutated_example_config_is_settings_or_a_config_error(
    tmp_path: Path, body: str, env: dict[str, str]
) -> None:
    check(tmp_path, body, env)
