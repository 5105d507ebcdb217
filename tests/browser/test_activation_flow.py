"""An owner setting up a shop in a real browser: a real order that arrives before the shop
is activated waits, counted in the set-up guide; the test order goes to Dinero as a draft;
Activate sends the waiting order, which is booked once."""

from __future__ import annotations

from playwright.async_api import expect

from gateway.db import Pool
from gateway.vault import Vault
from tests.browser.conftest import (
    OpenPage,
    Stack,
    approve_and_pick,
    document_in_state,
    eventually,
    log_in,
)
from tests.factories import make_shop, make_user

ORGANIZATION = 1001  # the sandbox's "Sokkeriet ApS", with Dinero Pro
POSTS_WITHIN = 30.0


async def test_an_unactivated_shops_real_order_waits_and_posts_after_activate(
    stack: Stack, pool: Pool, vault: Vault, open_page: OpenPage
) -> None:
    owner = await make_user(pool, email="owner@example.com")
    shop, secret, _ = await make_shop(pool, vault, name="Sokkeriet", owner=owner, activated=False)
    page = await open_page()
    await log_in(page, stack.url, owner.email)
    await page.wait_for_url(f"{stack.url}/shops/{shop.id}")
    await page.locator("#connection").get_by_role("link", name="Connect to Dinero").click()
    await approve_and_pick(page, ORGANIZATION)
    guide = page.locator("#setup")
    await expect(guide.locator('[data-step="connect"] .badge')).to_have_text("Done")

    # A real order arrives while the owner is still setting up: the worker holds it.
    order_id = await stack.post_order(shop.id, secret)
    await eventually(
        lambda: document_in_state(pool, order_id, "awaiting_activation"),
        within=POSTS_WITHIN,
        what="the real order's invoice waits for activation",
    )
    await page.reload()
    await expect(guide.locator('[data-count="setup-awaiting-activation"]')).to_have_text(
        "1 waiting for activation"
    )
    await expect(page.locator('#connection [data-count="awaiting_activation"]')).to_have_text("1")

    # The test order goes all the way, as a draft; the real one still waits.
    await guide.get_by_role("button", name="Send a test order").click()
    test_order = guide.locator("[data-test-order]")
    await expect(test_order).to_be_visible()
    test_id = int(await test_order.get_attribute("data-test-order") or 0)
    await eventually(
        lambda: document_in_state(pool, test_id, "posted"),
        within=POSTS_WITHIN,
        what="the test order is left as a draft",
    )
    [draft] = await stack.invoices(ORGANIZATION)
    assert draft["Status"] == "Draft"
    assert await document_in_state(pool, order_id, "awaiting_activation")

    await guide.get_by_role("button", name="Activate the shop").click()
    await expect(page.get_by_text("Live since")).to_be_visible()
    posted = await eventually(
        lambda: document_in_state(pool, order_id, "posted"),
        within=POSTS_WITHIN,
        what="the waiting order is booked after Activate",
    )
    booked = [i for i in await stack.invoices(ORGANIZATION) if i["Status"] != "Draft"]
    assert [(i["Guid"], i["Number"]) for i in booked] == [(str(posted["backend_id"]), 1)]
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM events WHERE document_id = $1 AND kind = 'document.posted'",
            order_id,
        )
        == 1
    )
