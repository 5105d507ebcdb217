"""`gateway.storable`: what Postgres cannot store is named, everything else passes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gateway.storable import unstorable


def test_nul_characters_and_lone_surrogates_are_named() -> None:
    assert unstorable("Karen\x00") == "must not contain NUL characters"
    assert "surrogate" in (unstorable("Sokker \ud800") or "")
    assert unstorable("Søren Kierkegaard ✓ 😀") is None
    assert unstorable("") is None


@given(st.text())
def test_it_says_no_exactly_when_postgres_would(text: str) -> None:
    # Postgres text is UTF-8 without NUL: what encodes and holds no NUL is storable.
    try:
        text.encode()
        storable = "\x00" not in text
    except UnicodeEncodeError:
        storable = False
    assert (unstorable(text) is None) == storable
