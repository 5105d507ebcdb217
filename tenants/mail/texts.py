"""Alert mails in the recipient's language: a small body builder and the Danish for it.

The dashboard's catalogue (web/i18n.py) belongs to the web layer, which the domain must not
import, and mails are written here, in the transaction that decides to send them. So the
mails keep their own catalogue, built the same way: the English sentence is the key, and a
test checks that every message written here has a Danish entry with the same placeholders.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Final, Literal

Language = Literal["da", "en"]


class Translator:
    def __init__(self, language: Language) -> None:
        self.language = language

    def __call__(self, message: str, /, **values: object) -> str:
        text = DANISH.get(message, message) if self.language == "da" else message
        return text.format_map(values) if values else text


@dataclass
class Body:
    """Paragraphs, lists and links, written once and rendered as plain text and as HTML."""

    blocks: list[tuple[str, object]] = field(default_factory=list)

    def paragraph(self, text: str) -> Body:
        self.blocks.append(("p", text))
        return self

    def items(self, lines: list[str]) -> Body:
        self.blocks.append(("ul", lines))
        return self

    def link(self, label: str, url: str) -> Body:
        self.blocks.append(("a", (label, url)))
        return self

    def small(self, text: str) -> Body:
        self.blocks.append(("small", text))
        return self

    def text(self) -> str:
        parts: list[str] = []
        for kind, value in self.blocks:
            if kind == "ul":
                assert isinstance(value, list)
                parts.append("\n".join(f"  - {line}" for line in value))
            elif kind == "a":
                assert isinstance(value, tuple)
                parts.append(f"{value[0]}:\n{value[1]}")
            else:
                parts.append(str(value))
        return "\n\n".join(parts) + "\n"

    def html(self, language: Language) -> str:
        parts: list[str] = []
        for kind, value in self.blocks:
            if kind == "ul":
                assert isinstance(value, list)
                items = "".join(f"<li>{html.escape(line)}</li>" for line in value)
                parts.append(f"<ul>{items}</ul>")
            elif kind == "a":
                assert isinstance(value, tuple)
                label, url = (html.escape(str(v)) for v in value)
                parts.append(
                    f'<p><a href="{url}" style="{_BUTTON}">{label}</a></p>'
                    f'<p style="font-size:12px;color:#555">{url}</p>'
                )
            elif kind == "small":
                parts.append(f'<p style="font-size:12px;color:#555">{html.escape(str(value))}</p>')
            else:
                parts.append(f"<p>{html.escape(str(value))}</p>")
        return (
            f'<!doctype html><html lang="{language}"><head><meta charset="utf-8"></head>'
            f'<body style="font-family:sans-serif;line-height:1.4;max-width:40rem">'
            f"{''.join(parts)}</body></html>"
        )


_BUTTON: Final = (
    "display:inline-block;padding:8px 16px;background:#1d4ed8;color:#fff;"
    "border-radius:4px;text-decoration:none"
)

# English message → Danish, in the order the mails use them.
DANISH: Final[dict[str, str]] = {
    # Every alert
    "Hello,": "Hej,",
    "Stop these alerts": "Stop disse advarsler",
    "You get this mail because you look after {shops} in Dinero Gateway. "
    "Choose which alerts you get: {preferences}": "Du får denne mail, fordi du passer "
    "{shops} i Dinero Gateway. Vælg hvilke advarsler du får: {preferences}",
    # A connection needs reconnecting
    "Reconnect {shops} to Dinero": "Forbind {shops} til Dinero igen",
    "Dinero Gateway can no longer reach Dinero for {shops} (organisation {organisation}): "
    "the access was revoked or has expired.": "Dinero Gateway kan ikke længere nå Dinero for "
    "{shops} (organisationen {organisation}): adgangen er trukket tilbage eller udløbet.",
    "Until you reconnect, new orders wait in the gateway. Nothing is lost, and everything "
    "waiting is booked as soon as you have reconnected.": "Indtil du forbinder igen, venter "
    "nye ordrer i gatewayen. Intet går tabt, og alt der venter bliver bogført, så snart du "
    "har forbundet igen.",
    "Reconnect with one click": "Forbind igen med ét klik",
    # Renewal keeps failing
    "Dinero Gateway cannot renew its access to Dinero for {shops}": "Dinero Gateway kan ikke "
    "forny adgangen til Dinero for {shops}",
    "For {hours} hours Dinero Gateway has not been able to renew its access to Dinero "
    "(organisation {organisation}). It keeps trying, but if the access lapses first, "
    "{shops} will need to be reconnected.": "I {hours} timer har Dinero Gateway ikke kunnet "
    "forny adgangen til Dinero (organisationen {organisation}). Den prøver fortsat, men hvis "
    "adgangen udløber først, skal {shops} forbindes igen.",
    "The last error: {error}": "Den seneste fejl: {error}",
    "Reconnecting now avoids any gap": "Forbind igen nu, så undgår du et hul",
    # Documents failed (a digest)
    "{count} documents failed for {shop}": "{count} bilag fejlede for {shop}",
    "Dinero refused these documents for {shop}. Each one waits until the cause is fixed "
    "and it is retried:": "Dinero afviste disse bilag for {shop}. Hvert af dem venter, "
    "indtil årsagen er rettet, og det prøves igen:",
    "{kind} for order {number}: {error}": "{kind} for ordre {number}: {error}",
    "… and {count} more": "… og {count} mere",
    "See the failed documents": "Se de fejlede bilag",
    "invoice": "faktura",
    "credit note": "kreditnota",
    "voucher": "bilag",
    "payment": "betaling",
    # A source stopped delivering
    "Orders from {store} no longer reach {shop}": "Ordrer fra {store} når ikke længere "
    "frem til {shop}",
    "Dinero Gateway no longer receives orders from {store} for {shop}.": "Dinero Gateway "
    "modtager ikke længere ordrer fra {store} til {shop}.",
    "Shopify no longer accepts the gateway's access. Connect the store again.": "Shopify "
    "accepterer ikke længere gatewayens adgang. Forbind butikken igen.",
    "The Dinero Gateway app was uninstalled in Shopify.": "Dinero Gateway-appen blev "
    "afinstalleret i Shopify.",
    "WooCommerce no longer accepts the gateway's API key (it was revoked or its user lost "
    "the right). Connect the store again.": "WooCommerce accepterer ikke længere gatewayens "
    "API-nøgle (den blev tilbagekaldt, eller dens bruger mistede retten). Forbind butikken "
    "igen.",
    "Open the shop's page": "Åbn butikkens side",
}
