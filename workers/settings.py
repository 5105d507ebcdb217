"""The arq worker: what it runs, and the resources every job finds in `ctx`.

Job names are stable strings (`"system.heartbeat"`, later `"documents.post"`) so the web
process enqueues by name and never imports worker code.
"""

from __future__ import annotations

import os
import socket
from typing import Any, ClassVar

import httpx
from arq import cron
from arq.cron import CronJob
from arq.worker import Function, Worker, create_worker, func

from gateway.db import create_pool
from gateway.queue import redis_settings
from gateway.settings import Settings
from gateway.vault import Vault
from workers import system


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx["settings"]
    ctx["worker_id"] = f"{socket.gethostname()}:{os.getpid()}"
    ctx["pool"] = await create_pool(settings.database_url, application_name="gateway-worker")
    ctx["http"] = httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=5.0))
    ctx["vault"] = Vault(settings.token_keys)


async def shutdown(ctx: dict[str, Any]) -> None:
    if "http" in ctx:
        await ctx["http"].aclose()
    if "pool" in ctx:
        await ctx["pool"].close()


class WorkerSettings:
    functions: ClassVar[list[Function]] = [func(system.heartbeat, name="system.heartbeat")]
    cron_jobs: ClassVar[list[CronJob]] = [
        cron(system.heartbeat, name="system.heartbeat", second={0, 15, 30, 45}, run_at_startup=True)
    ]
    on_startup = startup
    on_shutdown = shutdown
    # Jobs are idempotent and Postgres holds what is owed: a job that times out is not
    # retried by arq, the sweeper picks its row up again.
    job_timeout = 120
    max_jobs = 20
    keep_result = 60
    health_check_interval = 30


def build_worker(settings: Settings, **overrides: Any) -> Worker:
    """A Worker for these settings; tests pass `burst=True`, `queue_name=...` and so on."""
    ctx = {"settings": settings, **overrides.pop("ctx", {})}
    return create_worker(
        WorkerSettings,  # type: ignore[arg-type]  # arq types settings as a dict or class
        redis_settings=redis_settings(settings.redis_url),
        ctx=ctx,
        **overrides,
    )
