"""What every source hands to ingest: a verified delivery mapped to the canonical event, or
the reason it was refused (nothing of a refused delivery is stored)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from gateway.db import Connection
from gateway.orders import Event, FieldError, InvalidEvent
from tenants.orders import ingest as orders
from tenants.shops.ingest_secrets import IngestShop

Reason = Literal[
    "unauthenticated",  # no proof, a stale one, or one that does not match
    "malformed_proof",  # a signature header that cannot be read
    "invalid",  # fields missing or wrong (`errors` lists every one)
    "inconsistent",  # the amounts do not add up
    "vat_mismatch",  # VAT rates that do not fit the customer
    "event_id_reused",  # a known event id with another body
]


class Refused(Exception):
    """A delivery the gateway does not take, and why."""

    def __init__(self, reason: Reason, detail: str, errors: Sequence[FieldError] = ()) -> None:
        super().__init__(detail)
        self.reason: Reason = reason
        self.detail = detail
        self.errors = tuple(errors)


@dataclass(frozen=True)
class Delivery:
    """A delivery its source verified, for `shop`, as the canonical event. A repeat of the
    event id must carry the same `fingerprint`, or it is refused: for the signed API that is
    the raw body (an event id names one body for ever); a shop platform's event ids name
    facts ("order 7 was paid"), stated once whatever later reads of the order say, so its
    fingerprint is the id itself."""

    shop: IngestShop
    event: Event
    fingerprint: bytes


def invalid(errors: Sequence[FieldError]) -> Refused:
    count = len(errors)
    detail = f"{count} field{'s are' if count != 1 else ' is'} invalid; see errors."
    return Refused("invalid", detail, errors)


async def ingest(conn: Connection, delivery: Delivery) -> orders.Recorded:
    """The one ingest transaction, for every source: records the event and answers its
    receipt (the first one's, for a repeat). Enqueue `Recorded.enqueue` once this returns."""
    event = delivery.event
    try:
        return await orders.record_event(
            conn, delivery.shop, event, body_sha256=hashlib.sha256(delivery.fingerprint).digest()
        )
    except orders.EventIdReused:
        raise Refused(
            "event_id_reused",
            f"Event {event.id!r} was received before with a different body; an event id "
            "names one event and its body for ever.",
        ) from None
    except InvalidEvent as exc:
        raise invalid(exc.errors) from None
