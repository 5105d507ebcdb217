"""A WooCommerce store's orders reach Dinero, end to end, the way production runs it.

The sandbox (real uvicorn) plays WooCommerce and Dinero; the gateway runs in-process, and the
sandbox's key callback and webhook deliveries reach it through an ASGI transport; two real arq
workers post. The owner connects the store through WooCommerce's key-flow page (the gateway's
own routes), orders and a refund are made in the store, and Dinero is asked what it holds:
every order exactly one invoice with the order's total, the refund one credit note.

Then the gateway is "down" long enough for WooCommerce to disable the webhook (every delivery
fails; after the sixth in a row WooCommerce stops sending). Reconcile, run as the cron would,
turns the webhook on again and brings in every order of that window; each is booked once, the
webhook delivers again, and the owner sees what happened on the shop page.
"""

from __future__ import annotations

import contextlib
import random
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from arq.worker import Worker

from gateway.db import Pool
from gateway.dinero.oauth import VismaConnect
from gateway.secret import Secret
from gateway.settings import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, Settings
from gateway.vault import Vault
from sandbox.state import Sandbox
from tenants.dashboard.sources import sources_of
from tests.conftest import _WithState
from tests.factories import make_shop
from tests.live import LiveSandbox, live_sandbox
from tests.sandbox.conftest import HtmlForm
from tests.tenants.dinero.connections.test_connections import connect
from tests.test_pipeline_faults import SANDBOX_LIMIT, settle, workers
from tests.test_shopify_end_to_end import ORGANIZATION, Later, by_order
from tests.web.test_accounts import login
from tests.woocommerce_orders import order, refund
from web.app import create_app
from workers import sources

STORE = "sokkeriet"
SEED = 18


@dataclass
class World:
    live: LiveSandbox
    http: httpx.AsyncClient
    browser: httpx.AsyncClient  # the owner, logged in to the gateway
    worker: Worker
    shop_id: Any
    pool: Pool
    store_url: str
    placed: list[dict[str, Any]] = field(default_factory=list)

    def control(self, path: str) -> str:
        return f"{self.live.url}/_sandbox/woocommerce{path}"


@contextlib.asynccontextmanager
async def world(
    settings: Settings, pool: Pool, vault: Vault, http: httpx.AsyncClient
) -> AsyncIterator[World]:
    later = Later()
    sandbox = Sandbox(rng=random.Random(SEED))
    async with live_sandbox(sandbox, webhook_transport=httpx.ASGITransport(app=later)) as live:
        await http.post(
            f"{live.url}/_sandbox/settings", json={"rate_limit_per_minute": SANDBOX_LIMIT}
        )
        made = await http.post(f"{live.url}/_sandbox/woocommerce/stores", json={"name": STORE})
        assert made.status_code == 201, made.text
        wired = replace(settings, dinero_auth_url=live.url, dinero_api_url=live.url)
        visma = VismaConnect(
            http,
            auth_url=live.url,
            client_id=SANDBOX_CLIENT_ID,
            client_secret=Secret(SANDBOX_CLIENT_SECRET),
        )
        shop, _, owner = await make_shop(pool, vault)
        await connect(pool, vault, live, visma, shop=shop, organization_id=ORGANIZATION)
        app = create_app(wired)
        async with app.router.lifespan_context(app) as state:
            later.app = _WithState(app, dict(state or {}))
            transport = httpx.ASGITransport(app=later.app)
            async with (
                httpx.AsyncClient(transport=transport, base_url="http://testserver") as browser,
                workers(wired, 2) as running,
            ):
                await login(browser, owner.email)
                yield World(
                    live, http, browser, running[0], shop.id, pool, made.json()["store_url"]
                )


async def connect_store(w: World) -> None:
    """The owner types the store's address and presses Connect WooCommerce, then Approve on
    the store's key page; the store sends the keys to the gateway, and the browser back."""
    start = await w.browser.get(
        f"/shops/{w.shop_id}/sources/woocommerce/connect", params={"store_url": w.store_url}
    )
    assert start.status_code == 303, start.text
    authorize = start.headers["location"]
    assert authorize.startswith(f"{w.store_url}/wc-auth/v1/authorize?")
    page = await w.http.get(authorize)
    assert page.status_code == 200, page.text
    form = HtmlForm(page.text)
    labels = {label.strip(): (name, value) for name, value, label in form.buttons}
    name, value = labels["Approve"]
    approved = await w.http.post(
        httpx.URL(authorize).join(form.action), data={**form.fields, name: value}
    )
    assert approved.status_code == 302, approved.text
    back = httpx.URL(approved.headers["location"])
    answer = await w.browser.get(f"{back.path}?{back.query.decode()}")
    assert answer.status_code == 303, answer.text
    page = await w.browser.get(f"/shops/{w.shop_id}")
    assert 'data-source="woocommerce"' in page.text
    assert 'data-status="connected"' in page.text


async def webhooks(w: World) -> list[dict[str, Any]]:
    listed = await w.http.get(w.control(f"/stores/{STORE}/webhooks"))
    hooks: list[dict[str, Any]] = listed.json()
    return hooks


async def make_order(w: World, body: dict[str, Any]) -> None:
    made = await w.http.post(w.control(f"/stores/{STORE}/orders"), json=body)
    assert made.status_code in (200, 201), made.text
    w.placed.append(body)


async def delivered(w: World) -> None:
    """Until every delivery the store queued has been tried (WooCommerce tries once)."""
    drained = await w.http.post(w.control(f"/stores/{STORE}/drain"))
    assert drained.status_code == 200, drained.text


async def books(w: World) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    base = f"{w.live.url}/_sandbox/organizations/{ORGANIZATION}"
    invoices = (await w.http.get(f"{base}/invoices")).json()
    notes = (await w.http.get(f"{base}/creditnotes")).json()
    return invoices, notes


def totals(invoices: list[dict[str, Any]]) -> dict[str, Decimal]:
    return {
        d["ExternalReference"].rsplit("-", 1)[-1]: Decimal(str(d["TotalInclVat"])) for d in invoices
    }


async def test_orders_and_a_refund_made_in_the_store_are_booked_once_to_the_oere(
    settings: Settings, pool: Pool, vault: Vault, http: httpx.AsyncClient
) -> None:
    async with world(settings, pool, vault, http) as w:
        await connect_store(w)
        hooks = await webhooks(w)
        assert sorted(h["topic"] for h in hooks) == [
            "order.created", "order.deleted", "order.updated"
        ]  # fmt: skip
        assert all(h["status"] == "active" for h in hooks)
        for i in range(4):
            await make_order(w, order(701 + i, quantity=1 + i, price=f"{99.95 + i:.2f}"))
        # The same order again (a repeated delivery) and a status change: nothing new to book.
        await make_order(w, w.placed[0])
        shipped = await w.http.post(
            w.control(f"/stores/{STORE}/orders/702/status"), json={"status": "completed"}
        )
        assert shipped.status_code == 200, shipped.text
        refunded = await w.http.post(
            w.control(f"/stores/{STORE}/orders/702/refunds"), json=refund(w.placed[1])
        )
        assert refunded.status_code == 201, refunded.text
        await delivered(w)
        await settle(pool)
        invoices, notes = await books(w)
        [card] = await sources_of(pool, w.shop_id)
    placed = {str(o["id"]): Decimal(o["total"]) for o in w.placed}
    assert by_order(invoices) == Counter({ref: 1 for ref in placed})
    assert totals(invoices) == placed
    [note] = notes
    assert Decimal(str(note["TotalInclVat"])) == Decimal("100.95")  # one mug of #702 back
    assert note["CreditNoteFor"] == next(
        d["Guid"] for d in invoices if d["ExternalReference"].endswith("-702")
    )
    assert card.problem_count == 0


async def test_a_webhook_woocommerce_disabled_is_mended_and_every_order_of_the_window_booked(
    settings: Settings, pool: Pool, vault: Vault, http: httpx.AsyncClient
) -> None:
    async with world(settings, pool, vault, http) as w:
        await connect_store(w)
        await make_order(w, order(801))
        await delivered(w)
        # The gateway is unreachable: WooCommerce tries each delivery once, and after the
        # sixth failure in a row sets the webhook to disabled.
        await http.post(w.control("/faults"), json={"fail_deliveries": True})
        for i in range(7):
            await make_order(w, order(802 + i, quantity=1 + i % 3))
        await delivered(w)
        await http.post(w.control("/faults"), json={})
        await make_order(w, order(850))  # the gateway is back, but nothing is sent any more
        await delivered(w)
        assert {h["topic"]: h["status"] for h in await webhooks(w)}["order.created"] == "disabled"
        # Reconcile, as the cron would run it a few minutes from now.
        counts = await sources.reconcile_due(
            w.worker.ctx, now=datetime.now(UTC) + timedelta(minutes=3)
        )
        assert counts["failed"] == 0, counts
        assert all(h["status"] == "active" for h in await webhooks(w))
        await make_order(w, order(851))  # delivered again
        await delivered(w)
        await settle(pool)
        invoices, _ = await books(w)
        [card] = await sources_of(pool, w.shop_id)
        page = await w.browser.get(f"/shops/{w.shop_id}")
    placed = {str(o["id"]): Decimal(o["total"]) for o in w.placed}
    assert by_order(invoices) == Counter({ref: 1 for ref in placed})
    assert totals(invoices) == placed
    assert card.found_by_reconcile == 8  # 802–808 and 850: what the dead webhook missed
    assert card.notice is not None and "order.created" in card.notice
    assert 'data-notice="repaired"' in page.text


async def test_orders_from_before_the_connection_are_brought_in_by_backfill_with_progress(
    settings: Settings, pool: Pool, vault: Vault, http: httpx.AsyncClient
) -> None:
    async with world(settings, pool, vault, http) as w:
        for i in range(12):  # placed before the store was connected: no webhook saw them
            await make_order(w, order(601 + i, quantity=1 + i % 2))
        await connect_store(w)
        page = await w.browser.get(f"/shops/{w.shop_id}")
        assert 'action="/shops/' in page.text and "/sources/woocommerce/backfill" in page.text
        token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        started = await w.browser.post(
            f"/shops/{w.shop_id}/sources/woocommerce/backfill",
            data={"csrf_token": token, "since": "2026-11-30"},
        )
        assert started.status_code == 303, started.text
        ran = await sources.backfill_due(w.worker.ctx)
        assert ran == {"due": 1, "read": 12}
        await settle(pool)
        invoices, _ = await books(w)
        [card] = await sources_of(pool, w.shop_id)
    assert by_order(invoices) == Counter({str(o["id"]): 1 for o in w.placed})
    assert totals(invoices) == {str(o["id"]): Decimal(o["total"]) for o in w.placed}
    assert card.backfill is not None
    assert (card.backfill.status, card.backfill.total, card.backfill.read) == ("done", 12, 12)
    assert (card.backfill.booked, card.backfill.percent) == (12, 100)
    assert card.backfill.older_than_shopify_shows is False
