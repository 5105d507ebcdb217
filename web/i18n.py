"""Danish and English text: which language a request gets, and the text in that language.

The message ids are the English sentences themselves (gettext's convention), so templates
read as English, English needs no catalogue, and a message without a Danish entry falls back
to readable English instead of a key. Messages that other modules produce in English (error
page titles, the connect flow's problems) translate the same way when they are in `_DANISH`.
A test checks that every `t("…")` in the templates and in `web/*.py` has a Danish entry with
the same `{placeholders}`. The Danish catalogue is kept in parts, by area of the site:
web/danish_site.py, danish_shops.py, danish_settings.py, danish_admin.py, danish_mail.py and
danish_team.py.

No gettext/Babel: two languages and a few hundred strings fit a dict, which keeps the
catalogue greppable and typed, and needs no compile step or new dependency.

Which language: the user's stored choice (`users.locale`), else the browser's own choice
remembered in the `gw_lang` cookie (set by the language switch, and at login from the
stored choice), else `Accept-Language` (Danish when Danish ranks above English), else English.
Times are shown in the shop's time zone on its own pages (a shop setting, Danish local time
unless the owner chose another; `use_zone`), and in Danish local time everywhere else, in
both languages: the shops and their books are Danish, and one clock keeps owner and admin
talking about the same moment. Each time says which zone it is in.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import string
from collections.abc import Mapping
from typing import Final, Literal, TypeGuard, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from starlette.requests import Request
from starlette.responses import Response

from gateway.settings import Settings
from web import danish_admin, danish_mail, danish_settings, danish_shops, danish_site, danish_team

log = logging.getLogger(__name__)

Locale = Literal["da", "en"]
LOCALES: Final[tuple[Locale, ...]] = get_args(Locale)
DEFAULT: Final[Locale] = "en"
COOKIE: Final = "gw_lang"
_COOKIE_AGE: Final = 365 * 24 * 3600

_LANGUAGE_RANGE = re.compile(
    r"^\s*([A-Za-z]{1,8}|\*)(?:-[A-Za-z0-9]{1,8})*\s*(?:;\s*q\s*=\s*([0-9.]+))?\s*$"
)


def zone_named(name: str) -> dt.tzinfo:
    """The zone called `name`; UTC when the time zone database does not know it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):  # an image without tzdata: UTC, not no page
        log.warning("no time zone data for %s; showing times in UTC", name)
        return dt.UTC


ZONE: Final = zone_named("Europe/Copenhagen")


def use_zone(request: Request, name: str) -> None:
    """Shows this request's times in the zone called `name` (a shop's pages, in its own)."""
    request.state.time_zone = zone_named(name)


def zone_of(request: Request) -> dt.tzinfo:
    """The zone this request's times are shown (and its dates read) in."""
    chosen = getattr(request.state, "time_zone", None)
    return chosen if isinstance(chosen, dt.tzinfo) else ZONE


def is_locale(value: object) -> TypeGuard[Locale]:
    return value in LOCALES


def from_accept_language(header: str | None) -> Locale:
    """The first of our languages in the browser's order of preference (RFC 9110 q-values)."""
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate((header or "").split(",")[:32]):
        match = _LANGUAGE_RANGE.match(item)
        if not match:
            continue
        try:
            quality = float(match[2]) if match[2] is not None else 1.0
        except ValueError:
            continue
        if quality > 0:
            ranked.append((-quality, position, match[1].lower()))
    for _, _, language in sorted(ranked):
        if is_locale(language):
            return language
    return DEFAULT


def locale_for(request: Request) -> Locale:
    """The language to answer this request in (see the module docstring for the order)."""
    session = request.scope.get("session")
    stored = session.user.locale if session is not None else None
    if is_locale(stored):
        return stored
    remembered = request.cookies.get(COOKIE)
    if is_locale(remembered):
        return remembered
    return from_accept_language(request.headers.get("accept-language"))


class Translator:
    """`t("English text", name=value)` in the request's language; also formats times."""

    def __init__(self, locale: Locale, zone: dt.tzinfo = ZONE) -> None:
        self.locale = locale
        self.zone = zone
        self._catalogue: Mapping[str, str] = _DANISH if locale == "da" else {}

    def __call__(self, message: str, /, **values: object) -> str:
        text = self._catalogue.get(message, message)
        return text.format_map(values) if values else text

    def datetime(self, moment: dt.datetime | None) -> str:
        """`24. nov. 2026 kl. 10.00 CET` or `24 Nov 2026, 10:00 CET`: the time in this
        translator's zone, saying which (CET in winter, CEST in summer), so nobody reads
        it as their own."""
        if moment is None:
            return ""
        local = moment.astimezone(self.zone)
        month = _MONTHS[self.locale][local.month - 1]
        zone = local.tzname() or ""
        if self.locale == "da":
            return f"{local.day}. {month} {local.year} kl. {local:%H.%M} {zone}".rstrip()
        return f"{local.day} {month} {local.year}, {local:%H:%M} {zone}".rstrip()

    def date(self, moment: dt.datetime | None) -> str:
        if moment is None:
            return ""
        local = moment.astimezone(self.zone)
        month = _MONTHS[self.locale][local.month - 1]
        separator = ". " if self.locale == "da" else " "
        return f"{local.day}{separator}{month} {local.year}"


def translator(request: Request) -> Translator:
    return Translator(locale_for(request), zone_of(request))


def template_context(request: Request) -> dict[str, object]:
    locale = locale_for(request)
    return {"lang": locale, "t": Translator(locale, zone_of(request))}


def remember(response: Response, settings: Settings, locale: Locale) -> None:
    """Keeps the browser's language choice, for pages shown before (or after) a login."""
    response.set_cookie(
        COOKIE,
        locale,
        max_age=_COOKIE_AGE,
        httponly=True,
        secure=settings.is_production,
        samesite="lax",
        path="/",
    )


def placeholders(message: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(message) if name}


_MONTHS: Final[dict[Locale, tuple[str, ...]]] = {
    "da": (
        "jan.",
        "feb.",
        "mar.",
        "apr.",
        "maj",
        "jun.",
        "jul.",
        "aug.",
        "sep.",
        "okt.",
        "nov.",
        "dec.",
    ),
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
}

# English message → Danish, every part of the catalogue.
_DANISH: Final[dict[str, str]] = {
    **danish_site.DANISH,
    **danish_shops.DANISH,
    **danish_settings.DANISH,
    **danish_admin.DANISH,
    **danish_mail.DANISH,
    **danish_team.DANISH,
}
