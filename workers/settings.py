"""The arq worker: what it runs, and the resources every job finds in `ctx`.

Job names are stable strings, spelt once in `gateway.queue`, so the web process enqueues by
name and never imports worker code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, ClassVar

import httpx
from arq import cron
from arq.cron import CronJob
from arq.worker import Function, func, get_kwargs

from gateway import queue
from gateway.db import create_pool
from gateway.logs import request_id
from gateway.metrics import Metrics
from gateway.outages import CONNECTION_ERRORS, Outage
from gateway.queue import QUEUE_NAME, redis_settings
from gateway.settings import Settings
from gateway.vault import Vault
from tenants.dinero import payment_status
from workers import backends, connections, documents, mail, sources, system
from workers.steady import SteadyWorker, outage_tolerant

MAX_JOBS = 20


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx["settings"]
    ctx["worker_id"] = system.worker_id()
    ctx["outage"] = Outage(logging.getLogger("workers.jobs"), who="jobs")
    # Leases of posting attempts an outage cut short (`workers.documents.post`): one set for
    # the whole worker, as each job gets a copy of this dict.
    ctx["interrupted"] = set()
    # One connection per concurrent job, plus room for the heartbeat and crons.
    ctx["pool"] = await create_pool(
        settings.database_url, application_name="gateway-worker", max_size=MAX_JOBS + 2
    )
    ctx["http"] = httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=5.0))
    ctx["vault"] = Vault(settings.token_keys)
    ctx["metrics"] = Metrics(ctx["redis"])
    ctx["visma"] = connections.visma_from(ctx)
    ctx["poster"] = backends.poster_from(ctx)
    ctx["backends"] = backends.backends_from(ctx)
    if settings.smtp is None:
        logging.getLogger("workers.mail").warning(
            "mail is off (no GATEWAY_SMTP_URL): alerts wait in the outbox, none is sent"
        )
    ctx["heartbeat"] = asyncio.create_task(
        system.heartbeat_forever(ctx["redis"], ctx["pool"], ctx["worker_id"])
    )


async def shutdown(ctx: dict[str, Any]) -> None:
    if "heartbeat" in ctx:
        ctx["heartbeat"].cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ctx["heartbeat"]
        # With Redis away the beat expires by itself; Postgres's pool must close regardless.
        with contextlib.suppress(*CONNECTION_ERRORS):
            await ctx["redis"].delete(system.HEARTBEAT_PREFIX + ctx["worker_id"])
    if "http" in ctx:
        await ctx["http"].aclose()
    if "pool" in ctx:
        await ctx["pool"].close()


async def on_job_start(ctx: dict[str, Any]) -> None:
    # Log lines of a job carry its id where web lines carry the request id.
    request_id.set(f"job:{ctx['job_id']}")


class WorkerSettings:
    queue_name = QUEUE_NAME
    functions: ClassVar[list[Function]] = [
        # No result kept: the sweeper may enqueue the same attempt again the moment it ends.
        func(outage_tolerant(documents.post), name=queue.POST_DOCUMENT, keep_result=0),
    ]
    cron_jobs: ClassVar[list[CronJob]] = [
        cron(outage_tolerant(system.cleanup), name=queue.CLEANUP, minute={7, 37}, second=0),
        # Every minute; a run finds the due connections with one index range scan.
        cron(
            outage_tolerant(connections.refresh_due),
            name=queue.REFRESH_CONNECTIONS,
            second=20,
            timeout=300,
        ),
        cron(
            outage_tolerant(documents.sweep),
            name=queue.SWEEP_DOCUMENTS,
            second=set(range(0, 60, documents.SWEEP_EVERY)),
            unique=True,
            timeout=60,
        ),
        cron(
            outage_tolerant(backends.confirm_payments),
            name=queue.CONFIRM_PAYMENTS,
            second=set(range(5, 60, payment_status.CONFIRM_EVERY)),
            unique=True,
            timeout=60,
        ),
        # Every minute; each source is due every few minutes (`tenants.sources.shopify.reconcile`).
        cron(
            outage_tolerant(sources.reconcile_due),
            name=queue.RECONCILE_SOURCES,
            second=40,
            unique=True,
            timeout=600,
        ),
        cron(
            outage_tolerant(mail.run),
            name=queue.SEND_MAIL,
            second=set(range(0, 60, mail.SEND_EVERY)),
            unique=True,
            timeout=300,
        ),
        # A slice of each running backfill every 15 s, paced by the shop's posting backlog.
        cron(
            outage_tolerant(sources.backfill_due),
            name=queue.BACKFILL_SOURCES,
            second={5, 20, 35, 50},
            unique=True,
            timeout=300,
        ),
    ]
    on_startup = startup
    on_shutdown = shutdown
    on_job_start = on_job_start
    # Jobs are idempotent and Postgres holds what is owed: a job that times out is not
    # retried by arq, the sweeper picks its row up again.
    job_timeout = 120
    max_jobs = MAX_JOBS
    keep_result = 60
    health_check_interval = 30
    # On SIGTERM (a deploy), let running Dinero calls finish rather than leave them uncertain.
    job_completion_wait = 25


def build_worker(settings: Settings, **overrides: Any) -> SteadyWorker:
    """A Worker for these settings (one that rides out outages: `workers.steady`); tests
    pass `burst=True` and the like."""
    ctx = {"settings": settings, **overrides.pop("ctx", {})}
    return SteadyWorker(
        **{
            **get_kwargs(WorkerSettings),  # type: ignore[arg-type]  # arq types it as a dict or class
            "redis_settings": redis_settings(settings.redis_url),
            "ctx": ctx,
            **overrides,
        }
    )
