"""Benchmarks (b), (c) and (d) of the posting side, against the Dinero sandbox.

Run from the project root with Postgres and Redis up (`DATABASE_URL`, `REDIS_URL` as usual;
defaults are the local ones):

    .venv/bin/python -m bench.posting            # everything, about five minutes
    .venv/bin/python -m bench.posting --quick    # (d) for 40 s instead of 130 s

(b) Dinero calls per booked invoice, for a returning customer (known to the contact cache)
    and a new one (unknown to Dinero too), counted by the sandbox per organisation.
    Targets ≤ 2.0 and ≤ 3.0. Then (`bench.settlement`) per booked-and-paid invoice, orders
    ingested by `record_event` with a card payment, the payment-status confirmation shown
    apart: targets ≤ 3.0 and ≤ 4.0; and per booked voucher in voucher mode (information).
(c) Booked invoices per second for one worker process, with the sandbox answering at once
    and after 100 ms. Dinero allows an organisation about 47 invoices a minute (two calls
    each, 95 calls in our budget), so to measure the worker rather than that limit, the
    invoices are spread over 40 organisations, 40 each (returning customers).
(d) Shop A has 20,000 queued orders, shop B (another organisation) gets one order: seconds
    from B's order being stored until its invoice is booked, sampled several times while A's
    backlog runs at its organisation's full budget, across two rate windows. Target ≤ 5 s.
    Sandbox latency 100 ms. One sample leaves B's job out of Redis (as when the web's
    enqueue fails), so only the sweeper can find it.
Throughout, the sandbox counts 429s (Dinero's limit: 100 a minute per organisation and
client): the target is none.

Machine: the figures are from whatever runs this; the worker, the sandbox, Postgres and
Redis share its CPUs, so (c) also prints the CPU the worker and the sandbox used.

What runs: `gateway sandbox` as its own process (`python -m cli.main sandbox`), a fresh
database (created, migrated, dropped at the end) and an empty Redis database, and the worker
itself: arq's `Worker` built from `workers.settings.WorkerSettings` (20 concurrent jobs, the
sweeper cron every two seconds), in this process, which does nothing else while it runs but
poll Postgres every 50 ms. (b) calls `tenants.posting.service.post_document` directly, one document
at a time, since it counts calls, not time. Orders and documents are inserted with SQL as
ingest stores them; organisations are connected through the sandbox's real consent page and
token endpoint.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import html
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

import httpx
from arq.connections import ArqRedis
from arq.worker import Worker

from bench.environment import empty_redis, fresh_database, with_path
from gateway.db import Pool, create_pool
from gateway.dinero.oauth import TokenSet, VismaConnect, new_pkce
from gateway.queue import create_redis
from gateway.ratelimit import BookingLock, RateBudget
from gateway.settings import SANDBOX_CLIENT_ID, Settings
from gateway.vault import Vault
from tenants.accounts import users
from tenants.dinero.connections import linking
from tenants.dinero.poster import Poster
from tenants.outbox import repository as outbox
from tenants.outbox.models import Ready
from tenants.posting.outcomes import Outcome
from tenants.posting.service import post_document
from tenants.shops import repository as shops
from web.openapi import EXAMPLE_EVENT
from workers.settings import build_worker

REDIRECT_URI = "http://127.0.0.1:8000/oauth/dinero/callback"
SCOPE = "dineropublicapi:read dineropublicapi:write offline_access"
ENQUEUE_AHEAD = 50  # as ingest does: the rest of a backlog is the sweeper's

# The order of DESIGN.md's example event (total 128.99), as the API documents it.
ORDER: dict[str, Any] = EXAMPLE_EVENT["order"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Env:
    settings: Settings
    pool: Pool
    vault: Vault
    http: httpx.AsyncClient
    visma: VismaConnect
    redis: ArqRedis
    sandbox: str
    sandbox_pid: int
    owner: UUID

    async def stats(self) -> dict[str, Any]:
        answer = await self.http.get(f"{self.sandbox}/_sandbox/stats")
        answer.raise_for_status()
        stats: dict[str, Any] = answer.json()
        return stats

    async def calls(self, organization_id: int) -> int:
        return int((await self.stats())["api_calls"].get(str(organization_id), 0))

    async def rate_limited(self) -> int:
        return sum((await self.stats())["rate_limited"].values())

    async def latency(self, ms: int) -> None:
        answer = await self.http.post(f"{self.sandbox}/_sandbox/faults", json={"latency_ms": ms})
        answer.raise_for_status()


# --- the environment -------------------------------------------------------------------------


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) the process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.asynccontextmanager
async def sandbox_process() -> AsyncIterator[tuple[str, int]]:
    port = _free_port()
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "cli.main", "sandbox", "--port", str(port)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "GATEWAY_ENV": "development"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(200):
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get(f"{url}/_sandbox/stats")).status_code == 200:
                        break
                await asyncio.sleep(0.05)
            else:
                raise SystemExit("the sandbox did not start")
        yield url, process.pid
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), timeout=10)


@contextlib.asynccontextmanager
async def environment() -> AsyncIterator[Env]:
    database = os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
    redis_base = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    with empty_redis(redis_base) as redis_url:
        async with (
            fresh_database(with_path(database, "/postgres")) as database_url,
            sandbox_process() as (sandbox, sandbox_pid),
            httpx.AsyncClient(timeout=30) as http,
        ):
            settings = Settings.from_env(
                {
                    "GATEWAY_ENV": "development",
                    "DATABASE_URL": database_url,
                    "REDIS_URL": redis_url,
                    "DINERO_AUTH_URL": sandbox,
                    "DINERO_API_URL": sandbox,
                    "GATEWAY_LOG_LEVEL": "WARNING",
                }
            )
            pool = await create_pool(database_url, application_name="bench", max_size=30)
            redis = create_redis(redis_url)
            try:
                async with pool.acquire() as conn:
                    owner = await users.create_user(conn, email="bench@example.com")
                yield Env(
                    settings=settings,
                    pool=pool,
                    vault=Vault(settings.token_keys),
                    http=http,
                    visma=VismaConnect(
                        http,
                        auth_url=sandbox,
                        client_id=settings.dinero_client_id,
                        client_secret=settings.dinero_client_secret,
                    ),
                    redis=redis,
                    sandbox=sandbox,
                    sandbox_pid=sandbox_pid,
                    owner=owner.id,
                )
            finally:
                await redis.aclose()
                await pool.close()


async def consent(env: Env) -> TokenSet:
    """One press of Approve on the sandbox's consent page, and the code exchanged."""
    pkce = new_pkce()
    page = await env.http.get(
        f"{env.sandbox}/connect/authorize",
        params={
            "client_id": SANDBOX_CLIENT_ID,
            "redirect_uri": REDIRECT_URI,
            "response_type": "code",
            "scope": SCOPE,
            "state": secrets.token_urlsafe(8),
            "code_challenge": pkce.challenge,
            "code_challenge_method": "S256",
        },
    )
    page.raise_for_status()
    hidden = {
        html.unescape(name): html.unescape(value)
        for name, value in re.findall(
            r'<input type="hidden" name="([^"]*)" value="([^"]*)">', page.text
        )
    }
    answer = await env.http.post(
        f"{env.sandbox}/connect/authorize", data={**hidden, "decision": "approve"}
    )
    code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
    return await env.visma.exchange_code(
        code=code, redirect_uri=REDIRECT_URI, code_verifier=pkce.verifier, now=datetime.now(UTC)
    )


async def connected_shop(env: Env, name: str) -> tuple[UUID, int]:
    """A new shop on a new sandbox organisation of its own."""
    created = await env.http.post(
        f"{env.sandbox}/_sandbox/organizations", json={"name": name, "is_pro": True}
    )
    created.raise_for_status()
    organization_id: int = created.json()["id"]
    grant = linking.Grant(
        organization_id=organization_id,
        organization_name=name,
        is_pro=True,
        tokens=await consent(env),
    )
    async with env.pool.acquire() as conn, conn.transaction():
        shop, _ = await shops.create_shop(
            conn, env.vault, name=name, owner_id=env.owner, activated_at=datetime.now(UTC)
        )
        await linking.connect_shop(
            conn, env.vault, shop_id=shop.id, grant=grant, user_id=None, now=datetime.now(UTC)
        )
    return shop.id, organization_id


async def add_orders(
    env: Env,
    shop_id: UUID,
    count: int,
    *,
    tag: str,
    customers: int | None = 1,
    domain: str | None = None,
) -> list[int]:
    """`count` paid orders with a queued invoice each, as ingest stores them. `customers`:
    how many distinct customers they come from (None: a new one every order), with e-mail
    addresses `c<n>@<domain>.dk`."""
    rows = await env.pool.fetch(
        """
        WITH made AS (
            INSERT INTO orders (shop_id, external_id, number, currency, total, payload,
                                ordered_at, paid_at, last_event_at)
            SELECT $1, $2 || n, $2 || n, 'DKK', 128.99,
                jsonb_set(jsonb_set(jsonb_set($3::jsonb, '{id}', to_jsonb($2 || n)),
                    '{number}', to_jsonb($2 || n)), '{customer,email}',
                    to_jsonb('c' || (n % coalesce($5, $4)) || '@' || $6 || '.dk')),
                now(), now(), now()
            FROM generate_series(1, $4) AS n
            RETURNING id, external_id
        )
        INSERT INTO documents (shop_id, order_id, kind, seq, mode, currency, amount, client_guid,
                               external_reference)
        SELECT $1, id, 'invoice', 0, 'booked', 'DKK', 128.99, gen_random_uuid(),
            'dg-' || left(replace($1::text, '-', ''), 12) || '-inv-' || external_id
        FROM made ORDER BY id
        RETURNING id
        """,
        shop_id,
        f"{tag}-",
        ORDER,
        count,
        customers,
        domain or tag,
    )
    return [r["id"] for r in rows]


async def enqueue(env: Env, document_ids: list[int]) -> None:
    await outbox.enqueue(env.redis, [Ready(i, 0) for i in document_ids])


async def posted_count(env: Env, document_ids: list[int]) -> int:
    count: int = await env.pool.fetchval(
        "SELECT count(*) FROM documents WHERE id = ANY($1) AND state = 'posted'", document_ids
    )
    return count


async def all_posted(env: Env, document_ids: list[int]) -> bool:
    return await posted_count(env, document_ids) == len(document_ids)


async def until(condition: Callable[[], Awaitable[bool]], *, every: float) -> None:
    """Polls `condition`: what we wait for happens in Postgres, which has no events for it."""
    while not await condition():  # noqa: ASYNC110 - nothing to wait on but the data
        await asyncio.sleep(every)


async def _idle(worker: Worker) -> bool:
    return all(task.done() for task in worker.tasks.values())


@contextlib.asynccontextmanager
async def running_worker(env: Env) -> AsyncIterator[Worker]:
    """`gateway worker`, in this process: its jobs and its crons, until the block ends."""
    worker = build_worker(env.settings, handle_signals=False, poll_delay=0.01)
    task = asyncio.create_task(worker.main())
    try:
        yield worker
    finally:
        worker.allow_pick_jobs = False
        await until(partial(_idle, worker), every=0.05)
        await worker.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


# --- (b) calls per booked invoice --------------------------------------------------------------


def direct_poster(env: Env) -> Poster:
    return Poster(
        pool=env.pool,
        vault=env.vault,
        visma=env.visma,
        http=env.http,
        budget=RateBudget(env.redis),
        bookings=BookingLock(env.redis),
        api_url=env.sandbox,
        client_id=env.settings.dinero_client_id,
        worker_id="bench",
    )


async def post_each(env: Env, poster: Poster, document_ids: list[int]) -> None:
    for document_id in document_ids:
        result = await post_document(poster, document_id, now=datetime.now(UTC))
        if result.outcome is not Outcome.POSTED:
            raise SystemExit(f"document {document_id}: {result.outcome}")


async def bench_calls(env: Env) -> None:
    print("(b) Dinero calls per booked invoice (sandbox's count per organisation)")
    poster = direct_poster(env)
    shop, org = await connected_shop(env, "Returning")
    first = await add_orders(env, shop, 1, tag="warm", domain="returning")
    await post_each(env, poster, first)  # the customer becomes known
    before = await env.calls(org)
    returning = await add_orders(env, shop, 20, tag="ret", domain="returning")
    await post_each(env, poster, returning)
    per_returning = (await env.calls(org) - before) / len(returning)

    shop, org = await connected_shop(env, "New customers")
    cold = await add_orders(env, shop, 1, tag="cold", customers=None)
    await post_each(env, poster, cold)  # the organisation's first listing of its contacts
    cold_calls = await env.calls(org)
    before = cold_calls
    new = await add_orders(env, shop, 20, tag="new", customers=None)
    await post_each(env, poster, new)
    per_new = (await env.calls(org) - before) / len(new)
    print(f"    returning customer: {per_returning:.2f} calls per invoice (target <= 2.0)")
    print(f"    new customer:       {per_new:.2f} calls per invoice (target <= 3.0)")
    print(
        f"    (an organisation's very first new customer: {cold_calls} calls, one of them the "
        "first listing of its contacts)"
    )


# --- (c) throughput of one worker process ------------------------------------------------------


async def bench_throughput(
    env: Env, latency_ms: int, organizations: int = 40, each: int = 40
) -> None:
    await env.latency(0)
    shop_ids = [
        (await connected_shop(env, f"Throughput {latency_ms} ms #{n}"))[0]
        for n in range(organizations)
    ]
    per_shop = [await add_orders(env, s, each, tag=f"t{latency_ms}", customers=1) for s in shop_ids]
    # Dealt round-robin, as the sweeper deals them.
    dealt = [ids[i] for i in range(each) for ids in per_shop]
    # The first invoice of each organisation also creates its one customer; posted first,
    # so the figure is about the steady state.
    await enqueue(env, [ids[0] for ids in per_shop])
    async with running_worker(env):
        await until(partial(all_posted, env, [ids[0] for ids in per_shop]), every=0.05)
        await env.latency(latency_ms)
        firsts = {ids[0] for ids in per_shop}
        rest = [i for i in dealt if i not in firsts]
        started = time.perf_counter()
        cpu, sandbox_cpu = time.process_time(), process_cpu(env.sandbox_pid)
        await enqueue(env, rest)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(300):
                await until(partial(all_posted, env, rest), every=0.05)
        elapsed = time.perf_counter() - started
        cpu, sandbox_cpu = time.process_time() - cpu, process_cpu(env.sandbox_pid) - sandbox_cpu
        done = await posted_count(env, rest)
    await env.latency(0)
    print(
        f"    sandbox latency {latency_ms:>3} ms: {done} invoices booked in {elapsed:.1f} s = "
        f"{done / elapsed:.0f} invoices/s; the worker used {cpu / elapsed:.0%} of a core "
        f"({cpu / done * 1000:.1f} ms an invoice), the sandbox {sandbox_cpu / elapsed:.0%}"
    )


# --- (d) another shop's order behind a backlog -------------------------------------------------


async def bench_backlog(env: Env, duration: float) -> None:
    print("(d) shop A has 20,000 queued orders; shop B posts one (sandbox latency 100 ms)")
    await env.latency(100)
    shop_a, org_a = await connected_shop(env, "Backlog A")
    shop_b, _ = await connected_shop(env, "Quiet B")
    backlog = await add_orders(env, shop_a, 20_000, tag="a", customers=None)
    await enqueue(env, backlog[:ENQUEUE_AHEAD])
    waits: list[tuple[float, str, float]] = []
    sample_at = [3.0, 15.0, 35.0, 62.0, 64.0, 90.0, 110.0, 125.0]
    sample_at = [t for t in sample_at if t < duration - 3]
    started = time.perf_counter()
    async with running_worker(env):
        for n, at in enumerate(sample_at):
            await asyncio.sleep(max(0.0, at - (time.perf_counter() - started)))
            [document_id] = await add_orders(env, shop_b, 1, tag=f"b{n}", customers=None)
            stored = time.perf_counter()
            via = "sweeper only" if n == len(sample_at) - 2 else "enqueued"
            if via == "enqueued":
                await enqueue(env, [document_id])
            await until(partial(all_posted, env, [document_id]), every=0.02)
            waits.append((at, via, time.perf_counter() - stored))
        await asyncio.sleep(max(0.0, duration - (time.perf_counter() - started)))
        elapsed = time.perf_counter() - started
    await env.latency(0)
    progress = {
        (r["state"], r["step"]): r["n"]
        for r in await env.pool.fetch(
            "SELECT state, step, count(*) AS n FROM documents WHERE id = ANY($1) "
            "GROUP BY state, step",
            backlog,
        )
    }
    a_posted = progress.get(("posted", "booked"), 0)
    created, contact = (
        progress.get(("queued", "created"), 0),
        progress.get(("queued", "contact"), 0),
    )
    for at, via, wait in waits:
        print(f"    B's order at t={at:>5.1f} s ({via:>12}): booked after {wait:.2f} s")
    print(f"    worst: {max(w for _, _, w in waits):.2f} s (target <= 5 s)")
    calls = await env.calls(org_a)
    print(
        f"    meanwhile A (every order a new customer): {a_posted} invoices booked in "
        f"{elapsed:.0f} s, {calls} calls to its organisation (at most 95 per 62 s window)"
    )
    # Every call is progress some document keeps: 3 per booked invoice (contact, invoice,
    # booking), 2 per one created and waiting to be booked, 1 per contact made, and the
    # organisation's first listing of its contacts.
    accounted = 3 * a_posted + 2 * created + contact + 1
    print(f"    of those calls, {accounted} are accounted for by the progress stored in rows")


def machine() -> str:
    load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
    return f"{os.cpu_count()} CPUs, load average {load}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="run (d) for 40 s, not 130 s")
    parser.add_argument("--only", choices=["b", "c", "d"], action="append", help="these only")
    args = parser.parse_args()
    only = set(args.only or "bcd")
    print(f"machine: {machine()}")
    async with environment() as env:
        if "b" in only:
            # Imported here: bench.settlement builds on this module's helpers.
            from bench.settlement import bench_settlement

            await bench_calls(env)
            await bench_settlement(env)
        if "c" in only:
            print("(c) invoices booked per second, one worker process (20 concurrent jobs)")
            for latency in (0, 100):
                await bench_throughput(env, latency)
        if "d" in only:
            await bench_backlog(env, 40.0 if args.quick else 130.0)
        print(f"429s the sandbox answered during all of it: {await env.rate_limited()} (target 0)")
    print(f"machine: {machine()}")


if __name__ == "__main__":
    asyncio.run(main())
