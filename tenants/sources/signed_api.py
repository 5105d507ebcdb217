"""The first source: the gateway's own signed JSON API. A delivery is verified with the
shop's ingest secret (`Gateway-Signature`, `tenants.shops.ingest_secrets`) and its body is
the canonical event already, checked as ingest needs it.

An unknown shop and a wrong signature are refused alike, and take as long, so a caller never
learns whether a shop id exists."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Final
from uuid import UUID

from gateway.accounting import vat_errors
from gateway.db import Connection, Pool
from gateway.orders import Event, FieldError, InconsistentOrder, InvalidEvent, parse_event
from gateway.vault import Vault
from tenants.shops import ingest_secrets
from tenants.shops.ingest_cache import IngestShops
from tenants.shops.ingest_secrets import SIGNATURE_HEADER, TOLERANCE_SECONDS, IngestShop
from tenants.sources.delivery import Delivery, Refused, invalid

log = logging.getLogger(__name__)

# Says nothing about which of shop id, secret or signature is wrong: that would tell a caller
# which shop ids exist.
NOT_AUTHENTIC: Final = (
    "The request could not be authenticated: check the shop id, the ingest secret and how "
    "the Gateway-Signature is computed."
)


async def receive(
    conn: Connection | Pool,
    vault: Vault,
    *,
    shop_id: str,
    signature: str | None,
    body: bytes,
    now: datetime,
    production: bool,
    shops: IngestShops | None = None,
) -> Delivery:
    """The delivery, verified and parsed; raises `Refused` for anything the gateway does not
    take. Cheapest checks first: the header, its timestamp, the shop and the signature, and
    only then the body. With `shops`, the shop may come from that cache (its fingerprint
    then goes with the delivery, for ingest to check)."""
    header = _signature_header(signature)
    if not ingest_secrets.is_fresh(header, now):
        raise Refused(
            "unauthenticated",
            f"The signature's timestamp is more than {TOLERANCE_SECONDS} seconds away from "
            "the server's clock: sign each request when sending it.",
        )
    shop, cached = await _shop(conn, vault, shop_id, now, shops)
    # Verified even for an unknown shop (against a throwaway key), so both take as long.
    authentic = ingest_secrets.matches(header, body, shop.secrets if shop else ())
    if cached and not authentic and shop is not None and shops is not None:
        # The cache may be older than a roll the sender already follows: ask the row.
        shop = await shops.load(conn, shop.id, now)
        authentic = ingest_secrets.matches(header, body, shop.secrets if shop else ())
    if shop is None or not authentic:
        # For the operator: the caller learns nothing from it.
        log.info(
            "ingest refused: %s for shop %r",
            "unknown shop" if shop is None else "no signature matches",
            shop_id[:64],
        )
        raise Refused("unauthenticated", NOT_AUTHENTIC)
    return Delivery(shop, to_event(body, production=production), body)


def to_event(body: bytes, *, production: bool) -> Event:
    """The canonical event the body is, or `Refused` listing what is wrong with it."""
    try:
        event = parse_event(body)
    except InconsistentOrder as exc:
        raise Refused("inconsistent", str(exc), exc.errors) from None
    except InvalidEvent as exc:
        raise invalid(exc.errors) from None
    # Outside production a shop on this machine may serve its PDF over http; in production
    # the worker would refuse it anyway (`gateway.pdf`): say so now.
    pdf_url = event.order.invoice.pdf_url if event.order.invoice else None
    if production and pdf_url is not None and not pdf_url.startswith("https://"):
        raise invalid([FieldError("/order/invoice/pdf_url", "must be an https:// URL")])
    mismatches = vat_errors(event.order, event.refund)
    if mismatches:
        raise Refused(
            "vat_mismatch", "; ".join(f"{e.pointer}: {e.message}" for e in mismatches), mismatches
        )
    return event


def _signature_header(value: str | None) -> ingest_secrets.SignatureHeader:
    if value is None:
        raise Refused("unauthenticated", f"The {SIGNATURE_HEADER} header is missing.")
    try:
        return ingest_secrets.parse_signature_header(value)
    except ingest_secrets.MalformedSignature as exc:
        raise Refused(
            "malformed_proof",
            f"The {SIGNATURE_HEADER} header is malformed: {exc}. Expected "
            "t=<unix seconds>,v1=<hex HMAC-SHA256>.",
        ) from None


async def _shop(
    conn: Connection | Pool,
    vault: Vault,
    shop_id: str,
    now: datetime,
    shops: IngestShops | None,
) -> tuple[IngestShop | None, bool]:
    """The shop, and whether it came from the cache."""
    try:
        parsed = UUID(shop_id)
    except ValueError:
        return None, False  # not a shop: the same refusal as any unknown shop
    if shops is None:
        return await ingest_secrets.shop_for_ingest(conn, vault, parsed, now), False
    cached = shops.cached(parsed, now)
    if cached is not None:
        return cached, True
    return await shops.load(conn, parsed, now), False
