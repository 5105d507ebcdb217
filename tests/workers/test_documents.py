"""`documents.post` and `documents.sweep` as the worker runs them: registered in
`WorkerSettings`, run by a real arq worker against the live sandbox, and the sweeper's
promises (fair, within budget, nothing lost when Redis or Dinero is)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from arq.connections import ArqRedis

from gateway.db import Pool
from gateway.dinero.oauth import VismaConnect
from gateway.outages import unavailable_service
from gateway.queue import QUEUE_NAME, create_redis
from gateway.ratelimit import BookingLock, BudgetKey, RateBudget
from gateway.settings import SANDBOX_CLIENT_ID, Settings
from gateway.vault import Vault
from sandbox.state import Faults
from tenants.dashboard import sample_order as sample_orders
from tenants.dinero.connections import service as connections
from tenants.dinero.poster import Poster
from tenants.outbox import repository as outbox
from tenants.outbox.models import Ready
from tenants.posting.outcomes import Interrupted
from tests.factories import make_shop
from tests.live import LiveSandbox
from tests.tenants.dinero.connections.test_connections import connect
from tests.tenants.outbox.test_outbox import (
    make_connection,
    make_credit_note,
    make_document,
    make_order,
    order_body,
    refund_body,
    row,
    shop_on,
)
from workers import backends, documents
from workers.settings import WorkerSettings, build_worker


@pytest.fixture
def ctx(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    redis: ArqRedis,
    sandbox_server: LiveSandbox,
) -> dict[str, Any]:
    poster = Poster(
        pool=pool,
        vault=vault,
        visma=visma,
        http=http,
        budget=RateBudget(redis),
        bookings=BookingLock(redis),
        api_url=sandbox_server.url,
        client_id=SANDBOX_CLIENT_ID,
        worker_id="test-worker",
    )
    return {"pool": pool, "redis": redis, "poster": poster, "interrupted": set()}


async def queued_jobs(redis: ArqRedis) -> list[str]:
    return [job.decode() for job in await redis.zrange(QUEUE_NAME, 0, -1)]


async def run_worker(settings: Settings, live: LiveSandbox) -> tuple[int, int]:
    """A real `gateway worker` in burst mode, talking to the sandbox; (complete, failed)."""
    pointed = dataclasses.replace(settings, dinero_api_url=live.url, dinero_auth_url=live.url)
    worker = build_worker(pointed, burst=True, poll_delay=0.01, handle_signals=False)
    try:
        await worker.main()
    finally:
        await worker.close()
    return worker.jobs_complete, worker.jobs_failed


def test_the_worker_runs_the_posting_job_and_the_sweeper() -> None:
    assert "documents.post" in {f.name for f in WorkerSettings.functions}
    [sweep] = [c for c in WorkerSettings.cron_jobs if c.name == "documents.sweep"]
    assert sweep.second == set(range(0, 60, 2))
    assert sweep.unique
    assert {"system.cleanup", "connections.refresh_due"} <= {
        c.name for c in WorkerSettings.cron_jobs
    }


def test_the_worker_posts_at_dineros_pace_unless_a_test_sets_another(
    ctx: dict[str, Any], settings: Settings, vault: Vault, http: httpx.AsyncClient
) -> None:
    worker_ctx = {**ctx, "settings": settings, "vault": vault, "http": http, "worker_id": "w"}
    production = backends.poster_from(worker_ctx)
    pace = backends.Pace(dinero_limit=1000, budget=950, backoff_base=timedelta(seconds=1))
    quick = backends.poster_from({**worker_ctx, "pace": pace})

    assert (production.budget.limit, production.backoff_base) == (95, timedelta(seconds=30))
    assert production.rate_limit_pause is None
    assert (quick.budget.limit, quick.backoff_base) == (950, timedelta(seconds=1))


async def test_a_real_worker_posts_what_is_enqueued_and_its_released_children(
    settings: Settings,
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    redis: ArqRedis,
    sandbox_server: LiveSandbox,
) -> None:
    shop, _ = await connect(pool, vault, sandbox_server, visma)
    order_id = await make_order(pool, shop.id)
    invoice = await make_document(pool, shop.id, order_id)
    note = await make_credit_note(pool, shop.id, order_id, invoice, refund_body("r1"), 1)
    await outbox.enqueue(redis, [Ready(invoice, 0)])

    complete, failed = await run_worker(settings, sandbox_server)

    assert failed == 0
    assert complete >= 2  # the invoice, then the credit note it released
    assert (await row(pool, invoice))["state"] == "posted"
    assert (await row(pool, note))["state"] == "posted"


async def test_the_job_copes_with_a_document_that_is_gone(ctx: dict[str, Any]) -> None:
    assert await documents.post(ctx, 999_999) == "skipped"


async def test_the_sweeper_enqueues_each_due_attempt_once_and_again_after_redis_lost_it(
    ctx: dict[str, Any], pool: Pool, vault: Vault, redis: ArqRedis
) -> None:
    shop = await shop_on(pool, vault, await make_connection(pool, 1001))
    ids = [
        await make_document(pool, shop, await make_order(pool, shop, order_body(str(n))))
        for n in range(3)
    ]

    first = await documents.sweep(ctx)
    again = await documents.sweep(ctx)
    await redis.flushdb()  # Redis restarted empty, or the jobs expired during an outage
    after_loss = await documents.sweep(ctx)

    assert (first["enqueued"], again["enqueued"], after_loss["enqueued"]) == (3, 0, 3)
    assert sorted(await queued_jobs(redis)) == sorted(f"documents.post:{i}:0" for i in ids)


async def test_a_backlog_does_not_delay_another_shops_first_document_beyond_one_sweep(
    ctx: dict[str, Any], pool: Pool, vault: Vault, redis: ArqRedis
) -> None:
    busy = await shop_on(pool, vault, await make_connection(pool, 1001))
    quiet = await shop_on(pool, vault, await make_connection(pool, 1002))
    busy_order = await make_order(pool, busy)
    await pool.execute(
        "INSERT INTO documents (shop_id, order_id, kind, seq, currency, amount, client_guid, "
        "external_reference, next_attempt_at) "
        "SELECT $1, $2, 'invoice', n, 'DKK', 1, gen_random_uuid(), 'r' || n, now() - interval '1h' "
        "FROM generate_series(0, 999) AS n",
        busy,
        busy_order,
    )
    newest = await make_document(pool, quiet, await make_order(pool, quiet))

    counts = await documents.sweep(ctx)

    jobs = await queued_jobs(redis)
    assert f"documents.post:{newest}:0" in jobs[:2]
    # No more of the backlog than one organisation may start per sweep.
    assert counts["enqueued"] == 1 + documents.PER_ORGANIZATION


async def test_the_sweeper_holds_back_an_organisation_whose_budget_is_spent(
    ctx: dict[str, Any], pool: Pool, vault: Vault, redis: ArqRedis
) -> None:
    shop = await shop_on(pool, vault, await make_connection(pool, 1001))
    document_id = await make_document(pool, shop, await make_order(pool, shop))
    budget: RateBudget = ctx["poster"].budget
    while await budget.acquire(BudgetKey(SANDBOX_CLIENT_ID, 1001)) == 0.0:
        pass

    assert (await documents.sweep(ctx))["enqueued"] == 0
    assert (await row(pool, document_id))["attempts"] == 0  # nobody leased it in vain


async def test_the_sweeper_starts_no_more_than_the_budget_can_finish(
    ctx: dict[str, Any], pool: Pool, vault: Vault, redis: ArqRedis
) -> None:
    shop = await shop_on(pool, vault, await make_connection(pool, 1001))
    for n in range(10):
        await make_document(pool, shop, await make_order(pool, shop, order_body(str(n))))
    budget: RateBudget = ctx["poster"].budget
    for _ in range(95 - 7):  # seven calls left: two documents of three calls each
        await budget.acquire(BudgetKey(SANDBOX_CLIENT_ID, 1001))

    assert (await documents.sweep(ctx))["enqueued"] == 2


async def test_the_sweeper_keeps_arqs_queue_short(
    ctx: dict[str, Any], pool: Pool, vault: Vault, redis: ArqRedis
) -> None:
    shop = await shop_on(pool, vault, await make_connection(pool, 1001))
    document_id = await make_document(pool, shop, await make_order(pool, shop))
    await redis.zadd(QUEUE_NAME, {f"other:{n}": 0 for n in range(documents.QUEUE_TARGET)})

    assert (await documents.sweep(ctx))["enqueued"] == 0

    await redis.zrem(QUEUE_NAME, "other:0")
    assert (await documents.sweep(ctx))["enqueued"] == 1
    assert f"documents.post:{document_id}:0" in await queued_jobs(redis)


async def test_the_sweeper_recovers_dead_leases_and_released_children(
    ctx: dict[str, Any], pool: Pool, vault: Vault, redis: ArqRedis
) -> None:
    shop = await shop_on(pool, vault, None)
    order_id = await make_order(pool, shop)
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    stuck = await make_document(pool, shop, order_id, next_attempt_at=long_ago)
    assert await outbox.lease(pool, stuck, "dead", now=long_ago, lease_for=timedelta(minutes=3))
    parent = await make_document(pool, shop, await make_order(pool, shop, order_body("2")))
    await pool.execute(
        "UPDATE documents SET state = 'posted', posted_at = now() WHERE id = $1", parent
    )
    parent_order = await pool.fetchval("SELECT order_id FROM documents WHERE id = $1", parent)
    child = await make_credit_note(pool, shop, parent_order, parent, refund_body("r1"), 1)

    counts = await documents.sweep(ctx)

    assert (counts["recovered"], counts["released"]) == (1, 1)
    jobs = await queued_jobs(redis)
    assert f"documents.post:{stuck}:1" in jobs
    assert f"documents.post:{child}:0" in jobs
    assert (await row(pool, stuck))["uncertain"]


async def test_redis_away_mid_attempt_is_a_quiet_retry_that_looks_in_dinero_first(
    ctx: dict[str, Any],
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    sandbox_server: LiveSandbox,
    caplog: pytest.LogCaptureFixture,
) -> None:
    shop, _ = await connect(pool, vault, sandbox_server, visma)
    document_id = await make_document(pool, shop.id, await make_order(pool, shop.id))
    gone = create_redis("redis://127.0.0.1:1/0")  # Redis away: the budget cannot be asked
    try:
        cut_short = {**ctx, "poster": dataclasses.replace(ctx["poster"], budget=RateBudget(gone))}
        assert await documents.post(cut_short, document_id) == "deferred"
    finally:
        await gone.aclose()

    assert "unexpected failure" not in caplog.text  # an outage is no fault of the document's
    after = await row(pool, document_id)
    assert (after["state"], after["lease_owner"], after["last_error_code"]) == (
        "queued",
        None,
        "outage",
    )
    assert after["uncertain"]


async def test_an_attempt_postgres_vanished_under_is_handed_on_at_the_next_sweep(
    ctx: dict[str, Any],
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    sandbox_server: LiveSandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shop, _ = await connect(pool, vault, sandbox_server, visma)
    document_id = await make_document(pool, shop.id, await make_order(pool, shop.id))

    async def away(*args: Any, **kwargs: Any) -> Any:
        raise asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed")

    with monkeypatch.context() as patched:  # Postgres gone once Dinero has the invoice
        patched.setattr(outbox, "record_step", away)
        patched.setattr(outbox, "defer", away)
        with pytest.raises(Interrupted) as raised:  # the outage is for the worker to wait out
            await documents.post({**ctx}, document_id)  # arq gives each job a copy of ctx
    assert unavailable_service(raised.value) == "Postgres"
    held = await row(pool, document_id)
    assert held["lease_owner"] is not None  # no one else may take it while it is unsettled

    assert (await documents.sweep(ctx))["recovered"] == 1  # at once, not after LEASE_FOR
    assert (await row(pool, document_id))["uncertain"]  # it may have reached Dinero
    assert await documents.post(ctx, document_id) == "posted"
    async with httpx.AsyncClient(base_url=sandbox_server.url) as client:
        invoices = (await client.get("/_sandbox/organizations/1001/invoices")).json()
    assert len(invoices) == 1  # looked up, not created twice


async def test_the_sweeper_requeues_a_document_parked_just_after_its_reconnect(
    ctx: dict[str, Any],
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    redis: ArqRedis,
    sandbox_server: LiveSandbox,
) -> None:
    # Found by tests/test_pipeline_faults.py: an attempt reads the connection as needing a
    # reconnect, the owner reconnects (which releases what is parked, not yet this one), and
    # the attempt then parks its document on what it read. Nothing would release it again.
    shop, connection_id = await connect(pool, vault, sandbox_server, visma)
    late = await make_document(pool, shop.id, await make_order(pool, shop.id))
    other = await shop_on(pool, vault, await make_connection(pool, 1002))
    parked = await make_document(
        pool, other, await make_order(pool, other), state="needs_reconnect"
    )
    now = datetime.now(UTC)
    attempt = await outbox.lease(pool, late, "w", now=now, lease_for=timedelta(minutes=3))
    assert attempt is not None
    await connections.mark_needs_reconnect(pool, connection_id, "revoked", now=now)
    await connect(pool, vault, sandbox_server, visma, shop=shop)
    await outbox.park(pool, attempt, now=now, reason="the Dinero connection is needs reconnect")

    await documents.sweep(ctx)

    assert (await row(pool, late))["state"] == "queued"
    assert f"documents.post:{late}:1" in await queued_jobs(redis)
    assert (await row(pool, parked))["state"] == "needs_reconnect"  # its connection is not back


async def test_a_dinero_outage_of_days_loses_nothing(
    settings: Settings,
    ctx: dict[str, Any],
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    redis: ArqRedis,
    sandbox_server: LiveSandbox,
) -> None:
    shop, _ = await connect(pool, vault, sandbox_server, visma)
    ids = [
        await make_document(pool, shop.id, await make_order(pool, shop.id, order_body(str(n))))
        for n in range(3)
    ]
    sandbox_server.sandbox.faults = Faults(outage=True)
    try:
        await documents.sweep(ctx)
        for _ in range(3):  # three rounds of attempts, all failing
            await run_worker(settings, sandbox_server)
            await pool.execute("UPDATE documents SET next_attempt_at = now()")
            await documents.sweep(ctx)
    finally:
        sandbox_server.sandbox.faults = Faults()
    assert {(await row(pool, i))["state"] for i in ids} == {"queued"}
    assert min([(await row(pool, i))["failures"] for i in ids]) >= 3
    await redis.flushdb()  # days later: arq's jobs have expired

    await documents.sweep(ctx)
    await run_worker(settings, sandbox_server)

    assert [(await row(pool, i))["state"] for i in ids] == ["posted"] * 3
    assert sorted([(await row(pool, i))["backend_number"] for i in ids]) == [1, 2, 3]


async def test_a_shop_not_activated_takes_no_turn_and_its_test_order_still_goes(
    ctx: dict[str, Any], pool: Pool, vault: Vault, redis: ArqRedis
) -> None:
    """The sweeper holds a shop's backlog until its activation rather than dealing it out
    (it would take the organisation's share of every sweep), once, and still sends the
    shop's test order and the other shops' documents on the same organisation."""
    organisation = await make_connection(pool, 1001)
    setting_up, _, _ = await make_shop(pool, vault, activated=False)
    await pool.execute(
        "UPDATE shops SET connection_id = $2 WHERE id = $1", setting_up.id, organisation
    )
    backlog_order = await make_order(pool, setting_up.id)
    await pool.execute(
        "INSERT INTO documents (shop_id, order_id, kind, seq, currency, amount, client_guid, "
        "external_reference, next_attempt_at) "
        "SELECT $1, $2, 'invoice', n, 'DKK', 1, gen_random_uuid(), 'r' || n, now() - interval '1h' "
        "FROM generate_series(0, 199) AS n",
        setting_up.id,
        backlog_order,
    )
    test = await sample_orders.send_test_order(pool, setting_up.id, now=datetime.now(UTC))
    live = await shop_on(pool, vault, organisation)
    theirs = await make_document(pool, live, await make_order(pool, live))

    first = await documents.sweep(ctx)
    again = await documents.sweep(ctx)

    assert (first["held"], again["held"]) == (200, 0)
    assert sorted(await queued_jobs(redis)) == sorted(
        [f"documents.post:{test.document_id}:0", f"documents.post:{theirs}:0"]
    )
    states = await pool.fetch(
        "SELECT state, count(*) AS n FROM documents WHERE shop_id = $1 GROUP BY state",
        setting_up.id,
    )
    assert {r["state"]: r["n"] for r in states} == {"awaiting_activation": 200, "queued": 1}
