"""An arq worker that rides out Redis and Postgres outages of any length.

arq 0.28's `Worker.main()` ends at the first connection error from Redis, in its poll loop
or at start-up, and `gateway worker` would exit with it: nothing posted again until someone
restarted it. `SteadyWorker` waits instead: it logs when the outage starts and ends (not
each retry), backs off up to `gateway.outages.MAX_DELAY`, and carries on with the same
connections, which reconnect by themselves.

Nothing is lost or done twice meanwhile. Jobs already running keep running (they need
Postgres and Dinero, not Redis); arq only fails to record that they ended, so after its
in-progress key expires it may run one again, which is harmless: every job is idempotent
and a posting attempt starts by leasing its row in Postgres. Jobs that Redis lost are
enqueued again by the sweeper, from Postgres. While Postgres is away, a job that meets it
ends quietly (`outage_tolerant`); a posting attempt it cut short ends its lease as soon as
Postgres answers again (`workers.documents.post`), and the sweeper deals the row out again,
to be checked in Dinero before anything is created. The heartbeat (`workers.system`) says
meanwhile what the worker cannot reach, for `gateway worker --check`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from arq.typing import StartupShutdown, WorkerCoroutine
from arq.worker import Worker

from gateway.outages import CONNECTION_ERRORS, Outage, unavailable_service

log = logging.getLogger(__name__)


def outage_tolerant(job: Callable[..., Awaitable[Any]]) -> WorkerCoroutine:
    """`job`, ending quietly when Postgres or Redis is away (logged once per outage, through
    `ctx["outage"]`, which `on_startup` puts there) instead of with a traceback every time
    the sweeper's cron runs. arq would not have retried it either way: what the job was
    doing is still owed in Postgres, and a later run picks it up."""

    @functools.wraps(job)
    async def run(ctx: dict[Any, Any], *args: Any, **kwargs: Any) -> Any:
        outage: Outage | None = ctx.get("outage")
        try:
            result = await job(ctx, *args, **kwargs)
        except Exception as exc:
            if outage is None or unavailable_service(exc) is None:
                raise
            outage.failed(exc)
            return None
        if outage is not None:
            outage.over()
        return result

    return run


class SteadyWorker(Worker):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.outage = Outage(log, who="the worker")
        self._started = False
        if self.on_startup is not None:
            self.on_startup = self._retrying(self.on_startup)

    async def main(self) -> None:
        # Start-up is retried until Redis answers (arq's own retries are off: see
        # `gateway.queue.redis_settings`); after it, the poll loop catches what it meets.
        while True:
            try:
                await super().main()
                return
            except CONNECTION_ERRORS as exc:
                if self._started:
                    raise
                await asyncio.sleep(self.outage.failed(exc))

    def _retrying(self, on_startup: StartupShutdown) -> StartupShutdown:
        # Retried here rather than by `main`, which would log arq's banner on every try.
        async def start_up(ctx: dict[Any, Any]) -> None:
            while True:
                try:
                    await on_startup(ctx)
                    return
                except CONNECTION_ERRORS as exc:
                    await asyncio.sleep(self.outage.failed(exc))

        return start_up

    async def _poll_iteration(self) -> None:
        self._started = True
        try:
            await super()._poll_iteration()
        except CONNECTION_ERRORS as exc:
            await asyncio.sleep(self.outage.failed(exc))
        else:
            self.outage.over()

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        # arq counts a job as started before it asks Redis to claim it, and does not give the
        # slot back when Redis fails then: 20 such failures would leave no slot for any job.
        for job_id in job_ids:
            try:
                await super().start_jobs([job_id])
            except CONNECTION_ERRORS:
                if job_id.decode() not in self.tasks:
                    self.job_counter -= 1
                    self.sem.release()
                raise

    async def close(self) -> None:
        # arq's close waits for running jobs, then deletes its health key in Redis before it
        # calls `on_shutdown`: with Redis away that would leave Postgres's pool open.
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        self.tasks.clear()
        try:
            await super().close()
        except CONNECTION_ERRORS as exc:
            log.warning("stopping without Redis (%s)", type(exc).__name__)
            if self.on_shutdown:
                await self.on_shutdown(self.ctx)
            if self._pool is not None:
                await self._pool.aclose(close_connection_pool=True)
                self._pool = None
