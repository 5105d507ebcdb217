"""A WooCommerce source's reconcile against a store played by respx: it mends the webhooks,
reads every page `X-WP-TotalPages` names, and never calls a store whose address is not one the
gateway may reach."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID

import httpx
import pytest
import respx

from gateway.db import Pool
from gateway.rotation import rotate_keys
from gateway.secret import Secret
from gateway.settings import Settings, TokenKey
from gateway.vault import Vault, VaultError
from tenants.dashboard.sources import sources_of
from tenants.sources.woocommerce import reconcile, repository
from tenants.sources.woocommerce.repository import KeyPair, SourceWebhook
from tests.factories import make_shop
from tests.woocommerce_orders import order

STORE = "https://93.184.216.34"
API = f"{STORE}/wp-json/wc/v3"
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


async def connected(pool: Pool, vault: Vault, settings: Settings, store: str = STORE) -> UUID:
    shop, _, _ = await make_shop(pool, vault)
    async with pool.acquire() as conn:
        source_id = await repository.connect(
            conn, vault, shop_id=shop.id, store=store,
            keys=KeyPair(Secret("ck_k"), Secret("cs_s")), now=NOW - timedelta(hours=1),
        )  # fmt: skip
    for number, topic in enumerate(("order.created", "order.updated", "order.deleted"), 1):
        await repository.save_webhook(
            pool, vault, source_id, SourceWebhook(topic, number, Secret(f"s{number}"))
        )
    return source_id


def hooks(source_id: UUID, settings: Settings, created: str = "active") -> list[dict[str, object]]:
    url = f"{settings.base_url}/webhooks/woocommerce/{source_id}"
    statuses = {"order.created": created, "order.updated": "active", "order.deleted": "active"}
    return [
        {"id": number, "topic": topic, "status": statuses[topic], "delivery_url": url}
        for number, topic in enumerate(statuses, 1)
    ]


def modified(body: dict[str, object], at: datetime) -> dict[str, object]:
    return {**body, "date_modified_gmt": at.replace(tzinfo=None).isoformat(timespec="seconds")}


async def test_a_disabled_webhook_is_turned_on_and_every_page_of_orders_is_read(
    pool: Pool, vault: Vault, settings: Settings, http: httpx.AsyncClient
) -> None:
    source_id = await connected(pool, vault, settings)
    earlier = NOW - timedelta(minutes=30)
    pages = {
        "1": [modified(order(1000 + i), earlier) for i in range(100)],
        "2": [modified(order(1100 + i), earlier) for i in range(3)],
    }
    with respx.mock(base_url=API) as store:
        store.get("/webhooks").respond(json=hooks(source_id, settings, created="disabled"))
        activate = store.put("/webhooks/1").respond(json={"id": 1, "status": "active"})

        def listed(request: httpx.Request) -> httpx.Response:
            assert request.url.params["orderby"] == "id"  # a stable order while orders change
            assert request.url.params["modified_after"] == "2026-12-07T10:55:00Z"
            page = request.url.params["page"]
            return httpx.Response(
                200, json=pages[page], headers={"X-WP-Total": "103", "X-WP-TotalPages": "2"}
            )

        store.get("/orders").mock(side_effect=listed)
        done = await reconcile.reconcile(pool, vault, http, settings, source_id, NOW)
    assert done.error is None, done.error
    assert json.loads(activate.calls[0].request.content) == {"status": "active"}
    assert (done.read, done.found, done.repaired) == (103, 103, ("order.created",))
    [card] = await sources_of(pool, await _shop(pool, source_id))
    assert card.found_by_reconcile == 103
    assert card.notice is not None and "brought in 103 orders" in card.notice
    watermark = await pool.fetchval(
        "SELECT reconcile_watermark FROM sources WHERE id = $1", source_id
    )
    assert watermark == earlier


async def _shop(pool: Pool, source_id: UUID) -> UUID:
    shop_id: UUID = await pool.fetchval("SELECT shop_id FROM sources WHERE id = $1", source_id)
    return shop_id


@pytest.mark.parametrize("store", ["https://10.0.0.5", "https://[::1]"])
async def test_a_store_whose_address_is_not_allowed_is_never_called(
    pool: Pool, vault: Vault, settings: Settings, http: httpx.AsyncClient, store: str
) -> None:
    production = settings if store == "https://10.0.0.5" else _production(settings)
    source_id = await connected(pool, vault, settings, store=store)
    with respx.mock(assert_all_called=False) as router:
        done = await reconcile.reconcile(pool, vault, http, production, source_id, NOW)
        assert not router.calls
    assert done.error is not None
    status = await pool.fetchrow(
        "SELECT status, status_detail FROM sources WHERE id = $1", source_id
    )
    assert status is not None and status["status"] == "failing"
    assert "address" in status["status_detail"] or "points to" in status["status_detail"]


def _production(settings: Settings) -> Settings:
    return replace(settings, env="production")


async def test_a_webhooks_secret_is_bound_to_its_row_and_rotated_with_the_keys(
    pool: Pool, settings: Settings
) -> None:
    old = Vault([TokenKey("old", b"o" * 32)])
    source_id = await connected(pool, old, settings)
    await rotate_keys(pool, Vault([TokenKey("new", b"n" * 32), TokenKey("old", b"o" * 32)]))
    new = Vault([TokenKey("new", b"n" * 32)])
    secrets = [h.secret.reveal() for h in await repository.webhooks(pool, new, source_id)]
    assert secrets == ["s1", "s3", "s2"]  # order.created, order.deleted, order.updated
    # A ciphertext copied to another row does not decrypt.
    await pool.execute(
        "UPDATE source_webhooks SET secret_enc = (SELECT secret_enc FROM source_webhooks "
        "WHERE topic = 'order.created' AND source_id = $1) "
        "WHERE topic = 'order.updated' AND source_id = $1",
        source_id,
    )
    with pytest.raises(VaultError, match="does not decrypt"):
        await repository.webhooks(pool, new, source_id)
