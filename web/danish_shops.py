"""The Danish for an owner's shop pages: the shop list, the shop page with its set-up guide
and Dinero connection, connecting to Dinero, and the shop's documents.

One part of the catalogue that web/i18n.py translates with; the English sentences are the keys.
"""

from __future__ import annotations

from typing import Final

# English message → Danish. Keep the entries grouped by page, in the order they appear.
DANISH: Final[dict[str, str]] = {
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
    # Connecting (web/connect.py and tenants/dinero/connections/oauth_flows.py say these in English)
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
    "Until you activate the shop, only test orders go to Dinero: the shop's own orders are "
    "kept here, waiting for activation. Activating sends them, oldest first, and from then "
    "on every order becomes a document in Dinero as your settings say.": "Indtil du "
    "aktiverer butikken, går kun testordrer til Dinero: butikkens egne ordrer bliver her og "
    "venter på aktivering. Når du aktiverer, "
    "sendes de, ældste først, og derefter bliver hver ordre til et dokument i Dinero, sådan "
    "som dine indstillinger siger.",
    "{count} waiting for activation": "{count} venter på aktivering",
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
    "In Dinero's web app": "I Dineros webapp",
    "Open organisation {id} in Dinero": "Åbn firma {id} i Dinero",
    "(number {number} there)": "(nummer {number} dér)",
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
    "Released by the shop's activation": "Sendt videre, da butikken blev aktiveret",
    "Interrupted": "Afbrudt",
    "Test order": "Testordre",
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
    # The shop page's order sources (Shopify)
    "Order sources": "Ordrekilder",
    "Uninstalled": "Afinstalleret",
    "Failing": "Fejler",
    "Why": "Hvorfor",
    "Last webhook": "Seneste webhook",
    "Last reconcile": "Seneste afstemning",
    "Found by reconcile": "Fundet ved afstemning",
    "{count} orders webhooks missed": "{count} ordrer, som webhooks missede",
    "{count} orders could not be booked:": "{count} ordrer kunne ikke bogføres:",
    "Nothing already booked changes. Connect the store again to bring in its orders; your "
    "settings are kept.": "Intet, der allerede er bogført, ændres. Forbind butikken igen for at "
    "hente dens ordrer; dine indstillinger bevares.",
    "Shopify store address": "Shopify-butikkens adresse",
    "Reconnect Shopify": "Forbind Shopify igen",
    "Connect Shopify": "Forbind Shopify",
    "Orders also arrive through the signed API, which every shop has.": "Ordrer kan også komme "
    "via det signerede API, som alle butikker har.",
    "That is not a Shopify store address": "Det er ikke en Shopify-butiks adresse",
    "Type the store's address as Shopify shows it, e.g. my-shop.myshopify.com.": "Skriv "
    "butikkens adresse, som Shopify viser den, f.eks. min-butik.myshopify.com.",
    "The store was not connected": "Butikken blev ikke forbundet",
    "Orders since {day}": "Ordrer siden {day}",
    "The buyer's EU VAT number is in the order's note attribute named": "Købers EU-momsnummer "
    "står i ordrens note-attribut med navnet",
    "Comma-separated, any case; the first one an order has is used. Empty: the usual names of "
    "the EU VAT apps.": "Adskilt med komma, store og små bogstaver er ens; den første, ordren "
    "har, bruges. Tom: de navne, EU-momsapps normalt bruger.",
    "Too many names": "For mange navne",
    "Give at most 10 names of at most 100 characters each.": "Angiv højst 10 navne på højst "
    "100 tegn hver.",
    "Save": "Gem",
    "Nothing was saved": "Intet blev gemt",
    "WooCommerce store address": "WooCommerce-butikkens adresse",
    "https://my-shop.dk": "https://min-butik.dk",
    "Reconnect WooCommerce": "Forbind WooCommerce igen",
    "Connect WooCommerce": "Forbind WooCommerce",
    "That store address cannot be used": "Den butiksadresse kan ikke bruges",
    "The buyer's EU VAT number is in the order's meta_data key named": "Købers EU-momsnummer "
    "står i ordrens meta_data-nøgle med navnet",
    "Comma-separated, any case, tried in this order. Empty: the keys the common EU VAT plugins "
    "use.": "Adskilt med komma, store og små bogstaver er ens, prøvet i denne rækkefølge. Tom: de "
    "nøgler, de almindelige EU-moms-plugins bruger.",
    # The documents list's filters and export
    "An order number, its beginning, or the order id": "Et ordrenummer, dets begyndelse eller "
    "ordre-id'et",
    "Name, company or e-mail": "Navn, firma eller e-mail",
    "From": "Fra",
    "To": "Til",
    "Amount from": "Beløb fra",
    "Amount to": "Beløb til",
    "Download as CSV": "Hent som CSV",
    # Payment status of money back on a credit note
    "Refunded": "Tilbagebetalt",
    "Refunded too much": "Tilbagebetalt for meget",
    "Partly refunded": "Delvist tilbagebetalt",
    "Refund registered, awaiting Dinero's confirmation": "Tilbagebetaling registreret, afventer "
    "bekræftelse fra Dinero",
    "Refund not registered yet": "Tilbagebetaling ikke registreret endnu",
    "my-shop.myshopify.com": "min-butik.myshopify.com",
    # A document's page: its source and its lines in Dinero
    "Source": "Kilde",
    "the order in Shopify": "ordren i Shopify",
    "the order in WooCommerce": "ordren i WooCommerce",
    "the signed API": "det signerede API",
    "In Dinero": "I Dinero",
    "EU business with a valid VAT number ({number}): reverse charge, no Danish VAT.": "EU-"
    "virksomhed med gyldigt momsnummer ({number}): omvendt betalingspligt, ingen dansk moms.",
    "Private customer in {country}, no valid EU VAT number: Danish VAT.": "Privatkunde i "
    "{country}, intet gyldigt EU-momsnummer: dansk moms.",
    "Customer outside the EU ({country}): export, no VAT.": "Kunde uden for EU ({country}): "
    "eksport, ingen moms.",
    "Customer": "Kunde",
    "Country": "Land",
    "VAT number": "Momsnummer",
    "Danish customer: Danish VAT.": "Dansk kunde: dansk moms.",
    "Prices include VAT.": "Priserne er inkl. moms.",
    "Prices exclude VAT.": "Priserne er ekskl. moms.",
    "Line": "Linje",
    "Quantity": "Antal",
    "Unit price": "Enhedspris",
    "Account": "Konto",
    "VAT": "Moms",
    "Total excl. VAT": "I alt ekskl. moms",
    "Total incl. VAT": "I alt inkl. moms",
    "{count} read": "{count} læst",
    "of {total}": "af {total}",
    "{count} booked": "{count} bogført",
    "{count} failed": "{count} fejlet",
    "about {minutes} min left": "ca. {minutes} min tilbage",
    "Live orders go first: old ones are read only while Dinero keeps up.": "Nye ordrer går "
    "først: gamle læses kun, mens Dinero kan følge med.",
    "Shopify lets apps read only the last 60 days of orders, so orders before {day} are not "
    "brought in. For older ones Shopify must grant the gateway access to all orders (the "
    "read_all_orders permission).": "Shopify lader kun apps læse de seneste 60 dages ordrer, så "
    "ordrer fra før {day} hentes ikke. Skal ældre ordrer med, skal Shopify give gatewayen adgang "
    "til alle ordrer (tilladelsen read_all_orders).",
    "Shopify shows the gateway only the last {days} days of orders: from an earlier day, orders "
    "older than that are not brought in.": "Shopify viser kun gatewayen de seneste {days} dages "
    "ordrer: vælger du en tidligere dag, hentes ordrer, der er ældre end det, ikke.",
    "Bring in orders since": "Hent ordrer siden",
    "Bring in older orders": "Hent ældre ordrer",
    "That is not a date": "Det er ikke en dato",
    "Pick the first day whose orders should be brought in, e.g. 2026-01-01.": "Vælg den første "
    "dag, hvis ordrer skal hentes, f.eks. 2026-01-01.",
    "The backfill did not start": "Hentningen blev ikke startet",
    "Pick a start date in the past.": "Vælg en startdato i fortiden.",
    "Connect the store first.": "Forbind butikken først.",
}
