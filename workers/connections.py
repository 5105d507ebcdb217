"""The token refresh cron: keeps every active connection's token set alive.

A connection is due shortly before its access token expires and at least once a day, so a
refresh token never lapses from inactivity
(`tenants.dinero.connections.service.next_refresh`). After a transient failure it is due
again only after a backoff; a connection that needs reconnecting is never due, so a revoked
grant costs one refresh call, not one a minute.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any, Final

from gateway.dinero.oauth import VismaConnect
from gateway.settings import Settings
from tenants.dinero.connections import service as connections

log = logging.getLogger(__name__)

# Refreshes in flight at once: Visma is one shared service, and the row locks are held
# while each call runs.
CONCURRENCY: Final = 4


def visma_from(ctx: dict[str, Any]) -> VismaConnect:
    settings: Settings = ctx["settings"]
    return VismaConnect(
        ctx["http"],
        auth_url=settings.dinero_auth_url,
        client_id=settings.dinero_client_id,
        client_secret=settings.dinero_client_secret,
        metrics=ctx.get("metrics"),
    )


async def refresh_due(ctx: dict[str, Any], *, now: datetime | None = None) -> dict[str, int]:
    now = now or datetime.now(UTC)
    due = await connections.due_for_refresh(ctx["pool"], now=now)
    visma = ctx.get("visma") or visma_from(ctx)
    gate = asyncio.Semaphore(CONCURRENCY)

    async def refresh(connection_id: Any) -> bool:
        async with gate:
            try:
                return await connections.refresh_if_due(
                    ctx["pool"], ctx["vault"], visma, connection_id, now=now
                )
            except Exception:  # one broken row must not stop the others
                log.exception("refreshing connection %s failed", connection_id)
                return False

    results = await asyncio.gather(*(refresh(c) for c in due))
    counts = {"due": len(due), "refreshed": sum(results), "failed": len(due) - sum(results)}
    if due:
        log.info("token refresh: %s", counts)
    return counts
