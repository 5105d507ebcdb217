"""`GET /metrics`: absent without a token, refused without the right one, and after an order
goes in through ingest and out to the sandbox, what it says matches the database."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from arq.connections import ArqRedis
from prometheus_client.parser import text_string_to_metric_families

from gateway.db import Pool
from gateway.dinero.oauth import VismaConnect
from gateway.metrics import Metrics
from gateway.ratelimit import BookingLock, RateBudget
from gateway.secret import Secret
from gateway.settings import SANDBOX_CLIENT_ID, Settings
from gateway.vault import Vault
from tenants.dashboard import gauges
from tenants.dinero.poster import Poster
from tests.conftest import app_client
from tests.factories import make_shop
from tests.live import LiveSandbox
from tests.tenants.dinero.connections.test_connections import connect
from tests.tenants.outbox.test_outbox import make_document, make_order
from tests.web.test_ingest import event, post
from web.app import create_app
from workers import documents

DOCS = Path(__file__).parents[2] / "docs"
TOKEN = "metrics-token-" + "x" * 32
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
async def scraper(
    settings: Settings, pool: Pool, redis: ArqRedis
) -> AsyncIterator[httpx.AsyncClient]:
    configured = dataclasses.replace(settings, metrics_token=Secret(TOKEN))
    async for client in app_client(create_app(configured)):
        yield client


async def scrape(client: httpx.AsyncClient) -> Samples:
    response = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


async def test_without_a_configured_token_there_is_no_metrics_page(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 404


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}"],
)
async def test_the_wrong_token_or_none_is_refused(
    scraper: httpx.AsyncClient, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = await scraper.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "gateway_" not in response.text


async def test_a_posted_order_shows_in_the_scrape_as_in_the_database(
    scraper: httpx.AsyncClient,
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    redis: ArqRedis,
    sandbox_server: LiveSandbox,
) -> None:
    shop, secret, _ = await make_shop(pool, vault)
    await connect(pool, vault, sandbox_server, visma, shop=shop)
    accepted = await post(scraper, shop.id, secret, event())
    assert accepted.status_code == 202, accepted.text
    assert (await post(scraper, shop.id, Secret("wrong"), event())).status_code == 401
    [document] = accepted.json()["documents"]
    forged = await scraper.post(
        "/webhooks/shopify", content=b"{}", headers={"X-Shopify-Hmac-Sha256": "forged"}
    )
    assert forged.status_code == 401

    metrics = Metrics(redis)
    poster = Poster(
        pool=pool,
        vault=vault,
        visma=visma,
        http=http,
        budget=RateBudget(redis, metrics=metrics),
        bookings=BookingLock(redis),
        api_url=sandbox_server.url,
        client_id=SANDBOX_CLIENT_ID,
        worker_id="test-worker",
        metrics=metrics,
    )
    ctx: dict[str, Any] = {"pool": pool, "redis": redis, "poster": poster, "metrics": metrics}
    assert await documents.post(ctx, document["id"]) == "posted"

    seen = await scrape(scraper)
    rows = await pool.fetch("SELECT kind, state, count(*) AS n FROM documents GROUP BY 1, 2")
    assert {(r["kind"], r["state"]): r["n"] for r in rows} == {("invoice", "posted"): 1}
    assert seen[("gateway_documents", (("kind", "invoice"), ("state", "posted")))] == 1
    assert seen[("gateway_documents", (("kind", "invoice"), ("state", "queued")))] == 0
    assert seen[("gateway_dinero_connections", (("status", "active"),))] == 1
    api = ("source", "api")
    assert seen[("gateway_ingest_requests_total", (api, ("status", "202")))] == 1
    assert seen[("gateway_ingest_requests_total", (api, ("status", "401")))] == 1
    shopify = ("source", "shopify")
    assert seen[("gateway_ingest_requests_total", (shopify, ("status", "401")))] == 1
    # A new customer's booked invoice: contact, invoice, booking.
    assert seen[("gateway_dinero_calls_total", (("outcome", "ok"),))] >= 3
    assert seen[("gateway_document_stored_to_posted_seconds_count", (("kind", "invoice"),))] == 1
    assert seen[("gateway_sweeper_lag_seconds", ())] == 0
    assert seen[("gateway_connection_needs_reconnect_seconds", ())] == 0
    text = (await scraper.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})).text
    assert str(shop.id) not in text and "1001" not in text  # no tenant in any label


async def test_sweeper_lag_and_a_waiting_reconnect_are_ages_from_the_rows(
    pool: Pool, vault: Vault, visma: VismaConnect, sandbox_server: LiveSandbox
) -> None:
    shop, connection_id = await connect(pool, vault, sandbox_server, visma)
    now = datetime.now(UTC)
    invoice = await make_document(pool, shop.id, await make_order(pool, shop.id))
    await pool.execute(
        "UPDATE documents SET next_attempt_at = $2 WHERE id = $1",
        invoice,
        now - timedelta(seconds=90),
    )
    await pool.execute(
        "UPDATE dinero_connections SET status = 'needs_reconnect', last_error_at = $2 "
        "WHERE id = $1",
        connection_id,
        now - timedelta(hours=2),
    )
    state = await gauges.read(pool, now=now)
    assert state.connections == {"needs_reconnect": 1}
    assert state.needs_reconnect_for == pytest.approx(7200, abs=1)
    assert state.sweeper_lag == pytest.approx(90, abs=1)
    assert state.documents == {("invoice", "queued"): 1}


async def test_the_alert_rules_and_the_dashboard_name_only_what_the_scrape_has(
    scraper: httpx.AsyncClient,
) -> None:
    names = {name for name, _ in await scrape(scraper)}
    rules = yaml.safe_load((DOCS / "alerts.yml").read_text())["groups"][0]["rules"]
    dashboard = json.loads((DOCS / "grafana-dashboard.json").read_text())
    exprs = [r["expr"] for r in rules] + [
        t["expr"] for p in dashboard["panels"] for t in p["targets"]
    ]
    named = {n for e in exprs for n in re.findall(r"\bgateway_[a-z_]+", e)}
    assert named and named <= names, named - names
    alerts = {r["alert"] for r in rules}
    assert {"DineroConnectionNeedsReconnect", "DocumentsFailing", "DocumentsSweeperLag"} <= alerts
