"""An owner in a real browser connects the shop's WooCommerce store from the shop page through
the store's key page (the sandbox's), sees the source connected, places an order in the
store's admin, and sees it booked in Dinero."""

from __future__ import annotations

import re
import time
from typing import Any

from playwright.async_api import expect

from gateway.db import Pool
from gateway.vault import Vault
from tests.browser.conftest import (
    OpenPage,
    Stack,
    Timings,
    approve_and_pick,
    eventually,
    log_in,
    shoot,
)
from tests.factories import make_shop, make_user

ORGANIZATION = 1001
BOOKED_WITHIN = 30.0


async def test_an_owner_connects_woocommerce_and_a_store_order_is_booked(
    stack: Stack, pool: Pool, vault: Vault, open_page: OpenPage, timings: Timings
) -> None:
    owner = await make_user(pool, email="owner@example.com")
    shop, _, _ = await make_shop(pool, vault, name="Strikkeriet", owner=owner)
    made = await stack.http.post(
        f"{stack.sandbox.url}/_sandbox/woocommerce/stores", json={"name": "strikkeriet"}
    )
    assert made.status_code == 201, made.text
    store_url = made.json()["store_url"]
    page = await open_page()
    await log_in(page, stack.url, owner.email)
    await page.wait_for_url(f"{stack.url}/shops/{shop.id}")
    await page.locator("#connection").get_by_role("link", name="Connect to Dinero").click()
    await approve_and_pick(page, ORGANIZATION)

    sources = page.locator("#sources")
    await sources.get_by_label("WooCommerce store address").fill(store_url)
    await sources.get_by_role("button", name="Connect WooCommerce").click()
    approve = page.get_by_role("button", name="Approve")
    await expect(approve).to_be_visible()
    await shoot(page, "woocommerce-key-flow")
    await approve.click()
    await page.wait_for_url(f"{stack.url}/shops/{shop.id}#sources")
    woo = sources.locator('[data-source="woocommerce"]')
    await expect(woo.locator("[data-status=connected]")).to_be_visible()
    await expect(woo).to_contain_text(store_url)
    await shoot(page, "shop-woocommerce-connected", top=sources)

    await page.goto(f"{store_url}/wp-admin")
    await expect(page.locator("td[data-status=active]")).to_have_count(3)
    placed_at = time.monotonic()
    await page.get_by_role("button", name="Place a test order").click()
    await expect(page.locator("tr[data-order]")).to_have_count(1)
    await shoot(page, "woocommerce-store-admin")

    async def booked() -> dict[str, Any] | None:
        row = await pool.fetchrow(
            "SELECT id, state FROM documents WHERE shop_id = $1 AND kind = 'invoice'", shop.id
        )
        return dict(row) if row is not None and row["state"] == "posted" else None

    document = await eventually(booked, within=BOOKED_WITHIN, what="the store's order is booked")
    timings.record("WooCommerce store order booked in Dinero", time.monotonic() - placed_at)
    [invoice] = await stack.invoices(ORGANIZATION)
    assert invoice["TotalInclVat"] == 187.95
    await page.goto(f"{stack.url}/shops/{shop.id}/documents/{document['id']}")
    await expect(page.locator("[data-fact=source]")).to_contain_text("WooCommerce")
    link = page.get_by_role("link", name="the order in WooCommerce")
    await expect(link).to_have_attribute("href", re.compile(rf"^{re.escape(store_url)}/wp-admin/"))
    await page.goto(f"{stack.url}/shops/{shop.id}")
    await expect(woo.locator("[data-fact=last-delivery] time")).to_be_visible()
