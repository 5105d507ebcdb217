"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

log = logging.getLogger(__name__)

_TIMEOUT: Final = 2.0


async def healthz(request: Request) -> JSONResponse:
    """The process is up and serving; says nothing about its dependencies."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    """200 when Postgres and Redis both answer; 503 naming the ones that do not."""
    checks = {"postgres": _check_postgres(request), "redis": _check_redis(request)}
    results = await asyncio.gather(*checks.values())
    failing = [name for name, ok in zip(checks, results, strict=True) if not ok]
    if failing:
        return JSONResponse({"status": "unavailable", "failing": failing}, status_code=503)
    return JSONResponse({"status": "ready"})


async def _check_postgres(request: Request) -> bool:
    try:
        async with asyncio.timeout(_TIMEOUT):
            return bool(await request.state.pool.fetchval("SELECT 1") == 1)
    except Exception as exc:  # any failure means "not ready"; the reason goes to the log
        log.warning("readiness: postgres unavailable: %s", type(exc).__name__)
        return False


async def _check_redis(request: Request) -> bool:
    try:
        async with asyncio.timeout(_TIMEOUT):
            return bool(await request.state.redis.ping())
    except Exception as exc:
        log.warning("readiness: redis unavailable: %s", type(exc).__name__)
        return False


routes = [
    Route("/healthz", healthz, methods=["GET", "HEAD"]),
    Route("/readyz", readyz, methods=["GET", "HEAD"]),
]
