"""An owner in a real browser: log in, connect through Visma's consent page, see the shop page
turn to "needs reconnect" by itself when the grant is revoked, reconnect with one click, and
see the order that waited meanwhile reach Dinero."""

from __future__ import annotations

import importlib.util
import time

import pytest
from playwright.async_api import expect

from gateway.db import Pool
from gateway.vault import Vault
from tests.browser.conftest import (
    OpenPage,
    Stack,
    Timings,
    approve_and_pick,
    document_in_state,
    eventually,
    log_in,
    shoot,
)
from tests.factories import make_shop, make_user

ORGANIZATION = 1001  # the sandbox's "Sokkeriet ApS", with Dinero Pro
# What issue 6 promises. The card polls every 3 s and an open page has the grant checked at
# most every 4 s (web/shops.py), so it usually shows in about 9 s.
SHOWS_WITHIN = 15.0
POSTS_WITHIN = 30.0


async def test_an_owner_connects_loses_the_grant_and_reconnects(
    stack: Stack, pool: Pool, vault: Vault, open_page: OpenPage, timings: Timings
) -> None:
    owner = await make_user(pool, email="owner@example.com")
    shop, secret, _ = await make_shop(pool, vault, name="Sokkeriet", owner=owner)
    await make_shop(pool, vault, name="Strikkeriet", owner=owner)
    page = await open_page()

    await page.goto(f"{stack.url}/login")
    await shoot(page, "login")
    await log_in(page, stack.url, owner.email)
    await expect(page.get_by_role("heading", name="Your shops")).to_be_visible()
    await shoot(page, "shop-list")
    await page.get_by_role("link", name="Sokkeriet", exact=True).click()
    await page.wait_for_url(f"{stack.url}/shops/{shop.id}")
    card = page.locator("#connection")
    await expect(card.locator("[data-status=not_connected]")).to_be_visible()
    await shoot(page, "shop-not-connected")

    await card.get_by_role("link", name="Connect to Dinero").click()
    await approve_and_pick(
        page, ORGANIZATION, consent_shot="visma-consent", pick_shot="organisation-picker"
    )
    await expect(card).to_contain_text("Sokkeriet ApS")
    await shoot(page, "shop-connected", top=card)

    # The grant dies in Visma; the open page must notice by itself.
    await page.evaluate("window.sameDocument = true")
    revoked_at = time.monotonic()
    await stack.revoke(ORGANIZATION)
    await expect(card.locator("[data-status=needs_reconnect]")).to_be_visible(
        timeout=SHOWS_WITHIN * 1000
    )
    shown_after = time.monotonic() - revoked_at
    timings.record("shop page shows 'needs reconnect' after the revoke", shown_after)
    assert shown_after < SHOWS_WITHIN
    assert await page.evaluate("window.sameDocument === true"), "the page was reloaded"
    assert page.url == f"{stack.url}/shops/{shop.id}"
    await shoot(page, "shop-needs-reconnect", top=card)

    # An order arriving now waits, parked, for the reconnect.
    document_id = await stack.post_order(shop.id, secret)
    await eventually(
        lambda: document_in_state(pool, document_id, "needs_reconnect"),
        within=POSTS_WITHIN,
        what="the new order's invoice is parked",
    )
    assert await stack.invoices(ORGANIZATION) == []

    reconnect_at = time.monotonic()
    await card.get_by_role("link", name="Reconnect").click()
    await approve_and_pick(page, ORGANIZATION)
    await expect(card.get_by_role("link", name="Reconnect")).to_have_count(0)
    await shoot(page, "shop-reconnected", top=card)

    posted = await eventually(
        lambda: document_in_state(pool, document_id, "posted"),
        within=POSTS_WITHIN,
        what="the parked invoice is posted after the reconnect",
    )
    timings.record("parked invoice posted after Reconnect", time.monotonic() - reconnect_at)
    [invoice] = await stack.invoices(ORGANIZATION)
    assert invoice["Guid"] == str(posted["backend_id"])


async def test_the_shop_page_speaks_danish_to_a_danish_browser(
    stack: Stack, pool: Pool, vault: Vault, open_page: OpenPage
) -> None:
    owner = await make_user(pool, email="ejer@example.dk")
    shop, _, _ = await make_shop(pool, vault, name="Sokkeriet", owner=owner)
    page = await open_page(locale="da-DK")
    await log_in(page, stack.url, owner.email)
    # The only shop of an owner opens directly.
    await page.wait_for_url(f"{stack.url}/shops/{shop.id}")
    await expect(page.locator("html")).to_have_attribute("lang", "da")
    card = page.locator("#connection")
    await card.get_by_role("link", name="Forbind med Dinero").click()
    await approve_and_pick(page, ORGANIZATION)
    await expect(card.locator("[data-status=active]")).to_have_text("Forbundet")
    await shoot(page, "shop-connected-da", top=card)


@pytest.mark.skipif(
    importlib.util.find_spec("web.documents") is None,
    reason="the documents pages (web/documents.py) are not built yet",
)
async def test_the_owner_follows_a_posted_invoice_to_its_page(
    stack: Stack, pool: Pool, vault: Vault, open_page: OpenPage
) -> None:
    owner = await make_user(pool, email="owner@example.com")
    shop, secret, _ = await make_shop(pool, vault, name="Sokkeriet", owner=owner)
    page = await open_page()
    await log_in(page, stack.url, owner.email)
    await page.locator("#connection").get_by_role("link", name="Connect to Dinero").click()
    await approve_and_pick(page, ORGANIZATION)
    document_id = await stack.post_order(shop.id, secret)
    await eventually(
        lambda: document_in_state(pool, document_id, "posted"),
        within=POSTS_WITHIN,
        what="the invoice is posted",
    )

    tabs = page.get_by_role("navigation", name="Shop", exact=True)
    await tabs.get_by_role("link", name="Documents").click()
    await page.wait_for_url(f"{stack.url}/shops/{shop.id}/documents")
    row = page.locator(f'#documents tr[data-document="{document_id}"]')
    await expect(row.locator("[data-state=posted]")).to_be_visible()
    await shoot(page, "documents")

    await row.get_by_role("link").click()
    await page.wait_for_url(f"{stack.url}/shops/{shop.id}/documents/{document_id}")
    await expect(page.locator("#document")).to_have_attribute("data-state", "posted")
    await expect(page.locator('#document tr[data-event="document.posted"]')).to_have_count(1)
    await shoot(page, "document")

    await tabs.get_by_role("link", name="Settings").click()
    await page.wait_for_url(f"{stack.url}/shops/{shop.id}/settings")
    await expect(page.locator("form.settings")).to_be_visible()
    await shoot(page, "settings")

    # Settlement: payments go to one of the organisation's own deposit accounts.
    settings_form = page.locator("form.settings")
    await settings_form.get_by_label("Register payments in Dinero").check()
    await settings_form.locator('select[name="payment_account_default"]').select_option("55010")
    await settings_form.get_by_role("button", name="Save settings").click()
    await page.wait_for_url(f"{stack.url}/shops/{shop.id}/settings?saved=1")
    await expect(page.locator('select[name="payment_account_default"]')).to_have_value("55010")
    stored = await pool.fetchrow(
        "SELECT register_payments, payment_accounts FROM shops WHERE id = $1", shop.id
    )
    assert stored is not None and stored["register_payments"]
    assert stored["payment_accounts"] == {"default": 55010}

    # The next paid order's invoice gets its payment, on that account.
    second = {"order/id": "1002", "order/number": "1002"}
    invoice_id = await stack.post_order(shop.id, secret, **second)
    payment_id = await pool.fetchval(
        "SELECT id FROM documents WHERE parent_id = $1 AND kind = 'payment'", invoice_id
    )
    await eventually(
        lambda: document_in_state(pool, payment_id, "posted"),
        within=POSTS_WITHIN,
        what="the payment is registered",
    )
    await page.goto(f"{stack.url}/shops/{shop.id}/documents/{payment_id}")
    await expect(page.locator('[data-fact="settlement-account"]')).to_have_text("55010")
    await expect(page.locator("#document")).to_have_attribute("data-state", "posted")
    await shoot(page, "payment")

    # Voucher mode: the next order is booked as a voucher carrying a (generated) receipt.
    await page.goto(f"{stack.url}/shops/{shop.id}/settings")
    await settings_form.locator('input[name="document_kind"][value="voucher"]').check()
    await settings_form.get_by_role("button", name="Save settings").click()
    await page.wait_for_url(f"{stack.url}/shops/{shop.id}/settings?saved=1")
    third = {"order/id": "1003", "order/number": "1003"}
    voucher_id = await stack.post_order(shop.id, secret, **third)
    await eventually(
        lambda: document_in_state(pool, voucher_id, "posted"),
        within=POSTS_WITHIN,
        what="the voucher is booked",
    )
    await page.goto(f"{stack.url}/shops/{shop.id}/documents/{voucher_id}")
    await expect(page.locator('[data-fact="attachment"]')).to_contain_text("-vou-1003.pdf")
    await expect(page.locator('[data-fact="settlement-account"]')).to_have_text("55010")
    await shoot(page, "voucher")
