"""An owner in a real browser connects the shop's Shopify store from the shop page through
Shopify's grant screen (the sandbox's), sees the source connected, places an order in the
store's admin, and sees it booked in Dinero, with its way back to the order in Shopify."""

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
STORE = "sokkeriet-shop.myshopify.com"
BOOKED_WITHIN = 30.0
ADMIN_ORDER = re.compile(r"^https://admin\.shopify\.com/store/sokkeriet-shop/orders/\d+$")


async def test_an_owner_connects_shopify_and_a_store_order_is_booked(
    stack: Stack, pool: Pool, vault: Vault, open_page: OpenPage, timings: Timings
) -> None:
    owner = await make_user(pool, email="owner@example.com")
    shop, _, _ = await make_shop(pool, vault, name="Sokkeriet", owner=owner)
    made = await stack.http.post(
        f"{stack.sandbox.url}/_sandbox/shopify/stores", json={"shop": STORE}
    )
    assert made.status_code == 201, made.text
    store_admin = f"{made.json()['shop_url']}/admin"
    page = await open_page()
    await log_in(page, stack.url, owner.email)
    await page.wait_for_url(f"{stack.url}/shops/{shop.id}")
    await page.locator("#connection").get_by_role("link", name="Connect to Dinero").click()
    await approve_and_pick(page, ORGANIZATION)

    sources = page.locator("#sources")
    await sources.get_by_label("Shopify store address").fill("sokkeriet-shop")
    await sources.get_by_role("button", name="Connect Shopify").click()
    install = page.get_by_role("button", name="Install")
    await expect(install).to_be_visible()
    await shoot(page, "shopify-grant")
    await install.click()
    await page.wait_for_url(f"{stack.url}/shops/{shop.id}")
    await expect(sources.locator("[data-status=connected]")).to_be_visible()
    await expect(sources).to_contain_text(STORE)
    await shoot(page, "shop-shopify-connected", top=sources)

    await page.goto(store_admin)
    placed_at = time.monotonic()
    await page.get_by_role("button", name="Place a test order").click()
    await expect(page.locator("tr[data-order]")).to_have_count(1)
    await shoot(page, "shopify-store-admin")

    async def booked() -> dict[str, Any] | None:
        row = await pool.fetchrow(
            "SELECT id, state FROM documents WHERE shop_id = $1 AND kind = 'invoice'", shop.id
        )
        return dict(row) if row is not None and row["state"] == "posted" else None

    document = await eventually(booked, within=BOOKED_WITHIN, what="the store's order is booked")
    timings.record("Shopify store order booked in Dinero", time.monotonic() - placed_at)
    [invoice] = await stack.invoices(ORGANIZATION)
    assert invoice["TotalInclVat"] == 267.95

    await page.goto(f"{stack.url}/shops/{shop.id}/documents/{document['id']}")
    await expect(page.locator("[data-fact=source]")).to_contain_text("Shopify")
    link = page.get_by_role("link", name="the order in Shopify")
    await expect(link).to_have_attribute("href", ADMIN_ORDER)
    await expect(page.locator("table[data-lines] tbody tr")).to_have_count(3)
    await shoot(page, "document-from-shopify")
    await page.goto(f"{stack.url}/shops/{shop.id}")
    await expect(sources.locator("[data-fact=last-delivery] time")).to_be_visible()
