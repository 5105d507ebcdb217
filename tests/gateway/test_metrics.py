"""Counters and histograms kept in Redis: several processes add to one number, labels stay
within their declared values, the exposition is Prometheus' text format, and recording
never fails its caller. Also where the core records: the call budget and token refreshes."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from arq.connections import ArqRedis
from prometheus_client.parser import text_string_to_metric_families

from gateway.dinero.oauth import InvalidGrant, VismaConnect
from gateway.metrics import (
    DINERO_CALLS,
    INGEST_REQUESTS,
    RATE_BUDGET_WAIT_SECONDS,
    RATE_BUDGET_WAITS,
    STORED_TO_POSTED,
    TOKEN_REFRESHES,
    Metrics,
    Tally,
    dinero_outcome,
    exposition,
)
from gateway.queue import create_redis
from gateway.ratelimit import BudgetKey, RateBudget
from gateway.secret import Secret
from gateway.settings import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, Settings
from tests.live import LiveSandbox
from tests.tenants.dinero.connections.test_connections import consent
from tests.workers.test_steady import PrivateRedis, needs_redis_server


def samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, by name and sorted labels (parsed as Prometheus would)."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text.decode())
        for s in family.samples
    }


async def scrape(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return samples(exposition(await metrics.families()))


@pytest.fixture
async def processes(settings: Settings, redis: ArqRedis) -> AsyncIterator[list[Metrics]]:
    """Three processes' own Redis clients: two that record, one that scrapes."""
    clients = [create_redis(settings.redis_url) for _ in range(3)]
    yield [Metrics(c) for c in clients]
    for client in clients:
        await client.aclose()


async def test_what_several_processes_count_is_scraped_as_one_sum(
    processes: list[Metrics],
) -> None:
    web, worker, scraper = processes

    async def calls(metrics: Metrics, n: int, outcome: str) -> None:
        for _ in range(n):
            await metrics.inc(DINERO_CALLS, outcome=outcome)

    await asyncio.gather(calls(web, 50, "ok"), calls(worker, 70, "ok"), calls(worker, 3, "429"))
    await web.observe(STORED_TO_POSTED, 2.5, kind="invoice")
    await worker.observe(STORED_TO_POSTED, 700, kind="invoice")

    seen = await scrape(scraper)
    assert seen[("gateway_dinero_calls_total", (("outcome", "ok"),))] == 120
    assert seen[("gateway_dinero_calls_total", (("outcome", "429"),))] == 3
    assert seen[("gateway_dinero_calls_total", (("outcome", "5xx"),))] == 0
    invoice = ("kind", "invoice")
    bucket = "gateway_document_stored_to_posted_seconds_bucket"
    assert seen[(bucket, (invoice, ("le", "1.0")))] == 0
    assert seen[(bucket, (invoice, ("le", "5.0")))] == 1
    assert seen[(bucket, (invoice, ("le", "900.0")))] == 2
    assert seen[(bucket, (invoice, ("le", "+Inf")))] == 2
    assert seen[("gateway_document_stored_to_posted_seconds_count", (invoice,))] == 2
    assert seen[("gateway_document_stored_to_posted_seconds_sum", (invoice,))] == 702.5


_COUNT_CALLS = """
import asyncio, sys
from gateway.metrics import DINERO_CALLS, Metrics
from gateway.queue import create_redis

async def main() -> None:
    redis = create_redis(sys.argv[1])
    for _ in range(int(sys.argv[2])):
        await Metrics(redis).inc(DINERO_CALLS, outcome="uncertain")
    await redis.aclose()

asyncio.run(main())
"""


async def test_two_real_processes_add_to_the_same_count(
    settings: Settings, processes: list[Metrics]
) -> None:
    root = Path(__file__).parents[2]  # this tree's `gateway`, not an installed one
    children = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", _COUNT_CALLS, settings.redis_url, str(n), cwd=root
        )
        for n in (30, 45)
    ]
    assert [await child.wait() for child in children] == [0, 0]
    seen = await scrape(processes[0])
    assert seen[("gateway_dinero_calls_total", (("outcome", "uncertain"),))] == 75


async def test_every_family_is_there_from_the_start_with_bounded_labels(
    processes: list[Metrics],
) -> None:
    text = exposition(await processes[0].families())
    families = {f.name: f for f in text_string_to_metric_families(text.decode())}
    assert {
        "gateway_dinero_calls",
        "gateway_rate_budget_waits",
        "gateway_rate_budget_wait_seconds",
        "gateway_token_refreshes",
        "gateway_ingest_requests",
        "gateway_document_stored_to_posted_seconds",
    } <= set(families)
    assert families["gateway_dinero_calls"].type == "counter"
    assert families["gateway_document_stored_to_posted_seconds"].type == "histogram"
    outcomes = {s.labels["outcome"] for s in families["gateway_dinero_calls"].samples}
    assert outcomes == {"ok", "4xx", "429", "5xx", "uncertain"}


async def test_a_value_outside_a_labels_set_is_counted_as_other(
    processes: list[Metrics],
) -> None:
    await processes[0].inc(INGEST_REQUESTS, source="api", status="418")
    await processes[0].inc(INGEST_REQUESTS, source="api", status="202")
    seen = await scrape(processes[1])
    api = ("source", "api")
    assert seen[("gateway_ingest_requests_total", (api, ("status", "other")))] == 1
    assert seen[("gateway_ingest_requests_total", (api, ("status", "202")))] == 1
    assert not [key for key in seen if ("status", "418") in key[1]]
    with pytest.raises(ValueError, match="labels"):
        await processes[0].inc(INGEST_REQUESTS, shop="a-shop-id")


def test_a_dinero_call_is_sorted_into_five_outcomes() -> None:
    assert [dinero_outcome(s) for s in (200, 201, 400, 401, 429, 500, 503, None)] == [
        "ok",
        "ok",
        "4xx",
        "4xx",
        "429",
        "5xx",
        "5xx",
        "uncertain",
    ]


async def test_recording_without_redis_loses_the_count_not_the_caller() -> None:
    unreachable = create_redis("redis://127.0.0.1:1/0")
    try:
        metrics = Metrics(unreachable)
        await metrics.inc(DINERO_CALLS, outcome="ok")
        await metrics.observe(STORED_TO_POSTED, 1.0, kind="invoice")
    finally:
        await unreachable.aclose()


async def test_a_tally_adds_its_counts_to_redis_together(
    redis: ArqRedis, processes: list[Metrics]
) -> None:
    scraper = processes[2]
    tally = Tally(redis, every=3600)  # flushed only when asked, here
    counting = Metrics(redis, tally)
    for status in ("202", "202", "202", "422"):
        await counting.inc(INGEST_REQUESTS, source="api", status=status)
    await counting.inc(RATE_BUDGET_WAIT_SECONDS, 0.25)
    await counting.inc(RATE_BUDGET_WAIT_SECONDS, 0.5)
    api = ("source", "api")
    accepted = ("gateway_ingest_requests_total", (api, ("status", "202")))

    assert (await scrape(scraper))[accepted] == 0  # still in the process
    seen = await scrape(counting)  # a scrape flushes its own process's counts first
    assert seen[accepted] == 3
    assert seen[("gateway_ingest_requests_total", (api, ("status", "422")))] == 1
    assert seen[("gateway_rate_budget_wait_seconds_total", ())] == 0.75
    assert (await scrape(scraper))[accepted] == 3

    await counting.inc(INGEST_REQUESTS, source="api", status="202")
    await tally.close()  # a process that stops adds what it counted
    assert (await scrape(scraper))[accepted] == 4


async def test_a_tally_flushes_on_its_own(redis: ArqRedis, processes: list[Metrics]) -> None:
    scraper = processes[2]
    tally = Tally(redis, every=0.01)
    try:
        await Metrics(redis, tally).inc(DINERO_CALLS, outcome="ok")
        key = ("gateway_dinero_calls_total", (("outcome", "ok"),))
        seen = await scrape(scraper)
        while seen[key] == 0:  # as long as it takes: no clock decides
            await asyncio.sleep(0.01)
            seen = await scrape(scraper)
    finally:
        await tally.close()


@needs_redis_server
async def test_a_tally_keeps_its_counts_while_redis_is_away(tmp_path: Path) -> None:
    server = PrivateRedis(tmp_path)
    server.start()
    client = create_redis(server.url)
    tally = Tally(client, every=3600)
    metrics = Metrics(client, tally)
    try:
        server.stop()
        await metrics.inc(DINERO_CALLS, outcome="5xx")
        await tally.flush()  # fails quietly; the count stays in the process
        await metrics.inc(DINERO_CALLS, outcome="5xx")
        server.start()
        await tally.flush()
        seen = await scrape(Metrics(client))
        assert seen[("gateway_dinero_calls_total", (("outcome", "5xx"),))] == 2
    finally:
        await tally.close()
        await client.aclose()
        server.stop()


async def test_the_call_budget_counts_its_waits_and_refusals(
    redis: ArqRedis, processes: list[Metrics]
) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    budget = RateBudget(redis, limit=1, window=2.0, sleep=sleep, metrics=processes[0])
    key = BudgetKey("client", 1)
    assert await budget.acquire(key) == 0
    assert await budget.acquire(key) > 0  # refused: the one slot is taken
    assert await budget.acquire(key, max_wait=5.0) == 0  # granted after a sleep

    seen = await scrape(processes[1])
    assert seen[("gateway_rate_budget_waits_total", (("result", "refused"),))] == 1
    assert seen[("gateway_rate_budget_waits_total", (("result", "slept"),))] == 1
    waited = seen[("gateway_rate_budget_wait_seconds_total", ())]
    assert waited == pytest.approx(slept[0], abs=0.002) and waited > 0
    assert RATE_BUDGET_WAITS.labels and not RATE_BUDGET_WAIT_SECONDS.labels


async def test_token_refreshes_are_counted_by_outcome(
    http: httpx.AsyncClient, sandbox_server: LiveSandbox, processes: list[Metrics]
) -> None:
    visma = VismaConnect(
        http,
        auth_url=sandbox_server.url,
        client_id=SANDBOX_CLIENT_ID,
        client_secret=Secret(SANDBOX_CLIENT_SECRET),
        metrics=processes[0],
    )
    now: datetime = sandbox_server.sandbox.now()
    tokens = await consent(sandbox_server, visma, now=now)
    await visma.refresh(tokens.refresh_token, now=now)
    with pytest.raises(InvalidGrant):
        await visma.refresh(Secret("not-a-refresh-token"), now=now)

    seen = await scrape(processes[1])
    by_outcome = {
        o: seen[("gateway_token_refreshes_total", (("outcome", o),))]
        for o in TOKEN_REFRESHES.labels["outcome"]
    }
    assert by_outcome == {"ok": 1, "invalid_grant": 1, "unavailable": 0, "rejected": 0}
