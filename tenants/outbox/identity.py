"""A document's identity in the accounting system: the Guid it is created with and the
reference it carries, both derived from the shop, the order and the document, so every
retry (and every process) computes the same ones."""

from __future__ import annotations

import hashlib
from typing import Final
from uuid import UUID, uuid5

# Fixed for ever: every document's client_guid is derived from it.
GATEWAY_NAMESPACE: Final = UUID("6e91237b-42eb-4e6c-84ae-9eba22f012d6")
MAX_REFERENCE: Final = 128
_KIND_SHORT: Final = {"invoice": "inv", "voucher": "vou", "credit_note": "cn", "payment": "pay"}


def client_guid(
    shop_id: UUID, external_id: str, kind: str, *, seq: int, source_ref: str | None = None
) -> UUID:
    """The Guid a document is created with in Dinero: the same for every retry."""
    return uuid5(GATEWAY_NAMESPACE, f"{shop_id}:{external_id}:{kind}:{source_ref or seq}")


def external_reference(shop_id: UUID, external_id: str, kind: str, *, seq: int) -> str:
    """`dg-<first 12 hex of the shop id>-<kind>-<order id>`, with `-<seq>` for documents
    an order can have several of (credit notes, payments); `vou<seq>` for the vouchers after
    the order's own (reversals, the payment voucher). Dinero allows
    128 characters; a longer order id is replaced by the first 32 hex digits of its sha256,
    which keeps the reference unique."""

    def build(order_part: str) -> str:
        if kind == "voucher" and seq:
            # `vou-<order>` is the order's voucher, so its reversals and payment voucher
            # carry their seq in the kind, not after the order id: `-vou-1001-1` would be
            # order "1001-1"'s own voucher.
            return f"dg-{shop_id.hex[:12]}-vou{seq}-{order_part}"
        reference = f"dg-{shop_id.hex[:12]}-{_KIND_SHORT[kind]}-{order_part}"
        return reference if kind in ("invoice", "voucher") else f"{reference}-{seq}"

    reference = build(external_id)
    if len(reference) > MAX_REFERENCE:
        reference = build(hashlib.sha256(external_id.encode()).hexdigest()[:32])
    return reference
