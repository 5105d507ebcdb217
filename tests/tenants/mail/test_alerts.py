"""Alerts, from where the trouble is noticed to the mail the SMTP sink receives: a revoked
grant makes exactly one mail however the connection flaps, failed documents come as at most
one digest an hour per shop, each person gets their own language and only what they want."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest

from gateway.db import Pool
from gateway.dinero.oauth import VismaConnect
from gateway.secret import Secret
from gateway.settings import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, Settings
from gateway.vault import Vault
from tenants.accounts import users
from tenants.dinero.connections import service as connections
from tenants.mail import alerts, preferences
from tenants.outbox import repository as outbox
from tenants.shops.repository import Shop
from tenants.sources.shopify import repository as sources
from tenants.sources.woocommerce import repository as woocommerce
from tests.factories import make_shop, make_user
from tests.live import LiveSandbox
from tests.mailsink import Sink, mail_sink
from tests.tenants.dinero.connections.test_connections import connect, expire
from tests.tenants.outbox.test_outbox import leased, make_document, make_order, order_body
from workers import mail

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@pytest.fixture
async def sink() -> AsyncIterator[Sink]:
    async with mail_sink() as sink:
        yield sink


@pytest.fixture
def ctx(pool: Pool, settings: Settings, sink: Sink) -> dict[str, Any]:
    return {"pool": pool, "settings": sink.settings(settings)}


async def test_a_revoked_grant_makes_one_mail_however_the_connection_flaps(
    pool: Pool,
    vault: Vault,
    sandbox_server: LiveSandbox,
    visma: VismaConnect,
    ctx: dict[str, Any],
    sink: Sink,
) -> None:
    _, connection_id = await connect(pool, vault, sandbox_server, visma)
    second, _ = await connect(pool, vault, sandbox_server, visma, shop=None)
    await pool.execute("UPDATE users SET locale = 'en'")
    owner_of_second = await pool.fetchval(
        "SELECT u.email FROM users u JOIN memberships m ON m.user_id = u.id WHERE m.shop_id = $1",
        second.id,
    )
    now = sandbox_server.sandbox.now()
    sandbox_server.sandbox.revoke_organization(1001)
    await expire(pool, sandbox_server, connection_id, now)
    with pytest.raises(connections.NeedsReconnect):
        await connections.access_token_for(pool, vault, visma, connection_id, now=now)

    counts = await mail.run(ctx, now=now)
    assert (counts["mails"], counts["sent"]) == (2, 2)  # each shop's owner
    by_recipient = {m.recipients[0]: m for m in sink.mailbox.messages}
    message = by_recipient[owner_of_second]
    assert message.subject == f"Reconnect {second.name} to Dinero"
    assert f"/shops/{second.id}/dinero/connect" in message.text
    assert f'href="http://127.0.0.1:8000/shops/{second.id}/dinero/connect"' in message.html
    assert "/mail/unsubscribe?" in message.headers["List-Unsubscribe"]

    # Reconnected and revoked again, twenty times in the next hours: no more mail.
    for flap in range(20):
        moment = now + timedelta(minutes=10 * (flap + 1))
        await pool.execute(
            "UPDATE dinero_connections SET status = 'active' WHERE id = $1", connection_id
        )
        await connections.mark_needs_reconnect(pool, connection_id, "revoked again", now=moment)
        await mail.run(ctx, now=moment)
    assert await pool.fetchval("SELECT count(*) FROM alerts WHERE state = 'pending'") == 1
    # Cured by the time the next alert would be due: it is dropped, not sent.
    await pool.execute(
        "UPDATE dinero_connections SET status = 'active' WHERE id = $1", connection_id
    )
    counts = await mail.run(ctx, now=now + timedelta(hours=7))
    assert counts["cancelled"] == 1
    assert len(sink.mailbox.messages) == 2


async def test_still_broken_after_the_interval_is_said_once_more(
    pool: Pool, vault: Vault, ctx: dict[str, Any], sink: Sink
) -> None:
    shop, _, _ = await make_shop(pool, vault)
    connection_id = await _connection_for(pool, shop.id)
    await connections.mark_needs_reconnect(pool, connection_id, "invalid_grant", now=NOW)
    await mail.run(ctx, now=NOW)
    await pool.execute(
        "UPDATE dinero_connections SET status = 'active' WHERE id = $1", connection_id
    )
    await connections.mark_needs_reconnect(pool, connection_id, "invalid_grant", now=NOW)
    assert (await mail.run(ctx, now=NOW + timedelta(hours=5)))["sent"] == 0
    assert (await mail.run(ctx, now=NOW + timedelta(hours=6)))["sent"] == 1
    assert len(sink.mailbox.messages) == 2


async def test_failed_documents_come_as_one_digest_an_hour_per_shop(
    pool: Pool, vault: Vault, ctx: dict[str, Any], sink: Sink
) -> None:
    shop = await english_shop(pool, vault, "Sokkeriet")
    other = await english_shop(pool, vault, "Strikkeriet")

    async def fail(shop_id: UUID, external_id: str, when: datetime) -> None:
        order = await make_order(pool, shop_id, order_body(external_id))
        document_id = await make_document(pool, shop_id, order, next_attempt_at=when)
        document = await leased(pool, document_id, when)
        await outbox.fail(pool, document, now=when, message=f"refused {external_id}", code="2")

    await fail(shop.id, "1001", NOW)
    assert (await mail.run(ctx, now=NOW))["sent"] == 1
    for n in range(2, 6):  # four more within the hour
        await fail(shop.id, f"100{n}", NOW + timedelta(minutes=5 * n))
        assert (await mail.run(ctx, now=NOW + timedelta(minutes=5 * n)))["sent"] == 0
    await fail(other.id, "2001", NOW + timedelta(minutes=30))  # another shop is not held back
    assert (await mail.run(ctx, now=NOW + timedelta(minutes=30)))["sent"] == 1

    assert (await mail.run(ctx, now=NOW + timedelta(minutes=59)))["sent"] == 0
    assert (await mail.run(ctx, now=NOW + timedelta(hours=1)))["sent"] == 1
    subjects = [m.subject for m in sink.mailbox.messages]
    assert subjects == [
        "1 documents failed for Sokkeriet",
        "1 documents failed for Strikkeriet",
        "4 documents failed for Sokkeriet",
    ]
    digest = sink.mailbox.messages[-1].text
    assert "invoice for order 1002: refused 1002" in digest
    assert "order 1001" not in digest
    assert f"/shops/{shop.id}/documents?state=failed" in digest


async def test_a_danish_user_gets_danish_mail(
    pool: Pool, vault: Vault, ctx: dict[str, Any], sink: Sink
) -> None:
    danish = await make_user(pool)
    english = await make_user(pool)
    await users.set_locale(pool, danish.id, "da")
    await users.set_locale(pool, english.id, "en")
    shop, _, _ = await make_shop(pool, vault, name="Sokkeriet", owner=danish)
    await pool.execute(
        "INSERT INTO memberships (user_id, shop_id, role) VALUES ($1, $2, 'owner')",
        english.id,
        shop.id,
    )
    connection_id = await _connection_for(pool, shop.id)
    await connections.mark_needs_reconnect(pool, connection_id, "invalid_grant", now=NOW)
    await mail.run(ctx, now=NOW)

    by_recipient = {m.recipients[0]: m for m in sink.mailbox.messages}
    assert by_recipient[danish.email].subject == "Forbind Sokkeriet til Dinero igen"
    assert "Forbind igen med ét klik" in by_recipient[danish.email].text
    assert 'lang="da"' in by_recipient[danish.email].html
    assert by_recipient[english.email].subject == "Reconnect Sokkeriet to Dinero"


async def test_an_opted_out_kind_is_not_mailed(
    pool: Pool, vault: Vault, ctx: dict[str, Any], sink: Sink
) -> None:
    shop, _, owner = await make_shop(pool, vault)
    await preferences.set_wanted(pool, owner.id, {"documents.failed"})
    connection_id = await _connection_for(pool, shop.id)
    await connections.mark_needs_reconnect(pool, connection_id, "invalid_grant", now=NOW)
    counts = await mail.run(ctx, now=NOW)
    assert (counts["cancelled"], counts["sent"]) == (1, 0)
    assert sink.mailbox.messages == []
    assert await preferences.opted_out(pool, owner.id) == set(preferences.KINDS) - {
        "documents.failed"
    }


async def test_renewal_failing_for_hours_is_mailed_before_it_lapses(
    pool: Pool, vault: Vault, ctx: dict[str, Any], sink: Sink
) -> None:
    shop = await english_shop(pool, vault, "Sokkeriet")
    connection_id = await _connection_for(pool, shop.id)
    await pool.execute(
        "UPDATE dinero_connections SET last_refresh_at = $2, consecutive_failures = 7, "
        "last_error = 'token renewal failed: Visma answered 503' WHERE id = $1",
        connection_id,
        NOW - timedelta(hours=4),
    )
    async with pool.acquire() as conn:
        # An hour of failures is not yet worth a mail; four are.
        await alerts.renewal_failing(
            conn, connection_id, last_success=NOW, now=NOW + timedelta(hours=1)
        )
        await alerts.renewal_failing(
            conn, connection_id, last_success=NOW - timedelta(hours=4), now=NOW
        )
    await mail.run(ctx, now=NOW)
    [message] = sink.mailbox.messages
    assert message.subject == "Dinero Gateway cannot renew its access to Dinero for Sokkeriet"
    assert "For 4 hours" in message.text and "Visma answered 503" in message.text


async def test_a_renewal_failing_since_hours_ago_raises_the_alert(
    pool: Pool,
    vault: Vault,
    sandbox_server: LiveSandbox,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    ctx: dict[str, Any],
    sink: Sink,
) -> None:
    _, connection_id = await connect(pool, vault, sandbox_server, visma)
    await pool.execute("UPDATE users SET locale = 'en'")
    now = sandbox_server.sandbox.now()
    away = VismaConnect(
        http,
        auth_url="http://127.0.0.1:1",  # nothing listens
        client_id=SANDBOX_CLIENT_ID,
        client_secret=Secret(SANDBOX_CLIENT_SECRET),
    )
    # Failing within the first hours: no alert yet.
    await connections.refresh_if_due(
        pool, vault, away, connection_id, now=now + timedelta(minutes=55)
    )
    connection = await connections.get(pool, connection_id)
    assert connection is not None and connection.consecutive_failures == 1
    assert await pool.fetchval("SELECT count(*) FROM alerts") == 0
    # Still failing more than three hours after the last renewal: the owners hear of it.
    later = now + timedelta(hours=3, minutes=5)
    await connections.refresh_if_due(pool, vault, away, connection_id, now=later)
    await mail.run(ctx, now=later)
    [message] = sink.mailbox.messages
    assert message.subject.startswith("Dinero Gateway cannot renew its access to Dinero")
    assert "For 3 hours" in message.text


async def test_a_store_that_lost_access_is_mailed(
    pool: Pool, vault: Vault, ctx: dict[str, Any], sink: Sink
) -> None:
    shop = await english_shop(pool, vault, "Sokkeriet")
    source_id = await pool.fetchval(
        "INSERT INTO sources (shop_id, platform, store, reconcile_watermark) "
        "VALUES ($1, 'shopify', 'sokkeriet.myshopify.com', now()) RETURNING id",
        shop.id,
    )
    await sources.lost_access(pool, source_id)
    await sources.lost_access(pool, source_id)  # noticed again: still one alert
    await mail.run(ctx, now=datetime.now(UTC))
    [message] = sink.mailbox.messages
    assert message.subject == "Orders from sokkeriet.myshopify.com no longer reach Sokkeriet"
    assert "Shopify no longer accepts the gateway's access" in message.text
    assert f"/shops/{shop.id}" in message.text


async def test_a_woocommerce_store_that_lost_access_is_mailed_and_a_mended_one_is_not(
    pool: Pool, vault: Vault, ctx: dict[str, Any], sink: Sink
) -> None:
    """The alert is the shared source row's, so every platform's lost access mails; what
    the gateway mended on its own (a webhook re-enabled) is a notice on the card, and a
    source merely failing still gets its orders through reconcile: neither mails."""
    shop, _, owner = await make_shop(pool, vault, name="Strikkeriet")
    await users.set_locale(pool, owner.id, "da")
    source_id = await pool.fetchval(
        "INSERT INTO sources (shop_id, platform, store, reconcile_watermark) "
        "VALUES ($1, 'woocommerce', 'https://strikkeriet.dk', now()) RETURNING id",
        shop.id,
    )
    await woocommerce.tell_owner(pool, source_id, "A webhook was re-enabled.", NOW)
    await woocommerce.set_status(pool, source_id, "failing", "The store could not be reached.")
    await mail.run(ctx, now=datetime.now(UTC))
    assert sink.mailbox.messages == []
    await woocommerce.lost_access(pool, source_id)
    await mail.run(ctx, now=datetime.now(UTC))
    [message] = sink.mailbox.messages
    assert message.recipients == (owner.email,)
    assert (
        message.subject == "Ordrer fra https://strikkeriet.dk når ikke længere frem til Strikkeriet"
    )
    assert "WooCommerce accepterer ikke længere gatewayens API-nøgle" in message.text


async def english_shop(pool: Pool, vault: Vault, name: str) -> Shop:
    shop, _, owner = await make_shop(pool, vault, name=name)
    await users.set_locale(pool, owner.id, "en")
    return shop


async def _connection_for(pool: Pool, shop_id: UUID) -> UUID:
    """An active connection with a stand-in token set (enough for alerts, which never call
    Dinero)."""
    connection_id: UUID = await pool.fetchval(
        "INSERT INTO dinero_connections (organization_id, organization_name, status, "
        "access_token_enc, refresh_token_enc, access_expires_at) "
        "VALUES ((SELECT coalesce(max(organization_id), 1000) + 1 FROM dinero_connections), "
        "'Demo ApS', 'active', 'x', 'x', now() + interval '1 hour') RETURNING id",
    )
    await pool.execute("UPDATE shops SET connection_id = $2 WHERE id = $1", shop_id, connection_id)
    return connection_id


async def test_owners_hear_about_connections_and_every_member_about_failed_documents(
    pool: Pool, vault: Vault, ctx: dict[str, Any], sink: Sink
) -> None:
    shop = await english_shop(pool, vault, "Sokkeriet")
    bookkeeper = await make_user(pool)
    await users.set_locale(pool, bookkeeper.id, "en")
    await pool.execute(
        "INSERT INTO memberships (user_id, shop_id, role) VALUES ($1, $2, 'bookkeeper')",
        bookkeeper.id,
        shop.id,
    )
    connection_id = await _connection_for(pool, shop.id)
    await connections.mark_needs_reconnect(pool, connection_id, "invalid_grant", now=NOW)
    order = await make_order(pool, shop.id, order_body("1001"))
    document_id = await make_document(pool, shop.id, order, next_attempt_at=NOW)
    await outbox.fail(pool, await leased(pool, document_id, NOW), now=NOW, message="no", code="2")
    await mail.run(ctx, now=NOW)

    to_bookkeeper = [
        m.subject for m in sink.mailbox.messages if m.recipients == (bookkeeper.email,)
    ]
    assert to_bookkeeper == ["1 documents failed for Sokkeriet"]
    assert len(sink.mailbox.messages) == 3  # the owner got both
