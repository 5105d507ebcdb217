"""The Danish for the pages around the shops: the layout, the start page, the error pages,
logging in, and the invite and password-reset pages.

One part of the catalogue that web/i18n.py translates with; the English sentences are the keys.
"""

from __future__ import annotations

from typing import Final

# English message → Danish. Keep the entries grouped by page, in the order they appear.
DANISH: Final[dict[str, str]] = {
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
    "Not accepted": "Ikke modtaget",
    "Something you typed holds a character that cannot be stored (a NUL character). "
    "Go back, remove it and try again.": "Noget af det indtastede indeholder et tegn, der ikke "
    "kan gemmes (et NUL-tegn). Gå tilbage, fjern det og prøv igen.",
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
    "Temporarily unavailable": "Midlertidigt utilgængelig",
    "Dinero Gateway cannot reach its database just now. Nothing already saved is lost; "
    "please try again in a minute.": "Dinero Gateway kan ikke nå sin database lige nu. Intet "
    "af det, der allerede er gemt, går tabt; prøv igen om et minut.",
    "Orders your webshop sends meanwhile are refused with a request to send them again, so "
    "none is lost.": "Ordrer, som din webshop sender imens, afvises med en besked om at sende "
    "dem igen, så ingen går tabt.",
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
}
