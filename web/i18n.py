"""Danish and English text: which language a request gets, and the Danish catalogue.

The message ids are the English sentences themselves (gettext's convention), so templates
read as English, English needs no catalogue, and a message without a Danish entry falls back
to readable English instead of a key. Messages that other modules produce in English (error
page titles, the connect flow's problems) translate the same way when they are in `_DANISH`.
A test checks that every `t("…")` in the templates and in `web/*.py` has a Danish entry with
the same `{placeholders}`.

No gettext/Babel: two languages and a few hundred strings fit a dict, which keeps the
catalogue greppable and typed, and needs no compile step or new dependency.

Which language: the user's stored choice (`users.locale`), else the browser's own choice
remembered in the `gw_lang` cookie (set by the language switch, and at login from the
stored choice), else `Accept-Language` (Danish when Danish ranks above English), else English.
Times are shown in Danish local time (Europe/Copenhagen) in both languages: the shops and
their books are Danish, and one clock keeps owner and admin talking about the same moment.
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

log = logging.getLogger(__name__)

Locale = Literal["da", "en"]
LOCALES: Final[tuple[Locale, ...]] = get_args(Locale)
DEFAULT: Final[Locale] = "en"
COOKIE: Final = "gw_lang"
_COOKIE_AGE: Final = 365 * 24 * 3600

_LANGUAGE_RANGE = re.compile(
    r"^\s*([A-Za-z]{1,8}|\*)(?:-[A-Za-z0-9]{1,8})*\s*(?:;\s*q\s*=\s*([0-9.]+))?\s*$"
)


def _zone() -> dt.tzinfo:
    try:
        return ZoneInfo("Europe/Copenhagen")
    except ZoneInfoNotFoundError:  # an image without tzdata: UTC rather than no page
        log.warning("no time zone data for Europe/Copenhagen; showing times in UTC")
        return dt.UTC


ZONE: Final = _zone()


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

    def __init__(self, locale: Locale) -> None:
        self.locale = locale
        self._catalogue: Mapping[str, str] = _DANISH if locale == "da" else {}

    def __call__(self, message: str, /, **values: object) -> str:
        text = self._catalogue.get(message, message)
        return text.format_map(values) if values else text

    def datetime(self, moment: dt.datetime | None) -> str:
        """`24. nov. 2026 kl. 10.00` or `24 Nov 2026, 10:00`, Danish local time."""
        if moment is None:
            return ""
        local = moment.astimezone(ZONE)
        month = _MONTHS[self.locale][local.month - 1]
        if self.locale == "da":
            return f"{local.day}. {month} {local.year} kl. {local:%H.%M}"
        return f"{local.day} {month} {local.year}, {local:%H:%M}"

    def date(self, moment: dt.datetime | None) -> str:
        if moment is None:
            return ""
        local = moment.astimezone(ZONE)
        month = _MONTHS[self.locale][local.month - 1]
        separator = ". " if self.locale == "da" else " "
        return f"{local.day}{separator}{month} {local.year}"


def translator(request: Request) -> Translator:
    return Translator(locale_for(request))


def template_context(request: Request) -> dict[str, object]:
    locale = locale_for(request)
    return {"lang": locale, "t": Translator(locale)}


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

# English message → Danish. Keep the entries grouped by page, in the order they appear.
_DANISH: Final[dict[str, str]] = {
    # The layout, the start page, errors
    "Main": "Hovedmenu",
    "Your shops": "Dine butikker",
    "Log in": "Log ind",
    "Log out": "Log ud",
    "Orders from your webshop become invoices, credit notes and payments in Dinero — once, "
    "and to the øre.": "Ordrer fra din webshop bliver til fakturaer, kreditnotaer og betalinger "
    "i Dinero — én gang og på øret.",
    "Service status": "Driftsstatus",
    "Reference": "Reference",
    "Back to the start page": "Tilbage til forsiden",
    "Form out of date": "Formularen er forældet",
    "The form was out of date. Go back, reload and try again.": "Formularen var forældet. "
    "Gå tilbage, genindlæs siden og prøv igen.",
    "Too many attempts": "For mange forsøg",
    "Please wait a little and try again.": "Vent lidt og prøv igen.",
    "Not found": "Ikke fundet",
    "There is nothing at this address, or it is not yours to see.": "Der er intet på denne "
    "adresse, eller også er det ikke dit at se.",
    "Method not allowed": "Metoden er ikke tilladt",
    "This address does not accept that kind of request.": "Denne adresse tager ikke imod den "
    "slags forespørgsler.",
    "Something went wrong": "Noget gik galt",
    "The error has been logged. Please try again in a moment.": "Fejlen er logget. Prøv igen "
    "om et øjeblik.",
    "Error": "Fejl",
    "The request could not be completed.": "Forespørgslen kunne ikke gennemføres.",
    # Logging in
    "E-mail": "E-mail",
    "Password": "Adgangskode",
    "Forgotten your password? Ask the Dinero Gateway administrator for a reset link.": "Glemt "
    "din adgangskode? Bed administratoren af Dinero Gateway om et link til at nulstille den.",
    "Wrong e-mail or password.": "Forkert e-mail eller adgangskode.",
    "The form was out of date. Please try again.": "Formularen var forældet. Prøv igen.",
    "Too many failed logins for this e-mail address. Try again in {minutes} minutes.": "For "
    "mange mislykkede login for denne e-mailadresse. Prøv igen om {minutes} minutter.",
    "Too many failed logins from your network. Try again in {minutes} minutes.": "For mange "
    "mislykkede login fra dit netværk. Prøv igen om {minutes} minutter.",
    # Invites and password resets
    "Welcome": "Velkommen",
    "Welcome to Dinero Gateway": "Velkommen til Dinero Gateway",
    "Choose a password for {email}. You will use it with your e-mail address to log in.": "Vælg "
    "en adgangskode til {email}. Du logger ind med den og din e-mailadresse.",
    "Choose a new password": "Vælg en ny adgangskode",
    "Choose a new password for {email}. Every other session of this account will be logged "
    "out.": "Vælg en ny adgangskode til {email}. Kontoen bliver logget ud alle andre steder.",
    "New password": "Ny adgangskode",
    "The same password again": "Samme adgangskode igen",
    "At least {count} characters. A few unrelated words make a strong password that is easy "
    "to remember.": "Mindst {count} tegn. Nogle få ord uden sammenhæng giver en stærk "
    "adgangskode, der er let at huske.",
    "Set password and log in": "Gem adgangskode og log ind",
    "Change password and log in": "Skift adgangskode og log ind",
    "The two passwords differ.": "De to adgangskoder er ikke ens.",
    "Choose a password of at least {count} characters.": "Vælg en adgangskode på mindst "
    "{count} tegn.",
    "Choose a password of at most {count} characters.": "Vælg en adgangskode på højst "
    "{count} tegn.",
    "This link cannot be used": "Linket kan ikke bruges",
    "It has been used already, it has expired, or it was never complete. Links work once: "
    "invites for {invite_days} days, password resets for {reset_hours} hours.": "Det er "
    "allerede brugt, det er udløbet, eller det var aldrig helt. Et link virker én gang: "
    "invitationer i {invite_days} dage, nulstilling af adgangskode i {reset_hours} timer.",
    "Ask the Dinero Gateway administrator for a new link. If you have chosen a password "
    "already, just log in.": "Bed administratoren af Dinero Gateway om et nyt link. Har du "
    "allerede valgt en adgangskode, så log bare ind.",
    # The owner's shops and their connection
    "You have no shops yet.": "Du har ingen butikker endnu.",
    "Not connected": "Ikke forbundet",
    "Connect the shop to the Dinero organisation its orders should be booked in.": "Forbind "
    "butikken med den Dinero-organisation, som dens ordrer skal bogføres i.",
    "Connect to Dinero": "Forbind med Dinero",
    "Organisation": "Organisation",
    "Status": "Status",
    "Connected": "Forbundet",
    "Needs reconnect": "Skal forbindes igen",
    "Token valid until": "Adgang gyldig til",
    "Last renewal": "Seneste fornyelse",
    "Last problem": "Seneste problem",
    "Dinero no longer accepts this connection. Orders wait safely until you reconnect.": "Dinero "
    "godtager ikke længere forbindelsen. Ordrerne venter sikkert, til du forbinder igen.",
    "Reconnect": "Forbind igen",
    "Disconnect": "Afbryd forbindelsen",
    # Connecting (web/connect.py and tenants/oauth_flows.py say these in English)
    "Choose a Dinero organisation": "Vælg en Dinero-organisation",
    "Which Dinero organisation?": "Hvilken Dinero-organisation?",
    "Your Visma login reaches several organisations. Orders will be booked in the one you "
    "choose.": "Dit Visma-login giver adgang til flere organisationer. Ordrerne bogføres i "
    "den, du vælger.",
    "Organisations": "Organisationer",
    "Needs Dinero Pro: the API is only open to Pro organisations": "Kræver Dinero Pro: API'et "
    "er kun åbent for Pro-organisationer",
    "Connect": "Forbind",
    "Choose one of the organisations with Dinero Pro.": "Vælg en af organisationerne med "
    "Dinero Pro.",
    "The connection was not made": "Forbindelsen blev ikke oprettet",
    "You declined access in Visma Connect, so nothing was changed.": "Du afviste adgang i "
    "Visma Connect, så intet er ændret.",
    "Visma Connect did not grant access, so nothing was changed.": "Visma Connect gav ikke "
    "adgang, så intet er ændret.",
    "Visma Connect did not accept the sign-in (it may have expired). Please try again.": "Visma "
    "Connect godtog ikke login (det kan være udløbet). Prøv igen.",
    "Dinero or Visma Connect did not answer as expected. Please try again shortly.": "Dinero "
    "eller Visma Connect svarede ikke som ventet. Prøv igen om lidt.",
    "This connection attempt is not valid any more (it was used, it expired, or it was "
    "started in another browser). Please start again.": "Dette forsøg på at forbinde er ikke "
    "gyldigt længere (det er brugt, udløbet eller startet i en anden browser). Start forfra.",
    "This choice is not valid any more. Please connect again.": "Valget er ikke gyldigt "
    "længere. Forbind igen.",
    "Back to the shop": "Tilbage til butikken",
    "Back to your shops": "Tilbage til dine butikker",
    # Admin: navigation and counters
    "Admin": "Administration",
    "Connections": "Forbindelser",
    "Shops": "Butikker",
    "New shop": "Ny butik",
    "Platform": "Platformen",
    "Platform counters": "Tal for platformen",
    "shops": "butikker",
    "users": "brugere",
    "active connections": "aktive forbindelser",
    "{count} need reconnect": "{count} skal forbindes igen",
    "{count} unused": "{count} ubrugte",
    "documents parked now": "dokumenter parkeret nu",
    "documents failed now": "dokumenter fejlet nu",
    "Documents from the last 24 hours": "Dokumenter fra de seneste 24 timer",
    "Waiting": "Venter",
    "Queued": "I kø",
    "Parked (needs reconnect)": "Parkeret (skal forbindes igen)",
    "Failed": "Fejlet",
    "Posted": "Bogført",
    "Cancelled": "Annulleret",
    # Admin: connections
    "Dinero connections": "Dinero-forbindelser",
    "Expired": "Udløbet",
    "Expiring within 7 days": "Udløber inden for 7 dage",
    "Renewal failing": "Fornyelse fejler",
    "Filter": "Filter",
    "All": "Alle",
    "Search": "Søg",
    "Organisation name or id, or shop name": "Organisationens navn eller id, eller butikkens navn",
    "What the filters mean": "Hvad filtrene betyder",
    "Active, but the access token has run out and renewal is not getting through: it is "
    "failing, or more than {minutes} minutes late.": "Aktiv, men adgangen er udløbet, og "
    "fornyelsen kommer ikke igennem: den fejler eller er mere end {minutes} minutter forsinket.",
    "Visma refused to renew the grant. Nothing retries; the shops' documents are parked until "
    "an owner reconnects.": "Visma afviste at forny adgangen. Intet prøves igen; butikkernes "
    "dokumenter er parkeret, til en ejer forbinder igen.",
    "Still working, but likely to need a reconnect soon. A refresh token's expiry cannot be "
    "read, so this means: renewal has failed and is being retried, or the last successful "
    "renewal is more than {hours} hours old (renewal runs at least daily so an unused refresh "
    "token does not lapse), or the consent is more than {days} days old (a reusable refresh "
    "token lives at most a year).": "Virker stadig, men skal sandsynligvis forbindes igen "
    "snart. Et refresh-tokens udløb kan ikke aflæses, så det betyder: fornyelsen er fejlet og "
    "prøves igen, eller den seneste vellykkede fornyelse er mere end {hours} timer gammel "
    "(fornyelse sker mindst dagligt, så et ubrugt refresh-token ikke udløber), eller "
    "samtykket er mere end {days} dage gammelt (et genbrugeligt refresh-token lever højst et "
    "år).",
    "Active, and the latest renewal attempts failed; they are retried with growing "
    "pauses.": "Aktiv, men de seneste forsøg på fornyelse fejlede; de gentages med stigende "
    "pauser.",
    "Sorted by impact: documents parked first, then shops affected.": "Sorteret efter "
    "betydning: først parkerede dokumenter, så berørte butikker.",
    "Failures": "Fejl i træk",
    "Parked documents": "Parkerede dokumenter",
    "Unused": "Ubrugt",
    "At risk": "I fare",
    "Active": "Aktiv",
    "and {count} more": "og {count} mere",
    "No connections match.": "Ingen forbindelser passer.",
    "Pages": "Sider",
    "Previous": "Forrige",
    "Page {number}": "Side {number}",
    "Next": "Næste",
    # Admin: shops
    "Shop name, id or owner e-mail": "Butikkens navn, id eller ejers e-mail",
    "Shop": "Butik",
    "Owners": "Ejere",
    "Dinero": "Dinero",
    "Failed documents": "Fejlede dokumenter",
    "Created": "Oprettet",
    "No shops match.": "Ingen butikker passer.",
    "All shops": "Alle butikker",
    "Read-only: this is what the shop's owners have set up.": "Kun visning: sådan har "
    "butikkens ejere sat den op.",
    "Settings": "Indstillinger",
    "Id": "Id",
    "Slug": "Kortnavn",
    "Live since": "I drift siden",
    "Still setting up (test orders post as drafts)": "Sættes stadig op (testordrer bliver "
    "til kladder)",
    "Posts when an order is": "Bogfører, når en ordre er",
    "paid": "betalt",
    "shipped": "afsendt",
    "created": "oprettet",
    "Documents are": "Dokumenterne bliver",
    "booked": "bogført",
    "left as drafts": "efterladt som kladder",
    "invoices": "fakturaer",
    "vouchers": "bilag",
    "Invoice language": "Fakturasprog",
    "Invoice text": "Fakturatekst",
    "Registers payments": "Registrerer betalinger",
    "Yes": "Ja",
    "No": "Nej",
    "Payment accounts": "Betalingskonti",
    "Account overrides": "Tilpassede konti",
    "Receivable account": "Debitorkonto",
    "Ingest secret last changed": "Indgangsnøgle sidst skiftet",
    "Next renewal": "Næste fornyelse",
    "Documents": "Dokumenter",
    "People": "Personer",
    "Role": "Rolle",
    "Owner": "Ejer",
    "Viewer": "Læser",
    "Disabled": "Deaktiveret",
    "Chosen": "Valgt",
    "Invited, not yet chosen": "Inviteret, ikke valgt endnu",
    "New password-reset link": "Nyt link til ny adgangskode",
    "New invite link": "Nyt invitationslink",
    "Recent events": "Seneste hændelser",
    "When": "Hvornår",
    "What": "Hvad",
    "Message": "Besked",
    "Nothing has happened yet.": "Der er ikke sket noget endnu.",
    # Admin: creating shops, issuing links
    "Creates the shop and its owner. An owner without a password gets an invite link to "
    "choose one; an existing owner simply gains the shop.": "Opretter butikken og dens ejer. "
    "En ejer uden adgangskode får et invitationslink til at vælge en; en eksisterende ejer "
    "får blot butikken.",
    "Shop name": "Butikkens navn",
    "Owner's e-mail": "Ejerens e-mail",
    "Create shop": "Opret butik",
    "Give the shop a name of 1 to {count} characters.": "Giv butikken et navn på 1 til "
    "{count} tegn.",
    "That is not an e-mail address.": "Det er ikke en e-mailadresse.",
    "Shop created": "Butik oprettet",
    "Shop created: {name}": "Butik oprettet: {name}",
    "The ingest secret is shown only this once. Hand it to the shop's developer now; it can "
    "be rolled later, never read again.": "Indgangsnøglen vises kun denne ene gang. Giv den "
    "til butikkens udvikler nu; den kan skiftes senere, men aldrig læses igen.",
    "Shop id": "Butikkens id",
    "Ingest URL": "Indgangs-URL",
    "Ingest secret": "Indgangsnøgle",
    "Invite link": "Invitationslink",
    "Send it to the owner. It works once, for {days} days, and lets them choose a "
    "password.": "Send det til ejeren. Det virker én gang i {days} dage og lader ejeren "
    "vælge en adgangskode.",
    "None needed: the owner already has a password and will see the shop at their next "
    "login.": "Ikke nødvendigt: ejeren har allerede en adgangskode og ser butikken ved næste "
    "login.",
    "Open the shop": "Åbn butikken",
    "Create another": "Opret endnu en",
    "New link": "Nyt link",
    "New invite link for {email}": "Nyt invitationslink til {email}",
    "Password-reset link for {email}": "Link til ny adgangskode for {email}",
    "The link is shown only this once. Send it to the user yourself; it works once, until "
    "{until}, and earlier links of this kind no longer work.": "Linket vises kun denne ene "
    "gang. Send det selv til brugeren; det virker én gang, indtil {until}, og tidligere links "
    "af samme slags virker ikke længere.",
    "Using it logs the user out everywhere else.": "Når det bruges, bliver brugeren logget ud "
    "alle andre steder.",
    "Back": "Tilbage",
}
