"""The Danish for the administrator's pages: the counters, the connections, the shops, and
creating shops and issuing links.

One part of the catalogue that web/i18n.py translates with; the English sentences are the keys.
"""

from __future__ import annotations

from typing import Final

# English message → Danish. Keep the entries grouped by page, in the order they appear.
DANISH: Final[dict[str, str]] = {
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
    "Waiting for activation": "Venter på aktivering",
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
    "Not activated: only test orders post, as drafts; other orders wait": "Ikke aktiveret: "
    "kun testordrer bogføres, som kladder; andre ordrer venter",
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
