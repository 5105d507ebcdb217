"""Danish and English: the catalogue is complete, and each request gets the right language."""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from jinja2 import nodes

import web
from gateway.db import Pool
from gateway.vault import Vault
from tests.factories import make_shop, make_user
from tests.web.test_accounts import login
from web import errors, i18n
from web.app import create_templates

WEB = Path(web.__file__).parent
ENV = create_templates().env


def source_of(name: str) -> str:
    assert ENV.loader is not None
    source, _, _ = ENV.loader.get_source(ENV, name)
    return source


def template_messages() -> dict[str, str]:
    """Every literal `t("…")` in the templates, with where it is."""
    found: dict[str, str] = {}
    for name in ENV.list_templates():
        for call in ENV.parse(source_of(name)).find_all(nodes.Call):
            if (
                isinstance(call.node, nodes.Name)
                and call.node.name == "t"
                and call.args
                and isinstance(call.args[0], nodes.Const)
            ):
                found.setdefault(call.args[0].value, name)
    return found


def python_messages() -> dict[str, str]:
    """Every literal `t("…")` in web/*.py."""
    found: dict[str, str] = {}
    for path in sorted(WEB.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "t"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.setdefault(node.args[0].value, path.name)
    return found


def sentences_in(module: Path) -> set[str]:
    """User-facing English other modules hand to templates: string constants that start
    with a capitalised word and go on, outside docstrings and log calls."""
    tree = ast.parse(module.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    logged = {
        id(arg)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "log"
        for arg in node.args
    }
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings | logged
        and re.match(r"^[A-Z][a-z]+ ", node.value)
        and not node.value.startswith(("SELECT", "UPDATE", "INSERT", "HX-"))
    }


def test_every_message_has_danish_with_the_same_placeholders() -> None:
    messages = {**template_messages(), **python_messages()}
    assert len(messages) > 100  # the collectors work
    missing = {m: where for m, where in messages.items() if m not in i18n._DANISH}
    assert not missing, f"no Danish for: {missing}"
    for english, danish in i18n._DANISH.items():
        assert i18n.placeholders(english) == i18n.placeholders(danish), english


def test_messages_from_other_modules_are_translated_too() -> None:
    shown = {text for pair in errors._TEXT.values() for text in pair} | {"Error"}
    shown |= {"The request could not be completed."}
    shown |= sentences_in(WEB / "connect.py")
    shown |= sentences_in(WEB.parent / "tenants" / "dinero" / "connections" / "oauth_flows.py")
    assert "The connection was not made" in shown  # the collector works
    assert sorted(shown - i18n._DANISH.keys()) == []


# What may stand in a template outside t(): the brands, the language names in their own
# language, and punctuation.
_UNTRANSLATED_OK = {"Dinero Gateway", "Dinero", "Shopify", "WooCommerce", "Dansk", "English"}
_JINJA = re.compile(r"{{.*?}}|{%.*?%}|{#.*?#}", re.S)


def visible_text(source: str) -> list[str]:
    """Text a reader would see, with every Jinja expression and tag taken out."""
    html = _JINJA.sub(" ", source)
    html = re.sub(r"<!--.*?-->", " ", html, flags=re.S)
    attributes = re.findall(r'\b(?:placeholder|title|aria-label|alt)="([^"]*)"', html)
    text = re.sub(r"<[^>]*>", "\n", html)
    text = re.sub(r"&[a-z]+;|&#\d+;", " ", text)
    pieces = [p.strip(" ·—:(),.\t") for p in text.split("\n")] + attributes
    return [
        p
        for p in pieces
        if re.search(r"[A-Za-zÆØÅæøå]", p) and p not in _UNTRANSLATED_OK and p[0] != "/"
    ]


@pytest.mark.parametrize("name", ENV.list_templates())
def test_templates_show_no_text_outside_the_catalogue(name: str) -> None:
    assert visible_text(source_of(name)) == []


def test_the_text_checker_finds_untranslated_text() -> None:
    assert visible_text('<p>{{ t("Fine") }}</p><button title="Oops">Save</button>') == [
        "Save",
        "Oops",
    ]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "en"),
        ("", "en"),
        ("da", "da"),
        ("da-DK,da;q=0.9,en-US;q=0.8,en;q=0.7", "da"),
        ("en-US,en;q=0.9,da;q=0.8", "en"),
        ("de-DE,de;q=0.9,da;q=0.8,en;q=0.5", "da"),  # Danish ranks above English
        ("en;q=0.5, da;q=0.6", "da"),  # order of preference, not of listing
        ("da;q=0, en", "en"),  # q=0 means "not this one"
        ("sv, nb", "en"),
        ("*", "en"),
        ("da;q=banana, en", "en"),
    ],
)
def test_accept_language(header: str | None, expected: str) -> None:
    assert i18n.from_accept_language(header) == expected


def test_translator_formats_and_falls_back_to_english() -> None:
    da, en = i18n.Translator("da"), i18n.Translator("en")
    assert da("Log in") == "Log ind" and en("Log in") == "Log in"
    assert da("Page {number}", number=3) == "Side 3"
    assert da("A sentence nobody translated.") == "A sentence nobody translated."
    # Braces in a message without values are left alone (connect problems pass text through).
    assert da("{shop} — order {number}") == "{shop} — order {number}"


def test_times_are_danish_local_time_in_each_language() -> None:
    winter = datetime(2026, 11, 24, 9, 5, tzinfo=UTC)
    summer = datetime(2026, 7, 1, 22, 30, tzinfo=UTC)
    da, en = i18n.Translator("da"), i18n.Translator("en")
    assert da.datetime(winter) == "24. nov. 2026 kl. 10.05 CET"
    assert en.datetime(winter) == "24 Nov 2026, 10:05 CET"
    assert da.datetime(summer) == "2. jul. 2026 kl. 00.30 CEST"  # the next day
    assert da.date(winter) == "24. nov. 2026" and en.date(winter) == "24 Nov 2026"
    assert da.datetime(None) == ""


async def test_a_danish_browser_gets_danish(client: httpx.AsyncClient) -> None:
    page = await client.get("/login", headers={"Accept-Language": "da-DK,da;q=0.9,en;q=0.8"})
    assert '<html lang="da">' in page.text
    assert "<h1>Log ind</h1>" in page.text and "Adgangskode" in page.text
    english = await client.get("/login")
    assert '<html lang="en">' in english.text and "<h1>Log in</h1>" in english.text


async def test_error_pages_speak_the_language_too(client: httpx.AsyncClient) -> None:
    page = await client.get("/no/such/page", headers={"Accept-Language": "da"})
    assert page.status_code == 404 and "Ikke fundet" in page.text


async def test_switching_language_without_an_account_sets_a_cookie(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/language", data={"locale": "da", "next": "/login"})
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert "HttpOnly" in response.headers["set-cookie"]
    # The cookie wins over the browser's header.
    page = await client.get("/login", headers={"Accept-Language": "en"})
    assert '<html lang="da">' in page.text
    # Unknown languages and foreign targets change nothing.
    odd = await client.post("/language", data={"locale": "de", "next": "https://evil.example"})
    assert odd.headers["location"] == "/" and "set-cookie" not in odd.headers


async def test_a_users_language_is_stored_and_follows_them(
    client: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    shop, _, owner = await make_shop(pool, vault)
    csrf = await login(client, owner.email)
    # Logged in, the switch changes the account: it needs the CSRF token.
    refused = await client.post("/language", data={"locale": "da", "next": "/"})
    assert refused.status_code == 403
    assert await pool.fetchval("SELECT locale FROM users WHERE id = $1", owner.id) is None
    switched = await client.post(
        "/language", data={"locale": "da", "next": f"/shops/{shop.id}", "csrf_token": csrf}
    )
    assert switched.status_code == 303 and switched.headers["location"] == f"/shops/{shop.id}"
    assert await pool.fetchval("SELECT locale FROM users WHERE id = $1", owner.id) == "da"
    # The stored choice beats an English browser, in another browser too.
    async with httpx.AsyncClient(transport=client._transport, base_url=client.base_url) as other:
        await login(other, owner.email)
        page = await other.get(f"/shops/{shop.id}", headers={"Accept-Language": "en"})
        assert '<html lang="da">' in page.text and "Ikke forbundet" in page.text
        assert 'data-status="not_connected"' in page.text


async def test_the_switch_is_on_every_page_and_works_without_javascript(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    user = await make_user(pool)
    await login(client, user.email)
    page = await client.get("/?tab=x")
    form = re.search(r'<form method="post" action="/language"[^>]*>(.*?)</form>', page.text, re.S)
    assert form is not None and 'hx-boost="false"' in form.group(0)
    assert 'name="csrf_token"' in form.group(1) and 'value="/?tab=x"' in form.group(1)
    assert 'name="locale" value="da"' in form.group(1)
