"""Jobs about the workers themselves."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Final

HEARTBEAT_PREFIX: Final = "gateway:worker:"
HEARTBEAT_TTL: Final = 60


async def heartbeat(ctx: dict[str, Any]) -> str:
    """Tells Redis this worker is alive and can reach Postgres (for the admin's overview).

    Each live worker keeps one key that expires a minute after its last beat, so
    `SCAN gateway:worker:*` lists the workers that are running now.
    """
    await ctx["pool"].fetchval("SELECT 1")
    beat = {"worker": ctx["worker_id"], "at": datetime.now(UTC).isoformat()}
    await ctx["redis"].set(HEARTBEAT_PREFIX + ctx["worker_id"], json.dumps(beat), ex=HEARTBEAT_TTL)
    return str(ctx["worker_id"])
