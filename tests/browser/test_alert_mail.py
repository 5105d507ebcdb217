"""A revoked grant, as the owner lives it by mail: exactly one alert arrives in the dev
mailbox, and its link reconnects in one click."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from gateway.db import Pool
from gateway.vault import Vault
from tests.browser.conftest import OpenPage, Stack, approve_and_pick, eventually, log_in
from tests.factories import make_shop, make_user

ORGANIZATION = 1001
# The open page notices the revoke within about 10 s, the mail cron runs every 5 s.
ARRIVES_WITHIN = 30.0


async def test_a_revoked_grant_mails_one_alert_whose_link_reconnects(
    stack: Stack, pool: Pool, vault: Vault, open_page: OpenPage
) -> None:
    owner = await make_user(pool, email="owner@example.com")
    shop, _, _ = await make_shop(pool, vault, name="Sokkeriet", owner=owner)
    page = await open_page()
    await log_in(page, stack.url, owner.email)
    await page.goto(f"{stack.url}/shops/{shop.id}")
    card = page.locator("#connection")
    await card.get_by_role("link", name="Connect to Dinero").click()
    await approve_and_pick(page, ORGANIZATION)
    assert await stack.mails() == []

    await stack.revoke(ORGANIZATION)
    await expect(card.locator("[data-status=needs_reconnect]")).to_be_visible(timeout=15_000)

    async def alert() -> list[dict[str, Any]]:
        return await stack.mails()

    [mail] = await eventually(alert, within=ARRIVES_WITHIN, what="the alert mail arrives")
    assert mail["to"] == [owner.email]
    assert "Sokkeriet" in mail["subject"]
    [reconnect] = [link for link in mail["links"] if link.endswith("/dinero/connect")]
    assert reconnect == f"{stack.url}/shops/{shop.id}/dinero/connect"

    # The mailbox page shows it with the link clickable, as a new user sees it.
    mailbox = await open_page()
    await mailbox.goto(f"{stack.sandbox.url}/_sandbox/mail")
    await expect(mailbox.get_by_role("link", name=reconnect)).to_be_visible()

    # One click on the mail's link, in the owner's browser, and Approve: connected again.
    await page.goto(reconnect)
    await approve_and_pick(page, ORGANIZATION)
    await expect(card.get_by_role("link", name="Reconnect")).to_have_count(0)

    # Everything the revoke caused has been mailed or dropped: still that one mail.
    async def settled() -> bool:
        pending = await pool.fetchval(
            "SELECT count(*) FROM alerts WHERE state = 'pending' AND due_at <= now()"
        )
        queued = await pool.fetchval("SELECT count(*) FROM mails WHERE state = 'queued'")
        return bool(pending == 0 and queued == 0)

    await eventually(settled, within=ARRIVES_WITHIN, what="no alert or mail left to send")
    assert len(await stack.mails()) == 1
    assert await pool.fetchval("SELECT count(*) FROM mails") == 1
