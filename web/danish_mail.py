"""The Danish for the mail pages: which alerts a user gets, and the unsubscribe link's pages.

One part of the catalogue that web/i18n.py translates with; the English sentences are the keys.
(The alert mails themselves are written by the domain, with their own catalogue:
tenants/mail/texts.py.)
"""

from __future__ import annotations

from typing import Final

DANISH: Final[dict[str, str]] = {
    # The alert kinds
    "A Dinero connection needs reconnecting": "En Dinero-forbindelse skal forbindes igen",
    "At once, when Dinero stops accepting the gateway's access.": "Med det samme, når Dinero "
    "holder op med at acceptere gatewayens adgang.",
    "Renewing Dinero access keeps failing": "Fornyelsen af adgangen til Dinero bliver ved med "
    "at fejle",
    "After a few hours of failed renewals, before the access lapses.": "Efter nogle timers "
    "fejlede fornyelser, før adgangen udløber.",
    "Documents failed": "Bilag fejlede",
    "A digest of documents Dinero refused, at most one an hour per shop.": "En samlet oversigt "
    "over bilag, Dinero afviste, højst én i timen pr. butik.",
    "A shop platform stopped delivering orders": "En butiksplatform holdt op med at levere ordrer",
    "When a store's access is lost or the app is uninstalled.": "Når adgangen til en butik er "
    "mistet, eller appen er afinstalleret.",
    # Alerts by mail
    "Alerts by mail": "Advarsler på mail",
    "Dinero Gateway mails you when something needs you, about every shop you look after. "
    "Choose which alerts you get at {email}.": "Dinero Gateway sender dig en mail, når noget "
    "kræver din handling, for alle de butikker, du passer. Vælg hvilke advarsler du får på "
    "{email}.",
    "Saved.": "Gemt.",
    # Unsubscribing
    "Stop these alerts": "Stop disse advarsler",
    "Stop mails about: {alert}?": "Stop mails om: {alert}?",
    "You can choose again at any time under Alerts by mail, once logged in.": "Du kan altid "
    "vælge igen under Advarsler på mail, når du er logget ind.",
    "Alerts stopped": "Advarsler stoppet",
    "You will no longer get mails about: {alert}.": "Du får ikke længere mails om: {alert}.",
    "Choose which alerts you get": "Vælg hvilke advarsler du får",
}
