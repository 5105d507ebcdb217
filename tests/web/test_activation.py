"""What the owner sees of the activation gate: orders waiting for activation, counted on the
shop page and in the set-up guide, listed under their own filter (in Danish too), and
Activate handing them to the posting workers oldest first."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
from arq.connections import ArqRedis

from gateway.db import Pool
from gateway.queue import QUEUE_NAME, post_job_id
from gateway.vault import Vault
from tenants.outbox import activation
from tests.factories import make_shop
from tests.web.test_accounts import login
from tests.web.test_ingest import event, post
from tests.web.test_shops import fake_connection


async def test_waiting_orders_are_shown_counted_and_released_in_order_by_activate(
    client: httpx.AsyncClient, pool: Pool, vault: Vault, redis: ArqRedis
) -> None:
    shop, secret, owner = await make_shop(pool, vault, activated=False)
    csrf = await login(client, owner.email)
    await fake_connection(pool, redis, shop.id)
    held = []
    for number in ("5001", "5002"):
        accepted = await post(
            client, shop.id, secret, event(**{"order/id": number, "order/number": number})
        )
        assert accepted.status_code == 202
        [document] = accepted.json()["documents"]
        # What a worker does when it comes to claim the document.
        assert await activation.hold_if_inactive(pool, document["id"], now=datetime.now(UTC))
        held.append(document["id"])

    page = (await client.get(f"/shops/{shop.id}")).text
    assert 'data-count="awaiting_activation"><a href' in page
    assert re.search(r'data-count="awaiting_activation"><a [^>]*>2<', page)
    guide = page[page.index('data-step="activate"') :]
    assert "2 waiting for activation" in guide and "oldest first" in guide
    listed = (await client.get(f"/shops/{shop.id}/documents?state=awaiting_activation")).text
    assert listed.count('data-state="awaiting_activation"') == 2
    assert re.search(r'data-filter="awaiting_activation"[^>]*>Waiting for activation', listed)
    danish = await client.get(
        f"/shops/{shop.id}/documents?state=awaiting_activation", headers={"Accept-Language": "da"}
    )
    assert "Venter på aktivering" in danish.text
    one = (await client.get(f"/shops/{shop.id}/documents/{held[0]}")).text
    assert 'data-state="awaiting_activation"' in one
    assert 'data-event="document.awaiting_activation"' in one

    activated = await client.post(f"/shops/{shop.id}/activate", data={"csrf_token": csrf})

    assert activated.status_code == 303
    rows = await pool.fetch(
        "SELECT id, state, attempts FROM documents WHERE id = ANY($1::bigint[]) ORDER BY id", held
    )
    assert [r["state"] for r in rows] == ["queued", "queued"]
    jobs = [post_job_id(r["id"], r["attempts"]) for r in rows]
    queued = [job.decode() for job in await redis.zrange(QUEUE_NAME, 0, -1)]
    assert [job for job in queued if job in jobs] == jobs
    page = (await client.get(f"/shops/{shop.id}")).text
    assert 'id="setup"' not in page and 'data-count="awaiting_activation"' not in page
    one = (await client.get(f"/shops/{shop.id}/documents/{held[0]}")).text
    assert "Released by the shop&#39;s activation" in one


async def test_an_activated_shops_page_shows_no_waiting_count(
    client: httpx.AsyncClient, pool: Pool, vault: Vault, redis: ArqRedis
) -> None:
    shop, secret, owner = await make_shop(pool, vault)
    await login(client, owner.email)
    await fake_connection(pool, redis, shop.id)
    accepted = await post(client, shop.id, secret, event())
    [document] = accepted.json()["documents"]

    assert not await activation.hold_if_inactive(pool, document["id"], now=datetime.now(UTC))
    page = (await client.get(f"/shops/{shop.id}")).text
    assert 'data-count="awaiting_activation"' not in page and 'data-count="queued">1<' in page
