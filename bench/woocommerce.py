"""The WooCommerce source's figures, against the sandbox's WooCommerce and Dinero.

Run from the project root with Postgres and Redis up (`DATABASE_URL`, `REDIS_URL` as usual;
defaults are the local ones):

    .venv/bin/python -m bench.woocommerce            # 1,000 orders reconciled, 10 timed
    .venv/bin/python -m bench.woocommerce --quick    # 300 orders reconciled

(b) REST API calls, and wall time, to repair a store and catch up on 1,000 orders: the
    store takes 1,000 orders while every delivery fails (`faults.fail_deliveries`), so after
    its sixth failure in a row WooCommerce disables the `order.created` webhook and sends
    nothing more; then one reconcile run (`tenants.sources.woocommerce.reconcile`, `now`
    three minutes ahead so the orders are past its grace minute) reads the webhooks, turns
    that one on again, lists the orders 100 a page and applies each. Printed: its calls
    (`Reconciled.calls`), the wall time, what it found and mended.
(c) Seconds from an order placed in the store to its invoice booked in Dinero, on an idle
    machine: 10 orders, one at a time, after one unmeasured order (the organisation's first
    listing of its contacts). It includes the webhook's delivery from the sandbox's queue,
    ingest, arq picking the job up (production's `poll_delay`, 0.5 s) and the Dinero calls.

What runs is `bench.shopify`'s set-up: `gateway sandbox` and `gateway web` as their own
processes, a fresh database and an empty Redis database, and for (c) one arq worker in this
process. Stores are connected through the gateway's own key flow: the authorize URL, Approve
on the store's key page (the sandbox then POSTs the keys to the web process's callback, which
makes the webhooks), as an owner would.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import statistics
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from bench.posting import Env, environment, machine, until
from bench.shopify import SESSION, Shop, booked, gateway_web, gateway_worker, has_invoice, new_shop
from tenants.sources.woocommerce import connect, reconcile, repository
from tests.woocommerce_orders import order


async def connect_store(env: Env, shop: Shop, name: str) -> tuple[Shop, str]:
    """A new sandbox store, connected to `shop` as its owner would: the gateway's authorize
    URL and Approve on the store's key page."""
    made = await env.http.post(f"{env.sandbox}/_sandbox/woocommerce/stores", json={"name": name})
    made.raise_for_status()
    store_url: str = made.json()["store_url"]
    authorize = await connect.start(
        env.pool,
        env.settings,
        session_hash=SESSION,
        user_id=env.owner,
        shop_id=shop.id,
        store_url=store_url,
        now=datetime.now(UTC),
    )
    page = await env.http.get(authorize)
    page.raise_for_status()
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', page.text))
    approved = await env.http.post(authorize.split("?")[0], data={**hidden, "decision": "approve"})
    if approved.status_code != 302:
        raise SystemExit(f"{name}: the key flow failed: {approved.text[:300]}")
    source = await repository.of_shop(env.pool, env.vault, shop.id)
    assert source is not None
    return replace(shop, store=name, source_id=source.id), store_url


async def place(env: Env, name: str, body: dict[str, Any]) -> None:
    made = await env.http.post(
        f"{env.sandbox}/_sandbox/woocommerce/stores/{name}/orders", json=body
    )
    made.raise_for_status()


async def drain(env: Env, name: str) -> None:
    drained = await env.http.post(f"{env.sandbox}/_sandbox/woocommerce/stores/{name}/drain")
    drained.raise_for_status()


async def bench_reconcile(env: Env, count: int) -> None:
    print(f"(b) WooCommerce REST calls to repair the webhook and catch up on {count:,} orders")
    shop, _ = await connect_store(env, await new_shop(env, "Reconcile", dinero=False), "recon")
    assert shop.source_id is not None
    faults = f"{env.sandbox}/_sandbox/woocommerce/faults"
    (await env.http.post(faults, json={"fail_deliveries": True})).raise_for_status()
    gate = asyncio.Semaphore(16)

    async def one(n: int) -> None:
        async with gate:
            await place(env, "recon", order(100_001 + n, quantity=1 + n % 3))

    await asyncio.gather(*(one(n) for n in range(count)))
    await drain(env, "recon")
    (await env.http.post(faults, json={})).raise_for_status()
    hooks = await env.http.get(f"{env.sandbox}/_sandbox/woocommerce/stores/recon/webhooks")
    disabled = [h["topic"] for h in hooks.json() if h["status"] == "disabled"]
    started = time.perf_counter()
    run = await reconcile.reconcile(
        env.pool,
        env.vault,
        env.http,
        env.settings,
        shop.source_id,
        now=datetime.now(UTC) + timedelta(minutes=3),
    )
    elapsed = time.perf_counter() - started
    documents = await env.pool.fetchval(
        "SELECT count(*) FROM documents WHERE shop_id = $1 AND kind = 'invoice'", shop.id
    )
    print(f"    disabled by the store before the run: {', '.join(disabled) or 'none'}")
    print(
        f"    {run.calls} calls ({run.calls / count * 1000:.0f} per 1,000 orders): the webhooks "
        f"read, {len(run.repaired)} turned on again ({', '.join(run.repaired)}), order pages"
    )
    print(
        f"    {elapsed:.1f} s wall time ({elapsed / count * 1000:.1f} ms an order); read "
        f"{run.read}, found {run.found} (all: {run.found == count}), problems {run.problems}, "
        f"error {run.error}; {documents} invoices queued"
    )


async def bench_latency(env: Env, samples: int) -> None:
    print(f"(c) store order -> invoice booked in Dinero, {samples} orders one at a time")
    shop, _ = await connect_store(env, await new_shop(env, "Latency", dinero=True), "latency")
    gaps = random.Random(7)
    waits: list[float] = []
    async with gateway_worker(env):
        for n in range(samples + 1):
            await asyncio.sleep(gaps.uniform(0.3, 1.3))  # not always the same point of a poll
            order_id = 8001 + n
            started = time.perf_counter()
            await place(env, "latency", order(order_id))
            async with asyncio.timeout(30):
                await until(partial(has_invoice, env, shop.id, order_id), every=0.01)
                await until(partial(booked, env, shop.id, order_id), every=0.01)
            if n > 0:
                waits.append(time.perf_counter() - started)
    print(
        f"    booked after: median {statistics.median(waits):.2f} s, max {max(waits):.2f} s "
        f"(each: {' '.join(f'{w:.2f}' for w in waits)})"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="300 orders in (b)")
    parser.add_argument("--only", choices=["b", "c"], action="append", help="these only")
    args = parser.parse_args()
    only = set(args.only or "bc")
    print(f"machine: {machine()}")
    async with environment() as env:
        with gateway_web(env):
            if "c" in only:
                await bench_latency(env, 10)
            if "b" in only:
                await bench_reconcile(env, 300 if args.quick else 1000)
        print(f"429s the sandbox answered during all of it: {await env.rate_limited()} (target 0)")
    print(f"machine: {machine()}")


if __name__ == "__main__":
    asyncio.run(main())
