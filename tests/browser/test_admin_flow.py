"""The platform admin in a real browser: a connection whose grant died shows in the
"needs reconnect" list (with the documents parked on it) until its owner reconnects; and the
admin's other pages, for the README's screenshots."""

from __future__ import annotations

from playwright.async_api import expect

from gateway.db import Pool
from gateway.vault import Vault
from tenants.dinero.connections import service as connections
from tests.browser.conftest import (
    OpenPage,
    Stack,
    approve_and_pick,
    document_in_state,
    eventually,
    log_in,
    shoot,
)
from tests.factories import make_shop, make_user

ORGANIZATION = 1001
POSTS_WITHIN = 30.0


async def test_the_admin_sees_a_dead_grant_until_the_owner_reconnects(
    stack: Stack, pool: Pool, vault: Vault, open_page: OpenPage
) -> None:
    admin = await make_user(pool, email="admin@example.com", admin=True)
    owner = await make_user(pool, email="owner@example.com")
    shop, secret, _ = await make_shop(pool, vault, name="Sokkeriet", owner=owner)
    await make_shop(pool, vault, name="Strikkeriet", owner=owner)
    owner_page = await open_page()
    await log_in(owner_page, stack.url, owner.email)
    await owner_page.goto(f"{stack.url}/shops/{shop.id}")
    await owner_page.locator("#connection").get_by_role("link", name="Connect to Dinero").click()
    await approve_and_pick(owner_page, ORGANIZATION)
    # Nobody watches the shop page: here the worker finds the dead grant, on an order.
    await owner_page.goto("about:blank")

    await stack.revoke(ORGANIZATION)
    document_id = await stack.post_order(shop.id, secret)
    await eventually(
        lambda: document_in_state(pool, document_id, "needs_reconnect"),
        within=POSTS_WITHIN,
        what="the worker parks the invoice on the revoked grant",
    )
    connection = await connections.for_shop(pool, shop.id)
    assert connection is not None and connection.status == "needs_reconnect"

    admin_page = await open_page()
    await log_in(admin_page, stack.url, admin.email)
    await admin_page.goto(f"{stack.url}/admin")
    chip = admin_page.locator('#connections a[data-filter="needs_reconnect"]')
    await expect(chip.locator(".count")).to_have_text("1")
    await chip.click()
    await admin_page.wait_for_url(f"{stack.url}/admin?filter=needs_reconnect")
    row = admin_page.locator(f'#connections tr[data-connection="{connection.id}"]')
    await expect(row).to_contain_text("Sokkeriet ApS")
    await expect(row.locator("[data-status=needs_reconnect]")).to_be_visible()
    await expect(row.locator("td.num").last).to_have_text("1")  # the parked invoice
    await shoot(admin_page, "admin-needs-reconnect", top=admin_page.locator("#connections"))

    await owner_page.goto(f"{stack.url}/shops/{shop.id}")
    await owner_page.locator("#connection").get_by_role("link", name="Reconnect").click()
    await approve_and_pick(owner_page, ORGANIZATION)
    await eventually(
        lambda: document_in_state(pool, document_id, "posted"),
        within=POSTS_WITHIN,
        what="the parked invoice is posted after the reconnect",
    )
    assert len(await stack.invoices(ORGANIZATION)) == 1

    # The same filter, asked again, no longer lists it; "All" shows it active.
    await chip.click()
    await expect(admin_page.locator("#connections")).to_contain_text("No connections match.")
    await expect(admin_page.locator("#connections tr[data-connection]")).to_have_count(0)
    await admin_page.locator("#connections nav.chips a").first.click()
    await admin_page.wait_for_url(f"{stack.url}/admin")
    await expect(row.locator("[data-status=active]")).to_be_visible()
    # Load it anew (a reload would keep the scroll): the counters are outside the swapped list.
    await admin_page.goto(f"{stack.url}/admin")
    await shoot(admin_page, "admin-connections")

    nav = admin_page.get_by_role("navigation", name="Main")
    await nav.get_by_role("link", name="Shops").click()
    await admin_page.wait_for_url(f"{stack.url}/admin/shops")
    await expect(admin_page.locator(f'#shops tr[data-shop="{shop.id}"]')).to_contain_text("owner@")
    await shoot(admin_page, "admin-shops")
    await admin_page.locator(f'#shops tr[data-shop="{shop.id}"] a').click()
    await admin_page.wait_for_url(f"{stack.url}/admin/shops/{shop.id}")
    await expect(admin_page.get_by_role("heading", name="Sokkeriet")).to_be_visible()
    await shoot(admin_page, "admin-shop")


async def test_the_admin_creates_a_shop(stack: Stack, pool: Pool, open_page: OpenPage) -> None:
    admin = await make_user(pool, email="admin@example.com", admin=True)
    page = await open_page()
    await log_in(page, stack.url, admin.email)
    await page.goto(f"{stack.url}/admin/shops/new")
    form = page.locator('form[action="/admin/shops"]')
    await form.locator('input[name="name"]').fill("Garnhuset")
    await form.locator('input[name="owner_email"]').fill("garn@example.dk")
    await shoot(page, "admin-new-shop")
    await form.locator('button[type="submit"]').click()
    await expect(page.get_by_role("heading", name="Shop created: Garnhuset")).to_be_visible()
    await expect(page.locator('[data-secret="invite"]')).to_contain_text("/invite/")
    assert await pool.fetchval("SELECT count(*) FROM shops WHERE name = 'Garnhuset'") == 1
