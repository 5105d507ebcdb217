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
    # Connecting (web/connect.py and tenants/connections/oauth_flows.py say these in English)
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
    # The owner's shop list, shop page and set-up guide (web/shops.py)
    "Failing documents": "Fejlende dokumenter",
    "Setting up": "Sættes op",
    "Overview": "Overblik",
    "Live since {when}": "I drift siden {when}",
    "Last successful post": "Seneste vellykkede bogføring",
    "None yet": "Ingen endnu",
    "Dinero calls in the last minute": "Kald til Dinero det seneste minut",
    "{used} of {limit}": "{used} af {limit}",
    "Posted in the last 24 hours": "Bogført de seneste 24 timer",
    "Set-up guide": "Kom godt i gang",
    "Done": "Klaret",
    "Choose the Dinero organisation the shop's invoices go to.": "Vælg den "
    "Dinero-organisation, som butikkens fakturaer skal til.",
    "Send one test order as a draft": "Send én testordre som kladde",
    "A small, clearly marked order goes through the whole way and is left as a draft invoice "
    "in Dinero, whatever your settings say. Look at it there, then delete the draft.": "En "
    "lille, tydeligt mærket ordre går hele vejen igennem og ender som en fakturakladde i "
    "Dinero, uanset hvad dine indstillinger siger. Se den dér, og slet så kladden.",
    "Test order {number}": "Testordre {number}",
    "Show the document": "Vis dokumentet",
    "Send another test order": "Send en testordre mere",
    "Send a test order": "Send en testordre",
    "Connect to Dinero first.": "Forbind med Dinero først.",
    "Activate": "Aktivér",
    "From then on your orders become documents in Dinero as your settings say.": "Derefter "
    "bliver dine ordrer til dokumenter i Dinero, sådan som dine indstillinger siger.",
    "Activate the shop": "Aktivér butikken",
    "We recommend sending a test order first.": "Vi anbefaler at sende en testordre først.",
    "Disconnect {shop} from Dinero?": "Afbryd forbindelsen mellem {shop} og Dinero?",
    "The shop stops posting to {organisation}. Orders that arrive meanwhile wait safely in "
    "the gateway and are posted once you connect again. Nothing already in Dinero is "
    "changed.": "Butikken holder op med at bogføre i {organisation}. Ordrer, der kommer i "
    "mellemtiden, venter sikkert i gatewayen og bogføres, når du forbinder igen. Intet, der "
    "allerede er i Dinero, bliver ændret.",
    "Cancel": "Annullér",
    # A shop's documents (web/documents.py)
    "Order number": "Ordrenummer",
    "The exact order number or order id": "Det nøjagtige ordrenummer eller ordre-id",
    "Order": "Ordre",
    "Document": "Dokument",
    "Amount": "Beløb",
    "State": "Tilstand",
    "Dinero number": "Nummer i Dinero",
    "draft": "kladde",
    "No documents for order {number}.": "Ingen dokumenter for ordre {number}.",
    "No documents here yet.": "Ingen dokumenter her endnu.",
    "Newest": "Nyeste",
    "Newer": "Nyere",
    "Older": "Ældre",
    "Invoice": "Faktura",
    "Credit note": "Kreditnota",
    "Voucher": "Bilag",
    "Payment": "Betaling",
    "Document {id}": "Dokument {id}",
    "All documents": "Alle dokumenter",
    "order {number}": "ordre {number}",
    "Left as a draft": "Efterladt som kladde",
    "Dinero's answer or the problem found": "Dineros svar eller det fundne problem",
    "Retry": "Prøv igen",
    "Fix the cause first (a setting, an account, the connection): the document is built "
    "again from the order and the settings as they are when it is retried.": "Ret først "
    "årsagen (en indstilling, en konto, forbindelsen): dokumentet bygges igen ud fra ordren "
    "og indstillingerne, som de er, når det prøves igen.",
    "Progress": "Forløb",
    "Not sent yet": "Ikke sendt endnu",
    "Customer found in Dinero": "Kunden fundet i Dinero",
    "Invoice file uploaded": "Fakturafil overført",
    "Created in Dinero": "Oprettet i Dinero",
    "Booked": "Bogført",
    "Payment registered": "Betaling registreret",
    "(checking in Dinero whether the last attempt arrived)": "(undersøger i Dinero, om "
    "sidste forsøg kom frem)",
    "Dinero id": "Id i Dinero",
    "(not in Dinero yet)": "(ikke i Dinero endnu)",
    "Reference in Dinero": "Reference i Dinero",
    "Attempts": "Forsøg",
    "{count} failed in a row": "{count} fejlet i træk",
    "Next attempt": "Næste forsøg",
    "For": "Til",
    "Followed by": "Efterfulgt af",
    "number {number}": "nummer {number}",
    "Timeline": "Forløb i tid",
    "Details": "Detaljer",
    "Will try again": "Prøver igen",
    "Queued again": "Sat i kø igen",
    "Interrupted": "Afbrudt",
    "Test order": "Testordre",
    # A shop's settings and its ingest secret (web/settings_pages.py)
    "Saved. Documents posted from now on use these settings; what is already in Dinero stays "
    "as it is.": "Gemt. Dokumenter, der bogføres fra nu af, bruger disse indstillinger; det, "
    "der allerede er i Dinero, forbliver som det er.",
    "Nothing was saved": "Intet blev gemt",
    "An order becomes an invoice when it is": "En ordre bliver til en faktura, når den er",
    "Invoices in Dinero are": "Fakturaer i Dinero bliver",
    "left as drafts, for you to book in Dinero": "efterladt som kladder, som du selv bogfører "
    "i Dinero",
    "Danish": "Dansk",
    "English": "Engelsk",
    "Placeholders: {shop} the shop's name, {number} the order number, {order_id} the order's "
    "id, {customer} the customer's name.": "Pladsholdere: {shop} butikkens navn, {number} "
    "ordrenummeret, {order_id} ordrens id, {customer} kundens navn.",
    "On an invoice for order 1001 to Karen Kunde": "På en faktura for ordre 1001 til Karen Kunde",
    "Accounts": "Konti",
    "Connect the shop to Dinero to choose accounts from its chart. Until then the current "
    "accounts are kept.": "Forbind butikken med Dinero for at vælge konti fra dens "
    "kontoplan. Indtil da beholdes de nuværende konti.",
    "The Dinero connection needs a reconnect before the chart of accounts can be read. Until "
    "then the current accounts are kept.": "Forbindelsen til Dinero skal forbindes igen, før "
    "kontoplanen kan læses. Indtil da beholdes de nuværende konti.",
    "The organisation's Dinero calls are all in use just now, so the chart of accounts cannot "
    "be read. The current accounts are kept; try again in a minute.": "Organisationens kald "
    "til Dinero er alle i brug lige nu, så kontoplanen kan ikke læses. De nuværende konti "
    "beholdes; prøv igen om et minut.",
    "Dinero could not be reached just now, so the chart of accounts cannot be read. The "
    "current accounts are kept; try again in a moment.": "Dinero kunne ikke nås lige nu, så "
    "kontoplanen kan ikke læses. De nuværende konti beholdes; prøv igen om et øjeblik.",
    "From the chart of {organisation}. Only accounts whose VAT code suits the kind of sale "
    "are offered.": "Fra kontoplanen for {organisation}. Kun konti, hvis momskode passer til "
    "den slags salg, tilbydes.",
    "Standard ({number})": "Standard ({number})",
    "{number} (not offered by the chart)": "{number} (findes ikke som valg i kontoplanen)",
    "Changes apply to documents not yet posted: each one is built from the settings as they "
    "are when it is posted. Whether it is booked or left as a draft is fixed when the order "
    "arrives.": "Ændringer gælder dokumenter, der ikke er bogført endnu: hvert dokument "
    "bygges ud fra indstillingerne, som de er, når det bogføres. Om det bogføres eller "
    "efterlades som kladde, ligger fast, når ordren kommer ind.",
    "Save settings": "Gem indstillinger",
    "Preview": "Forhåndsvis",
    "Receiving orders": "Modtagelse af ordrer",
    "Your webshop sends its orders, signed with the ingest secret, to this address:": "Din "
    "webshop sender sine ordrer, signeret med indgangsnøglen, til denne adresse:",
    "The previous secret works until": "Den tidligere nøgle virker indtil",
    "The secret is never shown again after it is made. If it is lost or leaked, roll it: you "
    "get a new one to put in the webshop.": "Nøglen vises aldrig igen, efter at den er lavet. "
    "Hvis den er mistet eller lækket, så skift den: du får en ny at sætte i webshoppen.",
    "Roll the ingest secret": "Skift indgangsnøglen",
    "Roll the ingest secret of {shop}?": "Skift indgangsnøglen for {shop}?",
    "A new secret is made and shown to you once. The current one keeps working for {hours} "
    "hours, so you have time to put the new one in the webshop; after that only the new one "
    "works.": "Der laves en ny nøgle, som vises dig én gang. Den nuværende virker fortsat i "
    "{hours} timer, så du har tid til at sætte den nye i webshoppen; derefter virker kun den "
    "nye.",
    "New ingest secret": "Ny indgangsnøgle",
    "New ingest secret for {shop}": "Ny indgangsnøgle for {shop}",
    "The secret is shown only this once. Put it in the webshop now; it can be rolled again, "
    "never read again.": "Nøglen vises kun denne ene gang. Sæt den i webshoppen nu; den kan "
    "skiftes igen, men aldrig læses igen.",
    "The old secret keeps working until {until}, so orders signed with it are still accepted "
    "while you switch.": "Den gamle nøgle virker indtil {until}, så ordrer signeret med den "
    "stadig modtages, mens du skifter.",
    "Back to the settings": "Tilbage til indstillingerne",
    "not an account number.": "ikke et kontonummer.",
    "the chart of accounts cannot be read right now, so only the current or the standard "
    "account can be chosen.": "kontoplanen kan ikke læses lige nu, så kun den nuværende "
    "eller standardkontoen kan vælges.",
    "account {number} is not in the organisation's chart.": "konto {number} findes ikke i "
    "organisationens kontoplan.",
    "account {number} does not carry 25 % sales VAT (U25).": "konto {number} har ikke 25 % "
    "salgsmoms (U25).",
    "account {number} has a VAT code that does not suit it.": "konto {number} har en "
    "momskode, der ikke passer hertil.",
    "Goods sold in Denmark (25 % VAT)": "Varer solgt i Danmark (25 % moms)",
    "Services sold in Denmark (25 % VAT)": "Ydelser solgt i Danmark (25 % moms)",
    "Goods to businesses in the EU (reverse charge)": "Varer til virksomheder i EU (omvendt "
    "betalingspligt)",
    "Services to businesses in the EU (reverse charge)": "Ydelser til virksomheder i EU "
    "(omvendt betalingspligt)",
    "Goods outside the EU": "Varer uden for EU",
    "Services outside the EU": "Ydelser uden for EU",
    "Shipping (25 % VAT)": "Fragt (25 % moms)",
    "Fees (25 % VAT)": "Gebyrer (25 % moms)",
    "Sales without VAT": "Salg uden moms",
    "Rounding": "Øreafrunding",
    "Choose when an order becomes an invoice.": "Vælg, hvornår en ordre bliver til en faktura.",
    "Choose whether invoices are booked or left as drafts.": "Vælg, om fakturaer bogføres "
    "eller efterlades som kladder.",
    "Choose the invoices' language.": "Vælg fakturaernes sprog.",
    "The text is longer than {count} characters.": "Teksten er længere end {count} tegn.",
    "Braces are not matched: write {{ or }} for a brace itself.": "Tuborgklammerne passer "
    "ikke sammen: skriv {{ eller }} for selve klammen.",
    "{placeholder} is not a placeholder: use {allowed}.": "{placeholder} er ikke en "
    "pladsholder: brug {allowed}.",
    "One account cannot take both VAT and no VAT: {problems}.": "Én konto kan ikke både have "
    "moms og ingen moms: {problems}.",
    # Settlement settings (web/settlement_settings.py, shops/settings.html)
    "Every payment (fallback)": "Alle betalinger (reserve)",
    "Card": "Kort",
    "MobilePay": "MobilePay",
    "Bank transfer": "Bankoverførsel",
    "Pay by invoice": "Betaling på faktura",
    "Other payment methods": "Andre betalingsmåder",
    "Choose how orders are sent to Dinero.": "Vælg, hvordan ordrer sendes til Dinero.",
    "Choose the deposit account payments go to: it is needed while payments are registered "
    "in Dinero.": "Vælg den konto, betalinger går ind på: den skal bruges, så længe "
    "betalinger registreres i Dinero.",
    "Choose the deposit account payments go to: a paid order's voucher is booked against "
    "it.": "Vælg den konto, betalinger går ind på: bilaget for en betalt ordre bogføres mod den.",
    "Choose the receivable account: orders are sent when they are {trigger}, maybe before "
    "they are paid, and an unpaid order's voucher is booked against it.": "Vælg "
    "debitorkontoen: ordrer sendes, når de er {trigger}, måske før de er betalt, og bilaget "
    "for en ubetalt ordre bogføres mod den.",
    "the organisation's deposit accounts cannot be read right now, so only the current "
    "account can be kept.": "organisationens indbetalingskonti kan ikke læses lige nu, så "
    "kun den nuværende konto kan beholdes.",
    "account {number} is not one of the organisation's deposit accounts.": "konto {number} "
    "er ikke en af organisationens indbetalingskonti.",
    "the chart of accounts cannot be read right now, so only the current account can be "
    "kept.": "kontoplanen kan ikke læses lige nu, så kun den nuværende konto kan beholdes.",
    "account {number} carries VAT; a receivable account takes none.": "konto {number} har "
    "moms; en debitorkonto har ingen.",
    "{count} documents not yet started now have the new document type.": "{count} "
    "dokumenter, der ikke var påbegyndt, har nu den nye dokumenttype.",
    "Orders are sent to Dinero as": "Ordrer sendes til Dinero som",
    "invoices, numbered by Dinero (standard)": "fakturaer med Dineros fakturanummer (standard)",
    "vouchers carrying the shop's own invoice": "bilag med butikkens egen faktura",
    "Choose vouchers if the shop sends its customers its own invoices: Dinero then books "
    "each order as a voucher with the shop's invoice PDF attached, and makes no second "
    "invoice number. A refund is booked as a reversing voucher. A new choice also applies to "
    "orders whose documents have not started yet.": "Vælg bilag, hvis butikken selv sender "
    "sine kunder fakturaer: Dinero bogfører så hver ordre som et finansbilag med butikkens "
    "faktura-PDF vedhæftet og laver ikke et fakturanummer mere. En refusion bogføres som et "
    "modposterende bilag. Et nyt valg gælder også ordrer, hvis dokumenter ikke er påbegyndt "
    "endnu.",
    "None chosen": "Ingen valgt",
    "With vouchers, an order that is not paid when it is sent is booked against this "
    "account (usually the debtors account). It is needed when orders are sent when they are "
    "created or shipped.": "Med bilag bogføres en ordre, der ikke er betalt, når den "
    "sendes, mod denne konto (som regel debitorkontoen). Den skal bruges, når ordrer sendes, "
    "når de er oprettet eller afsendt.",
    "Payments": "Betalinger",
    "Register payments in Dinero": "Registrér betalinger i Dinero",
    "Once an invoice is booked and its order is paid, the payment is registered on it, so "
    "it does not wait among the unpaid invoices; a refund's money is registered on its "
    "credit note. An order shows as paid here only when Dinero says so.": "Når en faktura "
    "er bogført og ordren betalt, registreres betalingen på fakturaen, så den ikke venter "
    "blandt de ubetalte; pengene fra en refusion registreres på kreditnotaen. En ordre vises "
    "først som betalt her, når Dinero siger det.",
    "Connect the shop to Dinero to choose its deposit accounts. Until then the current ones "
    "are kept.": "Forbind butikken med Dinero for at vælge dens indbetalingskonti. Indtil da "
    "beholdes de nuværende.",
    "The Dinero connection needs a reconnect before the deposit accounts can be read. Until "
    "then the current ones are kept.": "Forbindelsen til Dinero skal forbindes igen, før "
    "indbetalingskontiene kan læses. Indtil da beholdes de nuværende.",
    "The deposit accounts cannot be read from Dinero just now. The current ones are kept; "
    "try again in a moment.": "Indbetalingskontiene kan ikke læses fra Dinero lige nu. De "
    "nuværende beholdes; prøv igen om et øjeblik.",
    "The deposit accounts of {organisation}.": "Indbetalingskonti for {organisation}.",
    "Card acquirers pay out net of their fees, so a clearing account for card payments "
    "usually suits better than the bank account.": "Kortindløsere udbetaler med fradrag af "
    "deres gebyrer, så en mellemregningskonto til kortbetalinger passer som regel bedre end "
    "bankkontoen.",
    "As every payment": "Som alle betalinger",
    "{number} (not a deposit account of the organisation)": "{number} (ikke en af "
    "organisationens indbetalingskonti)",
    # Settlement on the document pages (documents/_document.html, _list.html)
    "Paid": "Betalt",
    "Overpaid": "Overbetalt",
    "Partly paid": "Delvist betalt",
    "Registered, awaiting Dinero's confirmation": "Registreret, afventer bekræftelse fra Dinero",
    "Not registered yet": "Ikke registreret endnu",
    "Not given": "Ikke oplyst",
    "Voucher number in Dinero": "Bilagsnummer i Dinero",
    "Attachment": "Vedhæftet fil",
    "Not uploaded yet": "Ikke overført endnu",
    "Balanced against account": "Modpostering på konto",
    "Payment method": "Betalingsmåde",
    "Deposit account": "Indbetalingskonto",
    "Dinero status": "Status i Dinero",
    "Settles": "Betaler",
    "Reverses": "Tilbagefører",
    "Document type changed": "Dokumenttype ændret",
    "Payment status from Dinero": "Betalingsstatus fra Dinero",
    "The shop's invoice": "Butikkens faktura",
    "Total differs in Dinero": "Beløbet afviger i Dinero",
}
