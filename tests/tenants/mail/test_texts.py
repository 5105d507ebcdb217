"""Every sentence an alert mail says in English has a Danish entry with the same
placeholders (the mails' own catalogue: the domain cannot use the web's)."""

from __future__ import annotations

import ast
import string
from pathlib import Path

from tenants.mail import texts
from tenants.mail.texts import Body, Translator

SOURCES = [Path(texts.__file__).with_name("compose.py")]


def placeholders(message: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(message) if name}


def messages() -> set[str]:
    found = set()
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "t"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.add(node.args[0].value)
    return found


def test_every_mail_sentence_has_danish_with_the_same_placeholders() -> None:
    found = messages()
    assert len(found) > 15
    missing = sorted(m for m in found if m not in texts.DANISH)
    assert missing == []
    for message in found:
        assert placeholders(texts.DANISH[message]) == placeholders(message), message


def test_the_body_escapes_html_and_keeps_links_clickable() -> None:
    body = Body().paragraph("<b>Shop & co</b>").link("Reconnect", "https://g.example/s?a=1&b=2")
    rendered = body.html("da")
    assert "&lt;b&gt;Shop &amp; co&lt;/b&gt;" in rendered
    assert 'href="https://g.example/s?a=1&amp;b=2"' in rendered
    assert "Reconnect:\nhttps://g.example/s?a=1&b=2" in body.text()
    assert Translator("da")("Hello,") == "Hej,"
    assert Translator("en")("Hello,") == "Hello,"
