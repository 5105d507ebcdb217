"""How a WooCommerce order was paid, in the gateway's terms: from the payment gateway's id
(`payment_method`) and the title the shop gave it (`payment_method_title`), which is often
Danish ("Betalingskort", "Bankoverførsel")."""

from __future__ import annotations

from typing import Final

from gateway.orders import PaymentMethod

# Lower-case fragments of a gateway id or title, tried in this order.
_FRAGMENTS: Final[tuple[tuple[str, PaymentMethod], ...]] = (
    ("mobilepay", "mobilepay"),
    ("vipps", "mobilepay"),
    ("bacs", "bank_transfer"),
    ("bank", "bank_transfer"),
    ("overførsel", "bank_transfer"),
    ("faktura", "invoice"),
    ("invoice", "invoice"),
    ("ean", "invoice"),
    ("stripe", "card"),
    ("quickpay", "card"),
    ("reepay", "card"),
    ("frisbii", "card"),
    ("nets", "card"),
    ("dibs", "card"),
    ("card", "card"),
    ("kort", "card"),
    ("woocommerce_payments", "card"),
)


def method(gateway_id: str | None, title: str | None) -> PaymentMethod:
    """Our payment method for a WooCommerce payment gateway; cash on delivery, cheques,
    PayPal, Klarna and anything unknown are "other"."""
    for value in (gateway_id, title):
        name = (value or "").strip().lower()
        if not name:
            continue
        for fragment, found in _FRAGMENTS:
            if fragment in name:
                return found
    return "other"
