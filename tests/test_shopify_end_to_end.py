"""A Shopify store's orders reach Dinero, end to end, the way production runs it.

The sandbox (real uvicorn) plays Shopify and Dinero; the gateway runs in-process, and the
sandbox's webhook deliveries reach its `/webhooks/shopify` through an ASGI transport; two
real arq workers post. The owner connects the store through Shopify's grant screen (the
gateway's own routes), orders and refunds are made in the store, and Dinero is asked what it
holds: every order exactly one invoice with the order's total, every refund one credit note.

Then Shopify misbehaves: first it gives up on every delivery of some orders (arranged, so
reconcile has something to find however the dice fall), then 20 % of deliveries are dropped,
10 % duplicated, the rest delayed and shuffled. Reconcile (the cron's job, run once as it
would run a few minutes later) brings what the webhooks missed; still every order is booked
exactly once, and the owner is told how many orders reconcile found.
"""

from __future__ import annotations

import contextlib
import html
import json
import random
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from arq.worker import Worker
from starlette.types import ASGIApp, Receive, Scope, Send

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
from tests.shopify_orders import order, refund
from tests.tenants.dinero.connections.test_connections import connect
from tests.test_pipeline_faults import SANDBOX_LIMIT, moved, settle, wait_for, workers
from tests.web.test_accounts import CSRF, login
from web.app import create_app
from workers import sources

STORE = "sokkeriet.myshopify.com"
ORGANIZATION = 1001
SEED = 15
CORPUS = Path(__file__).parent / "gateway" / "shopify" / "corpus"


class Later:
    """An ASGI app set once the gateway exists (the sandbox is made before it)."""

    app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None
        await self.app(scope, receive, send)


@dataclass
class World:
    live: LiveSandbox
    http: httpx.AsyncClient
    browser: httpx.AsyncClient  # the owner, logged in to the gateway
    worker: Worker
    shop_id: Any
    pool: Pool
    events: list[str] = field(default_factory=list)  # every webhook event Shopify published


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
        made = await http.post(f"{live.url}/_sandbox/shopify/stores", json={"shop": STORE})
        assert made.status_code in (200, 201), made.text
        wired = replace(
            settings,
            dinero_auth_url=live.url,
            dinero_api_url=live.url,
            shopify_shop_url=made.json()["shop_url_template"],
        )
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
                yield World(live, http, browser, running[0], shop.id, pool)


async def install(w: World) -> None:
    """The owner types the store and presses Connect Shopify, then Install on Shopify's
    grant screen; Shopify sends the browser back to the gateway."""
    start = await w.browser.get(f"/shops/{w.shop_id}/sources/shopify/connect?shop=sokkeriet")
    assert start.status_code == 303, start.text
    authorize = start.headers["location"]
    page = await w.http.get(authorize)
    assert page.status_code == 200, page.text
    form = HtmlForm(page.text)
    labels = {label.strip(): (name, value) for name, value, label in form.buttons}
    name, value = labels["Install"]
    data = {**form.fields, **({name: value} if name else {})}
    granted = await w.http.post(httpx.URL(authorize).join(form.action), data=data)
    assert granted.status_code in (302, 303), granted.text
    back = httpx.URL(granted.headers["location"])
    answer = await w.browser.get(f"{back.path}?{back.query.decode()}")
    assert answer.status_code == 303, answer.text
    page = await w.browser.get(f"/shops/{w.shop_id}")
    assert 'data-status="connected"' in page.text and STORE in page.text


async def make_order(w: World, body: dict[str, Any]) -> None:
    body = {k: v for k, v in body.items() if k != "updated_at"}  # the store's clock sets it
    made = await w.http.post(f"{w.live.url}/_sandbox/shopify/stores/{STORE}/orders", json=body)
    assert made.status_code in (200, 201), made.text
    w.events += made.json()["webhooks"].values()


async def make_refund(w: World, order_json: dict[str, Any], refund_id: int) -> None:
    path = f"/_sandbox/shopify/stores/{STORE}/orders/{order_json['id']}/refunds"
    made = await w.http.post(f"{w.live.url}{path}", json=refund(order_json, refund_id))
    assert made.status_code in (200, 201), made.text
    w.events += made.json()["webhooks"].values()


FINAL: frozenset[str] = frozenset({"delivered", "dropped", "given_up"})


async def shopify_settled(w: World) -> None:
    """Until every event Shopify published has been delivered, dropped or given up on."""

    async def ended() -> set[str]:
        listed = await w.http.get(f"{w.live.url}/_sandbox/shopify/stores/{STORE}/deliveries")
        return {d["event_id"] for d in listed.json() if d["outcome"] in FINAL}

    async def done() -> bool:
        return set(w.events) <= await ended()

    async def progress() -> Any:
        return (len(await ended()), await moved(w.pool))

    assert w.events
    await wait_for(done, progress=progress, what="Shopify's deliveries")


async def books(w: World) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    base = f"{w.live.url}/_sandbox/organizations/{ORGANIZATION}"
    invoices = (await w.http.get(f"{base}/invoices")).json()
    notes = (await w.http.get(f"{base}/creditnotes")).json()
    return invoices, notes


def by_order(documents: list[dict[str, Any]]) -> Counter[str]:
    return Counter(d["ExternalReference"].rsplit("-", 1)[-1] for d in documents)


async def test_orders_and_refunds_made_in_the_store_are_booked_once_to_the_oere(
    settings: Settings, pool: Pool, vault: Vault, http: httpx.AsyncClient
) -> None:
    async with world(settings, pool, vault, http) as w:
        await install(w)
        placed = [order(4001 + i, quantity=1 + i, price=f"{99.95 + i:.2f}") for i in range(4)]
        for body in placed:
            await make_order(w, body)
        await make_refund(w, placed[1], 9001)
        await shopify_settled(w)
        await settle(pool)
        invoices, notes = await books(w)
    assert by_order(invoices) == Counter({str(o["id"]): 1 for o in placed})
    totals = {
        d["ExternalReference"].rsplit("-", 1)[-1]: Decimal(str(d["TotalInclVat"])) for d in invoices
    }
    assert totals == {str(o["id"]): Decimal(o["total_price"]) for o in placed}
    [note] = notes
    assert Decimal(str(note["TotalInclVat"])) == Decimal("100.95")  # one mug of #4002 back
    assert note["CreditNoteFor"] == next(
        d["Guid"] for d in invoices if d["ExternalReference"].endswith("-4002")
    )


async def test_with_deliveries_dropped_duplicated_and_shuffled_every_order_is_booked_once(
    settings: Settings, pool: Pool, vault: Vault, http: httpx.AsyncClient
) -> None:
    async with world(settings, pool, vault, http) as w:
        await install(w)
        faults = f"{w.live.url}/_sandbox/shopify/faults"
        # Shopify gives up on every delivery of these orders (and of one refund).
        await http.post(faults, json={"drop_rate": 1.0})
        missed = [order(5001 + i) for i in range(3)]
        for body in missed:
            await make_order(w, body)
        await make_refund(w, missed[0], 9101)
        await http.post(
            faults,
            json={
                "drop_rate": 0.2,
                "duplicate_rate": 0.1,
                "delay_ms": 20,
                "reorder": True,
                "retry_scale": 1000,
            },
        )
        rest = [order(5101 + i, quantity=1 + i % 3) for i in range(30)]
        for body in rest:
            await make_order(w, body)
        for i, body in enumerate(rest[:5]):
            await make_refund(w, body, 9201 + i)
        await shopify_settled(w)
        await http.post(faults, json={})
        # Reconcile, as the cron would run it a few minutes from now.
        later = datetime.now(UTC) + timedelta(minutes=3)
        counts = await sources.reconcile_due(w.worker.ctx, now=later)
        assert counts["failed"] == 0, counts
        await settle(pool)
        invoices, notes = await books(w)
        [card] = await sources_of(pool, w.shop_id)
    placed = missed + rest
    assert by_order(invoices) == Counter({str(o["id"]): 1 for o in placed})
    totals = {
        d["ExternalReference"].rsplit("-", 1)[-1]: Decimal(str(d["TotalInclVat"])) for d in invoices
    }
    assert totals == {str(o["id"]): Decimal(o["total_price"]) for o in placed}
    assert len(notes) == 6 and all(
        Decimal(str(n["TotalInclVat"])) == Decimal("100.00") for n in notes
    )
    assert len({n["CreditNoteFor"] for n in notes}) == 6
    assert card.found_by_reconcile >= len(missed)
    assert card.problem_count == 0


def corpus_order(name: str, order_id: int) -> dict[str, Any]:
    """A corpus order (tests/gateway/shopify/corpus), made anew in the store today."""
    body: dict[str, Any] = json.loads((CORPUS / name).read_text("utf-8"))
    now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    body.update(id=order_id, name=f"#{order_id}", created_at=now, processed_at=now)
    body.pop("fulfillments", None)
    body["fulfillment_status"] = None
    return body


async def test_tips_duties_fees_are_booked_and_a_gift_card_waits_for_its_account(
    settings: Settings, pool: Pool, vault: Vault, http: httpx.AsyncClient
) -> None:
    async with world(settings, pool, vault, http) as w:
        await install(w)
        booked = [
            corpus_order("dk_tip.json", 6001),
            corpus_order("dk_additional_fee.json", 6002),
            corpus_order("export_no_duties.json", 6003),
        ]
        gift_card = corpus_order("gift_card_sold.json", 6004)
        for body in [*booked, gift_card]:
            await make_order(w, body)
        await shopify_settled(w)
        await settle(pool)
        invoices, _ = await books(w)
        totals = {
            d["ExternalReference"].rsplit("-", 1)[-1]: Decimal(str(d["TotalInclVat"]))
            for d in invoices
        }
        assert totals == {str(o["id"]): Decimal(o["total_price"]) for o in booked}
        tip = next(d for d in invoices if d["ExternalReference"].endswith("-6001"))
        assert {(line["Description"], line["AccountNumber"]) for line in tip["ProductLines"]} >= {
            ("Tip", 1050)
        }

        # The gift card's invoice stopped, saying which setting the owner must choose; the
        # owner's documents page shows it.
        failed = await pool.fetchrow(
            "SELECT id, last_error FROM documents WHERE shop_id = $1 AND state = 'failed'",
            w.shop_id,
        )
        assert failed is not None
        assert "Gift cards sold (a liability, no VAT)" in failed["last_error"]
        page = await w.browser.get(f"/shops/{w.shop_id}/documents/{failed['id']}")
        assert "Gift cards sold (a liability, no VAT)" in html.unescape(page.text)

        # The owner chooses a liability account and retries: booked, the gift card on it.
        await pool.execute(
            "UPDATE shops SET account_overrides = '{\"gift_cards\": 6800}' WHERE id = $1",
            w.shop_id,
        )
        csrf = CSRF.search(page.text)
        assert csrf is not None
        retried = await w.browser.post(
            f"/shops/{w.shop_id}/documents/{failed['id']}/retry",
            data={"csrf_token": csrf.group(1)},
        )
        assert retried.status_code == 303, retried.text
        await settle(pool)
        invoices, _ = await books(w)
    [sold] = [d for d in invoices if d["ExternalReference"].endswith("-6004")]
    assert Decimal(str(sold["TotalInclVat"])) == Decimal("600.00")
    assert Decimal(str(sold["TotalVat"])) == Decimal("20.00")
    assert [line["AccountNumber"] for line in sold["ProductLines"]] == [6800, 1000]


async def test_a_tip_and_duties_paid_back_are_credited_on_their_accounts_to_the_oere(
    settings: Settings, pool: Pool, vault: Vault, http: httpx.AsyncClient
) -> None:
    async with world(settings, pool, vault, http) as w:
        await install(w)
        # The owner passes tips on to the staff: a debt, not the standard 1050.
        await pool.execute(
            "UPDATE shops SET account_overrides = '{\"tips\": 6800}' WHERE id = $1", w.shop_id
        )
        tipped = corpus_order("dk_tip.json", 6101)
        dutied = corpus_order("export_no_duties.json", 6102)
        for body in (tipped, dutied):
            await make_order(w, body)
        await shopify_settled(w)
        await settle(pool)
        refunds = {}
        for body, name in (
            (tipped, "dk_tip.refund.json"),
            (dutied, "export_no_duties.refund.json"),
        ):
            refund_json = json.loads((CORPUS / name).read_text("utf-8"))
            refund_json["order_id"] = body["id"]
            refunds[str(body["id"])] = refund_json
            path = f"/_sandbox/shopify/stores/{STORE}/orders/{body['id']}/refunds"
            made = await w.http.post(f"{w.live.url}{path}", json=refund_json)
            assert made.status_code in (200, 201), made.text
            w.events += made.json()["webhooks"].values()
        await shopify_settled(w)
        await settle(pool)
        invoices, notes = await books(w)
    order_of = {d["Guid"]: d["ExternalReference"].rsplit("-", 1)[-1] for d in invoices}
    by_ref = {order_of[d["CreditNoteFor"]]: d for d in notes}
    assert len(notes) == 2 and set(by_ref) == {"6101", "6102"}
    for order_id, refund_json in refunds.items():
        back = sum(Decimal(t["amount"]) for t in refund_json["transactions"])
        assert Decimal(str(by_ref[order_id]["TotalInclVat"])) == back
    tip_lines = {(li["Description"], li["AccountNumber"]) for li in by_ref["6101"]["ProductLines"]}
    assert tip_lines == {("Uldsokker - Grå / 39-42", 1000), ("Tip", 6800)}
    duty_lines = {(li["Description"], li["AccountNumber"]) for li in by_ref["6102"]["ProductLines"]}
    assert duty_lines == {("Uldsokker", 1255), ("Duties: Uldsokker", 1050)}
