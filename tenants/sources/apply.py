"""Recording a platform order's events through the one ingest, for every platform: facts
already recorded are no-ops, so the same order may be applied any number of times, from any
path (webhook, reconcile, backfill), and every document still comes once. An order the
gateway cannot book is kept as a problem for the owner to see (`source_problems`), and
cleared once a later state of it can be booked."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gateway.accounting import vat_errors
from gateway.db import Connection
from gateway.orders import Event, FieldError
from tenants.sources import repository
from tenants.sources.delivery import Delivery, Refused, ingest
from tenants.sources.repository import Source

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Applied:
    new_facts: int  # events recorded for the first time
    enqueue: tuple[int, ...]  # documents to enqueue once committed
    problem: bool = False


async def record(
    conn: Connection, source: Source, ref: str, name: Any, events: Sequence[Event]
) -> Applied:
    new_facts = 0
    enqueue: list[int] = []
    for event in events:
        mismatches = vat_errors(event.order, event.refund)
        if mismatches:
            detail = "; ".join(f"{e.pointer}: {e.message}" for e in mismatches)
            await problem(conn, source, ref, name, mismatches, detail)
            return Applied(new_facts, tuple(enqueue), problem=True)
        try:
            recorded = await ingest(conn, Delivery(source.shop, event, event.id.encode()))
        except Refused as refused:
            await problem(conn, source, ref, name, refused.errors, refused.detail)
            return Applied(new_facts, tuple(enqueue), problem=True)
        if not recorded.repeated:
            new_facts += 1
        enqueue.extend(recorded.enqueue)
    return Applied(new_facts, tuple(enqueue))


async def problem(
    conn: Connection,
    source: Source,
    ref: str,
    name: Any,
    errors: Sequence[FieldError],
    detail: str,
) -> None:
    log.warning(
        "%s order %s of shop %s not booked: %s", source.platform, ref, source.shop.id, detail[:500]
    )
    problem = {
        "detail": detail[:2000],
        "errors": [{"pointer": e.pointer, "message": e.message} for e in errors[:50]],
    }
    await repository.record_problem(
        conn, source.id, ref, str(name) if name is not None else None, problem
    )
