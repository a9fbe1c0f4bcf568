"""Fuzzing the draft page's forms: whatever a signed-in browser posts (any
fields, any text, numbers of any size or script, the right or a wrong version),
the answer is a save (a redirect or the page) or a 4xx; never a 500.

The posts carry a valid CSRF token, so they reach the form's own code. One
site per test, on SQLite and on PostgreSQL (which refuses some text SQLite
takes); the draft changes as the posts are saved, so later posts meet the
states earlier ones left. Hypothesis runs a fixed number of examples,
derandomized, with no example database.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from helpers.web import NOW, Site, csrf_of, make_site, sign_in
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FUZZ = settings(
    max_examples=80,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
CURRENT = "<the draft's version>"
SHOWN = "<a shown item's id>"
REMOVED = "<a removed item's id>"
ALL_SHOWN = "<every shown item's id, in order>"
ODD_NUMBERS = [
    "0",
    "-1",
    "1e3",
    "²",
    "١٢",
    "٣",
    " 7 ",
    "99999999999",
    "999999999999",
    "9999999999999999999999999",
    "2147483648",
    "9223372036854775808",
]
LETTERS = st.characters(exclude_categories=("Cs",))  # a browser cannot send a lone surrogate
ODD_TEXT = ["", " ", "\x00", "a\x00b", "\r\n", "\u202e", "\ufeff", "<script>", "𝔘"]
TEXT = st.one_of(
    st.text(LETTERS, max_size=30),
    st.sampled_from(ODD_TEXT + ODD_NUMBERS),
    st.integers(min_value=1990, max_value=4100).map(lambda n: "x" * n),  # around the limits
)
# Mostly ids that exist or odd numbers, so posts get past the first check.
NUMBER = st.one_of(
    st.sampled_from([SHOWN, SHOWN, REMOVED]),
    st.sampled_from(ODD_NUMBERS),
    st.text(LETTERS, max_size=6),
)
ITEMS = st.one_of(
    st.just([ALL_SHOWN]),
    st.just([ALL_SHOWN]),
    st.lists(NUMBER, max_size=4).map(lambda extra: [ALL_SHOWN, *extra]),
    st.lists(NUMBER, max_size=6),
)
ACTIONS = st.one_of(
    st.sampled_from(["save", "preview", "search", "up", "down", "remove", "restore", "add"]),
    st.tuples(st.sampled_from(["up", "down", "remove", "restore", "add", "save"]), NUMBER).map(
        lambda pair: f"{pair[0]}-{pair[1]}"
    ),
    st.text(LETTERS, max_size=10),
)
FIELDS = st.dictionaries(
    st.one_of(
        st.tuples(
            st.sampled_from(["blurb", "title", "author", "site", "orig-blurb", "orig-title"]),
            NUMBER,
        ).map(lambda pair: f"{pair[0]}-{pair[1]}"),
        st.sampled_from(["orig-intro", "orig-order", "week", "q"]),
        st.text(LETTERS, max_size=8),
    ),
    TEXT,
    max_size=4,
)
FORMS = st.tuples(
    st.fixed_dictionaries(
        {
            "version": st.one_of(st.just(CURRENT), st.just(CURRENT), NUMBER),
            "action": ACTIONS,
            "item": ITEMS,
            "confirm": st.sampled_from(["publish", "", "no"]),
        },
        optional={"intro": TEXT, "outro": TEXT, "q": TEXT},
    ),
    FIELDS,
).map(lambda pair: {**pair[1], **pair[0]})
PATHS = st.sampled_from(
    ["/drafts/1", "/drafts/1", "/drafts/1", "/drafts/1/approve", "/drafts/1/reopen", "/drafts/new"]
)


@pytest.fixture
def signed_in(tmp_path: Path, db_url: str) -> Iterator[tuple[Site, FlaskClient]]:
    site = make_site(tmp_path, database={"url": db_url})
    client = site.client()
    sign_in(client)
    yield site, client
    site.close()


def filled(site: Site, form: dict[str, Any], token: str) -> dict[str, Any]:
    """The form with its placeholders put in: the draft's real version and ids."""
    draft = site.app.storage.drafts.get(1)
    shown = [i.id for i in draft.shown_items] or [0]
    removed = [i.id for i in draft.items if i.removed] or [0]
    real = {CURRENT: str(draft.version), SHOWN: str(shown[-1]), REMOVED: str(removed[0])}

    def put(text: Any) -> Any:
        if isinstance(text, list):
            listed = [str(i) for i in shown] if ALL_SHOWN in text else []
            return listed + [put(t) for t in text if t != ALL_SHOWN]
        for placeholder, value in real.items():
            text = text.replace(placeholder, value)
        return text

    data = {put(name): put(value) for name, value in form.items()}
    data["csrf_token"] = token
    return data


@FUZZ
@given(form=FORMS, path=PATHS)
def test_any_form_post_is_a_save_or_a_4xx_never_a_500(
    signed_in: tuple[Site, FlaskClient], form: dict[str, Any], path: str
) -> None:
    site, client = signed_in
    if site.app.storage.drafts.get(1).status != "draft":  # approved by an earlier post
        site.app.storage.drafts.reopen(1, by="fuzz", now=NOW, allow_published=True)
    token = csrf_of(client.get("/drafts/1").get_data(as_text=True))
    response = client.post(path, data=filled(site, form, token))
    assert response.status_code < 500, (path, form, response.get_data(as_text=True)[-2000:])
    assert client.get("/drafts/1").status_code == 200
