"""The Shopify source's three figures, against the sandbox's Shopify and Dinero.

Run from the project root with Postgres and Redis up (`DATABASE_URL`, `REDIS_URL` as usual;
defaults are the local ones):

    .venv/bin/python -m bench.shopify            # everything, about two minutes
    .venv/bin/python -m bench.shopify --quick    # (a) 20 orders each way, (b) 300 orders
    .venv/bin/python -m bench.shopify --only b --plan standard   # (b) at 100 points/s

(a) Dinero calls per booked invoice, for orders that arrive from a Shopify store (its
    webhooks) and for the same orders sent through the signed API, each source into a shop
    and organisation of its own, counted by the sandbox per organisation. The source must not
    change the figure: both go through the one ingest and the one poster. 50 orders each way,
    from 10 customers (5 orders each), so 10 contacts are created and 40 invoices go to a
    known contact; the organisation's first listing of its contacts is in the figure too. At
    about 2.2 calls an invoice that is more than an organisation's budget of 95 calls per
    62 s, so this part waits out one rate window (about a minute).
(b) Shopify Admin API calls per 1,000 orders reconciled: a store takes 1,000 orders while
    Shopify drops every webhook (`faults.drop_rate` 1.0), then one reconcile run
    (`tenants.sources.shopify.reconcile.reconcile`, with `now` three minutes ahead so the
    orders are past its grace minute) lists them through the GraphQL Admin API and applies
    each. Printed: its calls (`Reconciled.calls`, as `AdminApi` counts them), the cost points
    Shopify charged (the sum of `actualQueryCost` in its answers) and the lowest level the
    cost bucket showed, throttled answers, the wall time, and whether every order was found.
    Shopify refuses a query its bucket cannot pay the *requested* cost of (about 850 points
    a page), so once the bucket's first 2,000 points are spent the wall time is the points
    charged over the restore rate, which the store's plan sets: Shopify Plus's 1,000 a second
    by default, to keep the run short; `--plan standard` (100 a second) shows a standard
    store, about five minutes for 1,000 orders. Calls and points do not depend on the plan.
(c) Seconds from an order placed in the store to its invoice booked in Dinero, on an idle
    machine: 10 orders, one at a time, each from a new customer (contact, invoice, booking:
    three Dinero calls), after one unmeasured order that does the organisation's first
    listing of its contacts. The clock starts before the order is placed in the sandbox and
    stops when its document is `posted` in Postgres (polled every 10 ms). It includes the
    webhook's delivery, ingest, arq picking the job up (production's `poll_delay`, 0.5 s)
    and the Dinero calls (sandbox latency 0).

What runs: `gateway sandbox` as its own process (Dinero and Shopify; it delivers Shopify's
webhooks over loopback, signed), a fresh database (created, migrated, dropped at the end) and
an empty Redis database, `gateway web` itself (real uvicorn, its own process, as in
`bench.ingest`), and for (a) and (c) one arq worker built as `gateway worker` builds it
(`workers.settings.build_worker`, its crons included) in this process, which otherwise only
places orders and polls Postgres. Stores are connected through the gateway's install code
(`tenants.sources.shopify.install`: the sandbox's grant screen, the code exchanged, the
webhooks subscribed to the web process), organisations through the sandbox's consent page
(`bench.posting`). (b) runs last and without a worker: its 1,000 invoices are never posted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import secrets
import statistics
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from uuid import UUID

import httpx
from arq.worker import Worker

from bench.ingest import web_servers
from bench.posting import Env, consent, environment, machine, until
from gateway.orders import canonical
from gateway.secret import Secret
from gateway.shopify.mapping import order_events
from tenants.dinero.connections import linking
from tenants.shops import repository as shops
from tenants.shops.ingest_secrets import sign
from tenants.sources.shopify import install, reconcile
from tests.shopify_orders import order
from workers.settings import build_worker

# Cost points a second Shopify restores to an app's bucket on a store, by plan (shopify.dev,
# "GraphQL Admin API rate limits"); the sandbox's bucket holds 2,000 points on every plan.
PLANS = {"standard": 100.0, "advanced": 200.0, "plus": 1000.0}
BUCKET = 2000.0
SESSION = secrets.token_bytes(32)  # the owner's browser session, as install.start binds it


@dataclass(frozen=True)
class Shop:
    id: UUID
    secret: Secret
    organization_id: int | None = None
    store: str | None = None
    source_id: UUID | None = None


# --- the environment -------------------------------------------------------------------------


def shopify_url(env: Env) -> str:
    return f"{env.sandbox}/_shopify/{{shop}}"


@contextlib.contextmanager
def gateway_web(env: Env) -> Iterator[str]:
    """`gateway web` on its own port; this process's settings then name it as the base URL,
    so the stores connected from here subscribe their webhooks to it."""
    variables = {
        **os.environ,
        # This checkout's code, not wherever the venv's `gateway` command was installed from.
        "PYTHONPATH": os.pathsep.join(filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")])),
        "GATEWAY_ENV": "development",
        "DATABASE_URL": env.settings.database_url,
        "REDIS_URL": env.settings.redis_url,
        "DINERO_AUTH_URL": env.sandbox,
        "DINERO_API_URL": env.sandbox,
        "SHOPIFY_SHOP_URL": shopify_url(env),
        "GATEWAY_LOG_LEVEL": "WARNING",
    }
    with web_servers(variables, 1, own_base_url=True) as [(port, _)]:
        base = env.settings.base_url
        env.settings = replace(env.settings, base_url=f"http://127.0.0.1:{port}")
        try:
            yield env.settings.base_url
        finally:
            env.settings = replace(env.settings, base_url=base)


@contextlib.asynccontextmanager
async def gateway_worker(env: Env) -> AsyncIterator[Worker]:
    """`gateway worker`'s arq Worker (default `poll_delay`, every cron), in this process."""
    worker = build_worker(env.settings, handle_signals=False)
    task = asyncio.create_task(worker.main())
    try:
        yield worker
    finally:
        worker.allow_pick_jobs = False
        await asyncio.gather(*worker.tasks.values(), return_exceptions=True)
        await worker.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def new_shop(env: Env, name: str, *, dinero: bool) -> Shop:
    """A shop, on a new sandbox organisation of its own when `dinero`."""
    organization_id = None
    grant = None
    if dinero:
        created = await env.http.post(
            f"{env.sandbox}/_sandbox/organizations", json={"name": name, "is_pro": True}
        )
        created.raise_for_status()
        organization_id = created.json()["id"]
        grant = linking.Grant(
            organization_id=organization_id,
            organization_name=name,
            is_pro=True,
            tokens=await consent(env),
        )
    async with env.pool.acquire() as conn, conn.transaction():
        shop, secret = await shops.create_shop(
            conn, env.vault, name=name, owner_id=env.owner, activated_at=datetime.now(UTC)
        )
        if grant is not None:
            await linking.connect_shop(
                conn, env.vault, shop_id=shop.id, grant=grant, user_id=None, now=datetime.now(UTC)
            )
    return Shop(shop.id, secret, organization_id)


async def connect_store(env: Env, shop: Shop, store: str) -> Shop:
    """A new sandbox store, connected to `shop` as its owner would: the gateway's authorize
    URL, Install on Shopify's grant screen, and the callback's parameters handed to
    `install.finish` (which exchanges the code and subscribes the webhooks)."""
    made = await env.http.post(f"{env.sandbox}/_sandbox/shopify/stores", json={"shop": store})
    made.raise_for_status()
    authorize = await install.start(
        env.pool,
        env.settings,
        session_hash=SESSION,
        user_id=env.owner,
        shop_id=shop.id,
        store=store,
        redirect_uri=f"{env.settings.base_url}/oauth/shopify/callback",
        now=datetime.now(UTC),
    )
    page = await env.http.get(authorize)
    page.raise_for_status()
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', page.text))
    granted = await env.http.post(authorize.split("?")[0], data=hidden)
    callback = urlsplit(granted.headers["location"])
    connected = await install.finish(
        env.pool,
        env.vault,
        env.http,
        env.settings,
        params=parse_qsl(callback.query),
        session_hash=SESSION,
        now=datetime.now(UTC),
    )
    if not connected.webhooks_ok:
        raise SystemExit(f"{store}: Shopify refused the webhook subscriptions")
    return replace(shop, store=store, source_id=connected.source_id)


async def place(env: Env, store: str, body: dict[str, Any]) -> None:
    """An order made in the store; Shopify sets `updated_at` (and sends the webhooks)."""
    body = {k: v for k, v in body.items() if k != "updated_at"}
    made = await env.http.post(f"{env.sandbox}/_sandbox/shopify/stores/{store}/orders", json=body)
    made.raise_for_status()


async def shopify_faults(env: Env, faults: dict[str, Any]) -> None:
    answer = await env.http.post(f"{env.sandbox}/_sandbox/shopify/faults", json=faults)
    answer.raise_for_status()


async def posted_invoices(env: Env, shop_id: UUID) -> int:
    count: int = await env.pool.fetchval(
        "SELECT count(*) FROM documents WHERE shop_id = $1 AND kind = 'invoice' "
        "AND state = 'posted'",
        shop_id,
    )
    return count


async def at_least(env: Env, shop_id: UUID, count: int) -> bool:
    return await posted_invoices(env, shop_id) >= count


# --- (a) Dinero calls per booked invoice, by source ------------------------------------------


async def send_signed(env: Env, web: str, shop: Shop, body: dict[str, Any]) -> None:
    """The order as a shop's own backend sends it: an `order.paid` event through the API."""
    [_, paid] = order_events(body)
    event = {
        "id": f"evt-{body['id']}-paid",
        "type": "order.paid",
        "occurred_at": paid.occurred_at.isoformat().replace("+00:00", "Z"),
        "order": canonical(paid.order),
    }
    raw = json.dumps(event).encode()
    answer = await env.http.post(
        f"{web}/api/v1/shops/{shop.id}/events",
        content=raw,
        headers={
            "Content-Type": "application/json",
            "Gateway-Signature": sign(shop.secret, int(time.time()), raw),
        },
    )
    if answer.status_code != 202:
        raise SystemExit(f"the signed API answered {answer.status_code}: {answer.text}")


async def bench_calls_by_source(env: Env, web: str, count: int) -> None:
    print(f"(a) Dinero calls per booked invoice, {count} orders each way (10 customers)")
    from_store = await connect_store(
        env, await new_shop(env, "From Shopify", dinero=True), "bench-calls.myshopify.com"
    )
    from_api = await new_shop(env, "From the signed API", dinero=True)
    assert from_store.store is not None
    assert from_store.organization_id is not None and from_api.organization_id is not None
    orders = [
        order(7001 + n, quantity=1 + n % 3, email=f"buyer-{n % 10}@example.com")
        for n in range(count)
    ]
    before = {s.id: await env.calls(s.organization_id or 0) for s in (from_store, from_api)}
    started = time.perf_counter()
    async with gateway_worker(env):
        for body in orders:
            await place(env, from_store.store, body)
            await send_signed(env, web, from_api, body)
        async with asyncio.timeout(240):
            for shop in (from_store, from_api):
                await until(partial(at_least, env, shop.id, count), every=0.1)
    elapsed = time.perf_counter() - started
    for label, shop in (("Shopify webhooks", from_store), ("signed API      ", from_api)):
        calls = await env.calls(shop.organization_id or 0) - before[shop.id]
        booked = await posted_invoices(env, shop.id)
        print(
            f"    {label}: {calls} calls for {booked} booked invoices = "
            f"{calls / booked:.2f} per invoice"
        )
    print(f"    (all booked in {elapsed:.0f} s; each organisation's budget is 95 calls per 62 s)")


# --- (c) from a store's order to its invoice booked -------------------------------------------


async def invoice_state(env: Env, shop_id: UUID, order_id: int) -> str | None:
    state: str | None = await env.pool.fetchval(
        "SELECT d.state FROM documents d JOIN orders o ON o.id = d.order_id "
        "WHERE o.shop_id = $1 AND o.external_id = $2 AND d.kind = 'invoice'",
        shop_id,
        str(order_id),
    )
    return state


async def has_invoice(env: Env, shop_id: UUID, order_id: int) -> bool:
    return await invoice_state(env, shop_id, order_id) is not None


async def booked(env: Env, shop_id: UUID, order_id: int) -> bool:
    return await invoice_state(env, shop_id, order_id) == "posted"


async def bench_latency(env: Env, samples: int) -> None:
    print(f"(c) store order -> invoice booked in Dinero, {samples} orders one at a time")
    shop = await connect_store(
        env, await new_shop(env, "Latency", dinero=True), "bench-latency.myshopify.com"
    )
    assert shop.store is not None
    gaps = random.Random(7)
    stored: list[float] = []
    waits: list[float] = []
    async with gateway_worker(env):
        for n in range(samples + 1):
            # A pause drawn at random: a fixed one would fall at the same point of arq's
            # polling cycle every time, and measure that point rather than the cycle.
            await asyncio.sleep(gaps.uniform(0.3, 1.3))
            order_id = 8001 + n
            started = time.perf_counter()
            await place(env, shop.store, order(order_id))
            async with asyncio.timeout(30):
                await until(partial(has_invoice, env, shop.id, order_id), every=0.01)
                in_postgres = time.perf_counter() - started
                await until(partial(booked, env, shop.id, order_id), every=0.01)
            if n > 0:  # the first also lists the organisation's contacts: not counted
                stored.append(in_postgres)
                waits.append(time.perf_counter() - started)
    print(
        f"    booked after: median {statistics.median(waits):.2f} s, max {max(waits):.2f} s "
        f"(each: {' '.join(f'{w:.2f}' for w in waits)})"
    )
    print(
        f"    of which the webhook's delivery and ingest (invoice row stored): median "
        f"{statistics.median(stored) * 1000:.0f} ms, max {max(stored) * 1000:.0f} ms"
    )


# --- (b) Admin API calls per 1,000 orders reconciled --------------------------------------------


@dataclass
class Costs:
    """What Shopify's answers said about cost, read as they arrive."""

    points: float = 0.0
    throttled: int = 0
    lowest: float | None = None
    answers: int = 0

    async def read(self, response: httpx.Response) -> None:
        if not response.request.url.path.endswith("/graphql.json"):
            return
        await response.aread()
        body = response.json()
        self.answers += 1
        cost = (body.get("extensions") or {}).get("cost") or {}
        self.points += float(cost.get("actualQueryCost") or 0)
        available = (cost.get("throttleStatus") or {}).get("currentlyAvailable")
        if available is not None:
            self.lowest = available if self.lowest is None else min(self.lowest, available)
        codes = [(e.get("extensions") or {}).get("code") for e in body.get("errors") or []]
        self.throttled += "THROTTLED" in codes


async def bench_reconcile(env: Env, count: int, plan: str) -> None:
    restore_rate = PLANS[plan]
    print(
        f"(b) Shopify Admin API calls to reconcile {count:,} orders whose webhooks were dropped "
        f"(cost bucket 2,000 points, restoring {restore_rate:,.0f} a second: {plan} plan)"
    )
    shop = await connect_store(
        env, await new_shop(env, "Reconcile", dinero=False), "bench-reconcile.myshopify.com"
    )
    assert shop.store is not None and shop.source_id is not None
    settings = await env.http.post(
        f"{env.sandbox}/_sandbox/shopify/stores/{shop.store}",
        json={"restore_rate": restore_rate},
    )
    settings.raise_for_status()
    await shopify_faults(env, {"drop_rate": 1.0})
    gate = asyncio.Semaphore(16)

    async def one(n: int) -> None:
        async with gate:
            await place(env, shop.store or "", order(100_001 + n, quantity=1 + n % 3))

    await asyncio.gather(*(one(n) for n in range(count)))
    await shopify_faults(env, {})
    costs = Costs()
    async with httpx.AsyncClient(event_hooks={"response": [costs.read]}) as http:
        started = time.perf_counter()
        run = await reconcile.reconcile(
            env.pool,
            env.vault,
            http,
            env.settings,
            shop.source_id,
            now=datetime.now(UTC) + timedelta(minutes=3),
        )
        elapsed = time.perf_counter() - started
    documents = await env.pool.fetchval(
        "SELECT count(*) FROM documents WHERE shop_id = $1 AND kind = 'invoice'", shop.id
    )
    per_thousand = run.calls / count * 1000
    print(
        f"    {run.calls} calls ({per_thousand:.0f} per 1,000 orders), "
        f"{costs.points:,.0f} cost points charged ({costs.points / count:.1f} an order), "
        f"{costs.throttled} answered THROTTLED, bucket never below {costs.lowest or 0:,.0f}"
    )
    print(
        f"    {elapsed:.1f} s wall time ({elapsed / count * 1000:.1f} ms an order); "
        f"read {run.read}, found {run.found} (all: {run.found == count}), "
        f"problems {run.problems}, error {run.error}; {documents} invoices queued"
    )
    if plan != "standard":
        # Steady state is Shopify's restore rate over the points an order costs; the bucket's
        # 2,000 points at the start are the only burst.
        floor = max(0.0, costs.points - BUCKET) / PLANS["standard"]
        print(
            f"    on the standard plan (100 points a second) these points alone would take at "
            f"least {floor:.0f} s (`--plan standard` runs it)"
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer orders in (a) and (b)")
    parser.add_argument("--only", choices=["a", "b", "c"], action="append", help="these only")
    parser.add_argument(
        "--plan",
        choices=list(PLANS),
        default="plus",
        help="the store's Shopify plan in (b), which sets its cost restore rate (default plus; "
        "standard takes about five minutes for 1,000 orders)",
    )
    args = parser.parse_args()
    only = set(args.only or "abc")
    print(f"machine: {machine()}")
    async with environment() as env:
        env.settings = replace(env.settings, shopify_shop_url=shopify_url(env))
        with gateway_web(env) as web:
            if "a" in only:
                await bench_calls_by_source(env, web, 20 if args.quick else 50)
            if "c" in only:
                await bench_latency(env, 10)
            if "b" in only:
                await bench_reconcile(env, 300 if args.quick else 1000, args.plan)
        print(f"429s the sandbox answered during all of it: {await env.rate_limited()} (target 0)")
    print(f"machine: {machine()}")


if __name__ == "__main__":
    asyncio.run(main())
