"""Text Postgres can store. JSON and form bodies can carry a NUL character or a lone UTF-16
surrogate (`\\u0000`, `\\ud800`): valid to their parsers, refused by Postgres (and by
UTF-8), so every place that takes text from outside checks it with this first."""

from __future__ import annotations


def unstorable(text: str) -> str | None:
    """Why `text` cannot be stored, as a field's error message; None when it can."""
    if "\x00" in text:
        return "must not contain NUL characters"
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError:
            return "must be Unicode text: it holds a lone UTF-16 surrogate"
    return None
