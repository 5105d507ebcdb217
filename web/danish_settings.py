"""The Danish for a shop's settings: posting, the invoice text, the accounts, settlement, and
the ingest secret.

One part of the catalogue that web/i18n.py translates with; the English sentences are the keys.
"""

from __future__ import annotations

from typing import Final

# English message → Danish. Keep the entries grouped by page, in the order they appear.
DANISH: Final[dict[str, str]] = {
    # A shop's settings and its ingest secret (web/settings_form.py, settings_pages.py,
    # ingest_secret_pages.py)
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
    "Tips (no VAT)": "Drikkepenge (uden moms)",
    "Duties collected (no VAT)": "Opkrævet told (uden moms)",
    "Gift cards sold (a liability, no VAT)": "Solgte gavekort (gæld, uden moms)",
    "None chosen: the standard chart has none": "Ingen valgt: standardkontoplanen har ingen",
    "Choose when an order becomes an invoice.": "Vælg, hvornår en ordre bliver til en faktura.",
    "Choose whether invoices are booked or left as drafts.": "Vælg, om fakturaer bogføres "
    "eller efterlades som kladder.",
    "Choose the invoices' language.": "Vælg fakturaernes sprog.",
    "Time zone": "Tidszone",
    "The shop's pages show times in this zone.": "Butikkens sider viser tidspunkter i denne "
    "tidszone.",
    "Choose a time zone from the list.": "Vælg en tidszone på listen.",
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
}
