"""The Danish for a shop's team: the team page, invites and joining, the audit log, and what
a member's role does not allow.

One part of the catalogue that web/i18n.py translates with; the English sentences are the keys.
"""

from __future__ import annotations

from typing import Final

# English message → Danish. Keep the entries grouped by page, in the order they appear.
DANISH: Final[dict[str, str]] = {
    # The shop's tabs
    "Team": "Team",
    "Audit log": "Ændringslog",
    # Roles
    "Bookkeeper": "Bogholder",
    # The team page
    "Invite made": "Invitationen er lavet",
    "Copy the link and send it to the person you invite. It works once, for {days} days, "
    "and is shown only now.": "Kopiér linket og send det til den, du inviterer. Det virker "
    "én gang, i {days} dage, og vises kun nu.",
    "Invite link": "Invitationslink",
    "A message to send with it": "En besked at sende med",
    "Members": "Medlemmer",
    "Owners may do everything. Bookkeepers see everything and retry failed documents; they "
    "change nothing else.": "Ejere må alt. Bogholdere ser alt og prøver fejlede bilag igen; "
    "de ændrer ikke andet.",
    "Member since": "Medlem siden",
    "you": "dig",
    "Change role": "Skift rolle",
    "The only owner": "Eneste ejer",
    "Leave the shop": "Forlad butikken",
    "Remove": "Fjern",
    "Open invites": "Åbne invitationer",
    "Invited by": "Inviteret af",
    "Valid until": "Gyldig til",
    "Withdraw": "Træk tilbage",
    "Lost the link? Invite the same e-mail again: the new link replaces the old one.": "Mistet "
    "linket? Invitér den samme e-mail igen: det nye link erstatter det gamle.",
    "Invite a member": "Invitér et medlem",
    "Make an invite link": "Lav et invitationslink",
    "Choose a role: owner or bookkeeper.": "Vælg en rolle: ejer eller bogholder.",
    "That is not an e-mail address.": "Det er ikke en e-mailadresse.",
    "{email} is already a member of this shop.": "{email} er allerede medlem af butikken.",
    "A shop needs an owner: make someone else an owner first.": "En butik skal have en ejer: "
    "gør først en anden til ejer.",
    # The audit log
    "Who changed the shop's settings, secrets, connections, activation and members. Newest "
    "first.": "Hvem der har ændret butikkens indstillinger, hemmeligheder, forbindelser, "
    "aktivering og medlemmer. Nyeste først.",
    "Who": "Hvem",
    "the system": "systemet",
    "Nothing has been changed yet.": "Intet er ændret endnu.",
    "Changed the settings": "Ændrede indstillingerne",
    "Rolled the ingest secret": "Skiftede modtagehemmeligheden",
    "Connected Dinero": "Forbandt Dinero",
    "Disconnected Dinero": "Afbrød forbindelsen til Dinero",
    "Connected a store": "Forbandt en webshop",
    "Changed a store's settings": "Ændrede en webshops indstillinger",
    "Started bringing in older orders": "Begyndte at hente ældre ordrer",
    "Activated the shop": "Aktiverede butikken",
    "Invited a member": "Inviterede et medlem",
    "Joined the team": "Blev en del af teamet",
    "Changed a member's role": "Skiftede et medlems rolle",
    "Removed a member": "Fjernede et medlem",
    "Withdrew an invite": "Trak en invitation tilbage",
    # Joining through an invite
    "Join {shop}": "Bliv en del af {shop}",
    "{inviter} invites {email} to the shop as {role}.": "{inviter} inviterer {email} til "
    "butikken som {role}.",
    "An owner": "En ejer",
    "Accept and open the shop": "Tag imod og åbn butikken",
    "This invite is for {email}, and you are logged in as {current}. Log out, then open the "
    "link again.": "Invitationen er til {email}, og du er logget ind som {current}. Log ud, "
    "og åbn så linket igen.",
    "{email} already has an account. Log in to accept.": "{email} har allerede en konto. Log "
    "ind for at tage imod.",
    "Set password and join": "Vælg adgangskode og bliv medlem",
    "The invite has been used, withdrawn, or has expired (invites work once, for {days} "
    "days).": "Invitationen er brugt, trukket tilbage eller udløbet (invitationer virker én "
    "gang, i {days} dage).",
    "Ask an owner of the shop for a new invite. If you have joined already, just log in.": "Bed "
    "en af butikkens ejere om en ny invitation. Er du allerede medlem, så log bare ind.",
    # What a bookkeeper may not do
    "You see the settings as a bookkeeper: only the shop's owners change them.": "Du ser "
    "indstillingerne som bogholder: kun butikkens ejere ændrer dem.",
    "Not allowed": "Ikke tilladt",
    "Only the shop's owners may do that. Ask one of them.": "Kun butikkens ejere må gøre det. "
    "Spørg en af dem.",
}
