"""Thirty seconds without Redis, then thirty without Postgres, while orders flow: the way
production runs it, with no person stepping in.

A real `gateway web` process and a real `gateway worker` process run against a Postgres and
a Redis of this test's own (started here, never the shared ones) and post to the live Dinero
sandbox. A shop sends a signed order every half second all along, as a shop's platform
would: an answer other than 202 (a 503 while Postgres is away, with `Retry-After`) or no
answer is sent again, with the same event id, until it is accepted. Meanwhile the test
stops Redis for `OUTAGE` seconds (it comes back empty, as a restarted cache does), lets the
pipeline move again, and stops Postgres for `OUTAGE` seconds (its data kept, as a restarted
database server's is). Then the shop stops sending and the test waits until every accepted
order is posted.

The books afterwards: every accepted order exactly one invoice in Dinero with the order's
total, nothing Dinero holds that no order asked for, and the very same web and worker
processes still running (no restart), with no traceback in their logs. Waits fail only when
nothing moves for a minute (`tests.workers.test_steady.wait_for`), so a busy machine is slow,
never a failure. On the way it checks what an operator sees: `gateway worker --check` and
`/readyz` naming what is down, the dashboard's 503 page, and each outage logged once when
it starts and once when it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx

from gateway.db import create_pool
from gateway.dinero.oauth import VismaConnect
from gateway.localservices import free_port
from gateway.outages import CONNECTION_ERRORS
from gateway.processes import stop
from gateway.secret import Secret
from gateway.settings import Settings
from gateway.vault import Vault
from tests.factories import make_shop
from tests.live import LiveSandbox
from tests.tenants.dinero.connections.test_connections import connect
from tests.web.test_ingest import event, post
from tests.workers.test_steady import (
    PrivatePostgres,
    PrivateRedis,
    check_worker,
    gateway_env,
    needs_redis_server,
    private_postgres,
    private_redis,
    tail,
    wait_for,
    worker_process,
)
from web import auth

__all__ = ["private_postgres", "private_redis"]  # fixtures, found by pytest by name

OUTAGE = 30.0  # seconds, each
EVERY = 0.5  # seconds between the shop's orders
TOTAL = "128.99"  # the example order's total


@contextlib.contextmanager
def web_process(env: dict[str, str], port: int, logpath: Path) -> Iterator[subprocess.Popen[bytes]]:
    with logpath.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "web", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield proc
    finally:
        stop(proc)


class Shop:
    """Sends an order every `EVERY` seconds until told to stop; each until it is accepted."""

    def __init__(
        self, web: httpx.AsyncClient, shop_id: Any, secret: Secret, accepted: list[str]
    ) -> None:
        self.web, self.shop_id, self.secret = web, shop_id, secret
        self.accepted = accepted  # order ids, as they are accepted
        self.refused: dict[int | str, int] = {}
        self.stopping = asyncio.Event()

    async def run(self) -> None:
        n = 0
        while not self.stopping.is_set():
            n += 1
            await self._until_accepted(event(**{"order/id": f"O{n}", "order/number": f"O{n}"}))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), EVERY)

    async def _until_accepted(self, body: dict[str, Any]) -> None:
        while True:
            try:
                answer = await post(self.web, self.shop_id, self.secret, body)
            except httpx.TransportError as error:
                self.refused[type(error).__name__] = self.refused.get(type(error).__name__, 0) + 1
                await asyncio.sleep(EVERY)
                continue
            if answer.status_code == 202:
                self.accepted.append(body["order"]["id"])
                return
            assert answer.status_code == 503, answer.text  # never a 500, never a 4xx
            assert answer.headers["retry-after"]
            self.refused[503] = self.refused.get(503, 0) + 1
            await asyncio.sleep(min(float(answer.headers["retry-after"]), EVERY))


@contextlib.asynccontextmanager
async def sending(shop: Shop) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(shop.run())
    try:
        yield task
    finally:
        shop.stopping.set()
        await task


@needs_redis_server
async def test_web_and_worker_ride_out_redis_then_postgres_away_for_30_s_each_under_orders(
    settings: Settings,
    vault: Vault,
    visma: VismaConnect,
    sandbox_server: LiveSandbox,
    private_redis: PrivateRedis,
    private_postgres: PrivatePostgres,
    tmp_path: Path,
) -> None:
    env = gateway_env(settings, private_redis.url, sandbox_server)
    env["DATABASE_URL"] = private_postgres.url
    port = free_port()
    weblog, workerlog = tmp_path / "web.log", tmp_path / "worker.log"
    pool = await create_pool(private_postgres.url, application_name="gateway-tests", max_size=2)
    try:
        shop_row, secret, _ = await make_shop(pool, vault)
        await connect(pool, vault, sandbox_server, visma, shop=shop_row)

        async def posted() -> int:
            try:
                count: int = await pool.fetchval(
                    "SELECT count(*) FROM documents WHERE state = 'posted' AND shop_id = $1",
                    shop_row.id,
                )
            except CONNECTION_ERRORS:  # this pool's connections did not outlive the outage
                return -1
            return count

        accepted: list[str] = []

        async def progress() -> Any:
            return (weblog.stat().st_size, workerlog.stat().st_size, len(accepted))

        with (
            web_process(env, port, weblog) as web_proc,
            worker_process(env, workerlog) as worker,
        ):
            waiting: dict[str, Any] = {"progress": progress, "worker": worker, "logpath": workerlog}
            base = f"http://127.0.0.1:{port}"
            async with httpx.AsyncClient(base_url=base, timeout=30) as web:

                async def web_up() -> bool:
                    assert web_proc.poll() is None, tail(weblog)
                    with contextlib.suppress(httpx.TransportError):
                        return (await web.get("/readyz")).status_code == 200
                    return False

                await wait_for(web_up, what="the web process", **waiting)
                shop = Shop(web, shop_row.id, secret, accepted)
                async with sending(shop):

                    async def more_posted(than: int) -> bool:
                        return await posted() > than

                    await wait_for(lambda: more_posted(2), what="the first posts", **waiting)

                    private_redis.stop()
                    stopped, accepted_before = time.monotonic(), len(accepted)
                    checked = await check_worker(env)  # what an operator's probe says
                    assert checked.returncode == 1, checked
                    assert checked.stdout.startswith("Redis unavailable"), checked.stdout
                    await asyncio.sleep(max(0.0, OUTAGE - (time.monotonic() - stopped)))
                    accepted_without_redis = len(accepted) - accepted_before
                    private_redis.start()
                    before = await posted()
                    await wait_for(lambda: more_posted(before), what="posts after Redis", **waiting)

                    await asyncio.to_thread(private_postgres.stop)
                    stopped, refused_before = time.monotonic(), shop.refused.get(503, 0)
                    ready = await web.get("/readyz")
                    assert (ready.status_code, ready.json()["failing"]) == (503, ["postgres"])
                    page = await web.get("/", headers={"Cookie": f"{auth.COOKIE}=a-session"})
                    assert page.status_code == 503 and "Temporarily unavailable" in page.text
                    # The worker's heartbeat says so within its interval (15 s).
                    while "Postgres unavailable" not in (checked := await check_worker(env)).stdout:
                        assert time.monotonic() - stopped < OUTAGE, checked
                        await asyncio.sleep(0.5)
                    assert checked.returncode == 1, checked
                    await asyncio.sleep(max(0.0, OUTAGE - (time.monotonic() - stopped)))
                    refused_without_postgres = shop.refused.get(503, 0) - refused_before
                    await asyncio.to_thread(private_postgres.start)
                    before = max(await posted(), 0)
                    await wait_for(
                        lambda: more_posted(before), what="posts after Postgres", **waiting
                    )

                await wait_for(
                    lambda: more_posted(len(accepted) - 1), what="every order posted", **waiting
                )
                assert worker.poll() is None and web_proc.poll() is None  # never restarted
    finally:
        await pool.close()

    for logpath in (weblog, workerlog):
        assert "Traceback" not in logpath.read_text(errors="replace"), tail(logpath)
    # Each outage is logged when it starts and when it ends, not once per retry.
    lines = workerlog.read_text().splitlines()
    for service in ("Redis", "Postgres"):
        for who in ("the worker", "the heartbeat", "jobs"):
            said = [line for line in lines if f"{service} unavailable to {who}" in line]
            assert len(said) <= 1, said
    assert sum("Redis is back for the worker" in line for line in lines) == 1, tail(workerlog)
    assert accepted_without_redis > 0  # ingest answered all along without Redis
    assert refused_without_postgres > 0  # and said 503 (never 500) without Postgres
    async with httpx.AsyncClient(base_url=sandbox_server.url) as client:
        invoices = (await client.get("/_sandbox/organizations/1001/invoices")).json()
    # Each accepted order exactly once, with its total; nothing else.
    assert sorted(i["ExternalReference"] for i in invoices) == sorted(
        set(i["ExternalReference"] for i in invoices)
    )
    assert len(invoices) == len(accepted) == len(set(accepted))
    assert {str(i["TotalInclVat"]) for i in invoices} == {TOTAL}
    assert all(i["Status"] == "Booked" for i in invoices), invoices
