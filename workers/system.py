"""Jobs and background tasks about the system itself: liveness and housekeeping."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from arq.connections import ArqRedis

from gateway.db import Pool
from gateway.outages import Outage
from tenants.mail import outbox as mail_outbox

log = logging.getLogger(__name__)

HEARTBEAT_PREFIX: Final = "gateway:worker:"
HEARTBEAT_INTERVAL: Final = 15.0
HEARTBEAT_TTL: Final = 60
# Ingest event ids are remembered this long; shops retry a failed webhook within days.
DELIVERY_RETENTION_DAYS: Final = 30
USED_TOKEN_RETENTION_DAYS: Final = 7
MAIL_RETENTION: Final = timedelta(days=90)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


async def heartbeat_forever(redis: ArqRedis, pool: Pool, ident: str) -> None:
    """Keeps `gateway:worker:<host>:<pid>` alive, saying whether this process reaches Postgres.

    A background task of each worker process, not a queued job: a job runs on whichever
    worker takes it, so it could not say which workers are alive. While Redis is away there
    is no beat, and the key expires.
    """
    key = HEARTBEAT_PREFIX + ident
    outage = Outage(log, who="the heartbeat")
    while True:
        postgres = "ok"
        try:
            await pool.fetchval("SELECT 1")
        except Exception:  # any failure: say so in the beat, and log it once with the outage
            postgres = "unavailable"
        try:
            beat = {"worker": ident, "at": datetime.now(UTC).isoformat(), "postgres": postgres}
            await redis.set(key, json.dumps(beat), ex=HEARTBEAT_TTL)
        except Exception as exc:
            outage.failed(exc, service="Redis")
        else:
            outage.over()
        await asyncio.sleep(HEARTBEAT_INTERVAL)


async def live_workers(redis: ArqRedis, *, host: str | None = None) -> list[str]:
    return sorted(await worker_beats(redis, host=host))


async def worker_beats(redis: ArqRedis, *, host: str | None = None) -> dict[str, dict[str, Any]]:
    """Each live worker's last beat, by its `<host>:<pid>`."""
    pattern = HEARTBEAT_PREFIX + (f"{host}:*" if host else "*")
    keys = [key async for key in redis.scan_iter(pattern)]
    values = await redis.mget(keys) if keys else []
    return {
        key.decode()[len(HEARTBEAT_PREFIX) :]: json.loads(value)
        for key, value in zip(keys, values, strict=True)
        if value is not None
    }


async def cleanup(ctx: dict[str, Any]) -> dict[str, int]:
    """Deletes what has expired: sessions, spent or stale link tokens, old delivery ids,
    connect flows that were finished or abandoned (with any token set they held), and mails
    and alerts dealt with months ago."""
    async with ctx["pool"].acquire() as conn:
        sessions = await conn.execute("DELETE FROM sessions WHERE expires_at < now()")
        tokens = await conn.execute(
            "DELETE FROM user_tokens WHERE expires_at < now() "
            "OR used_at < now() - make_interval(days => $1)",
            USED_TOKEN_RETENTION_DAYS,
        )
        deliveries = await conn.execute(
            "DELETE FROM deliveries WHERE received_at < now() - make_interval(days => $1)",
            DELIVERY_RETENTION_DAYS,
        )
        flows = await conn.execute(
            "DELETE FROM oauth_flows WHERE expires_at < now() OR completed_at IS NOT NULL"
        )
        mails = await mail_outbox.forget_old(conn, older_than=MAIL_RETENTION)
    counts = {
        "sessions": _count(sessions),
        "user_tokens": _count(tokens),
        "deliveries": _count(deliveries),
        "oauth_flows": _count(flows),
        "mails_and_alerts": mails,
    }
    if any(counts.values()):
        log.info("cleanup deleted %s", counts)
    return counts


def _count(status: str) -> int:
    return int(status.rsplit(" ", 1)[-1])
