"""A shop's team in a real browser: the owner invites a bookkeeper on the Team page and
copies the link; the bookkeeper opens it in a browser of their own, chooses a password,
retries a failed document, and finds the settings shown but not changeable."""

from __future__ import annotations

from playwright.async_api import expect

from gateway.db import Pool
from gateway.vault import Vault
from tests.browser.conftest import OpenPage, Stack, eventually, log_in
from tests.factories import make_shop, make_user
from tests.web.test_admin import add_document

BOOKKEEPER = "bookkeeper@example.com"
PASSWORD = "ledgers and receipts"


async def test_an_owner_invites_a_bookkeeper_who_retries_but_cannot_change_settings(
    stack: Stack, pool: Pool, vault: Vault, open_page: OpenPage
) -> None:
    owner = await make_user(pool, email="owner@example.com")
    shop, _, _ = await make_shop(pool, vault, name="Sokkeriet", owner=owner)
    failed = await add_document(pool, shop.id, state="failed")

    # The owner invites on the Team page and gets the link to copy.
    owners_page = await open_page()
    await log_in(owners_page, stack.url, owner.email)
    tabs = owners_page.get_by_role("navigation", name="Shop", exact=True)
    await tabs.get_by_role("link", name="Team").click()
    await owners_page.wait_for_url(f"{stack.url}/shops/{shop.id}/team")
    await owners_page.get_by_label("E-mail").fill(BOOKKEEPER)
    await owners_page.locator('form[action$="/team/invites"] select[name="role"]').select_option(
        "bookkeeper"
    )
    await owners_page.get_by_role("button", name="Make an invite link").click()
    link = owners_page.locator("input[data-invite-url]")
    await expect(link).to_be_visible()
    url = await link.input_value()
    assert url.startswith(f"{stack.url}/join/")

    # The bookkeeper, in a browser of their own, chooses a password and lands on the shop.
    page = await open_page()
    await page.goto(url)
    await page.get_by_label("New password").fill(PASSWORD)
    await page.get_by_label("The same password again").fill(PASSWORD)
    await page.get_by_role("button", name="Set password and join").click()
    await page.wait_for_url(f"{stack.url}/shops/{shop.id}")
    tabs = page.get_by_role("navigation", name="Shop", exact=True)
    await expect(tabs.get_by_role("link", name="Documents")).to_be_visible()
    await expect(tabs.get_by_role("link", name="Team")).to_have_count(0)

    # Retrying a failed document is a bookkeeper's job.
    await page.goto(f"{stack.url}/shops/{shop.id}/documents/{failed}")
    async with page.expect_navigation():  # the form posts, and the page comes back
        await page.locator("#document").get_by_role("button", name="Retry").click()
    await eventually(
        lambda: pool.fetchval(
            "SELECT true FROM events WHERE document_id = $1 AND kind = 'document.retried'", failed
        ),
        within=10,
        what="the document is queued again",
    )

    # The settings are there to read, without a Save button; a forged save is refused.
    await tabs.get_by_role("link", name="Settings").click()
    await page.wait_for_url(f"{stack.url}/shops/{shop.id}/settings")
    await expect(page.locator("[data-note=read-only]")).to_be_visible()
    await expect(page.get_by_role("button", name="Save settings")).to_have_count(0)
    csrf = await page.locator('form.settings input[name="csrf_token"]').input_value()
    forged = await page.request.post(
        f"{stack.url}/shops/{shop.id}/settings",
        form={"csrf_token": csrf, "trigger": "created", "mode": "draft"},
        max_redirects=0,
    )
    assert forged.status == 403
    assert await pool.fetchval("SELECT trigger FROM shops WHERE id = $1", shop.id) == "paid"

    # The owner sees who joined, in the audit log.
    await owners_page.goto(f"{stack.url}/shops/{shop.id}/audit")
    joined = owners_page.locator('tr[data-action="member.joined"]')
    await expect(joined).to_contain_text(BOOKKEEPER)
