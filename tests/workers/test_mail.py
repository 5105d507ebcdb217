"""`mail.send_due` against a real SMTP server (the sandbox's sink, aiosmtpd, on a free port):
sent once after the server accepted it, retried with back-off when the server is away or
says "later", stopped when it says no for good, never sent twice."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from gateway.db import Pool
from gateway.mail import Mail, parse_smtp_url
from gateway.settings import Settings
from sandbox.mailbox import Mailbox, start_smtp
from tenants.mail import outbox
from tests.mailsink import Sink, mail_sink
from workers import mail, system
from workers.settings import WorkerSettings

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@pytest.fixture
async def sink() -> AsyncIterator[Sink]:
    async with mail_sink() as sink:
        yield sink


def ctx_for(pool: Pool, settings: Settings, port: int) -> dict[str, Any]:
    smtp = parse_smtp_url(f"smtp://127.0.0.1:{port}")
    return {"pool": pool, "settings": dataclasses.replace(settings, smtp=smtp)}


def a_mail(recipient: str = "owner@example.com", subject: str = "Hello") -> Mail:
    return Mail(
        recipient=recipient,
        subject=subject,
        text="Reconnect: http://127.0.0.1:8000/shops/x/dinero/connect",
        html="<p><a href='http://127.0.0.1:8000/shops/x/dinero/connect'>Reconnect</a></p>",
        headers=(("List-Unsubscribe", "<http://127.0.0.1:8000/mail/unsubscribe/t>"),),
    )


async def mail_row(pool: Pool, mail_id: int | None, query: str) -> asyncpg.Record:
    row = await pool.fetchrow(query, mail_id)
    assert row is not None
    return row


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_a_queued_mail_is_sent_once(pool: Pool, settings: Settings, sink: Sink) -> None:
    mail_id = await outbox.queue(pool, dedupe_key="k", mail=a_mail("owner@example.com"), now=NOW)
    assert mail_id is not None
    # The same key again is not a second mail.
    assert (
        await outbox.queue(pool, dedupe_key="k", mail=a_mail("owner@example.com"), now=NOW) is None
    )

    ctx = ctx_for(pool, settings, sink.port)
    assert await mail.send_due(ctx, now=NOW) == {"sent": 1, "retrying": 0, "failed": 0}
    assert await mail.send_due(ctx, now=NOW + timedelta(hours=2)) == {
        "sent": 0,
        "retrying": 0,
        "failed": 0,
    }

    [received] = sink.mailbox.messages
    assert received.recipients == ("owner@example.com",)
    assert received.subject == "Hello"
    assert "dinero/connect" in received.text and "<a href=" in received.html
    assert received.headers["Message-ID"] == outbox.message_id(mail_id)
    assert received.headers["List-Unsubscribe"].startswith("<http://")
    row = await mail_row(pool, mail_id, "SELECT state, attempts, sent_at FROM mails WHERE id = $1")
    assert (row["state"], row["attempts"], row["sent_at"]) == ("sent", 1, NOW)


async def test_a_server_that_is_away_means_back_off_then_success(
    pool: Pool, settings: Settings
) -> None:
    port = free_port()  # nothing listens here yet
    mail_id = await outbox.queue(pool, dedupe_key="k", mail=a_mail("a@example.com"), now=NOW)
    ctx = ctx_for(pool, settings, port)

    assert await mail.send_due(ctx, now=NOW) == {"sent": 0, "retrying": 1, "failed": 0}
    first = await mail_row(pool, mail_id, "SELECT * FROM mails WHERE id = $1")
    assert first["state"] == "queued" and first["last_error"]
    assert NOW + timedelta(seconds=20) <= first["next_attempt_at"] <= NOW + timedelta(seconds=30)
    # Not due before its back-off is over.
    assert await mail.send_due(ctx, now=NOW + timedelta(seconds=10)) == {
        "sent": 0,
        "retrying": 0,
        "failed": 0,
    }

    later = first["next_attempt_at"]
    assert await mail.send_due(ctx, now=later) == {"sent": 0, "retrying": 1, "failed": 0}
    second = await mail_row(pool, mail_id, "SELECT * FROM mails WHERE id = $1")
    assert second["next_attempt_at"] - later >= timedelta(seconds=48)  # doubled

    mailbox = Mailbox()
    server = await start_smtp(mailbox, "127.0.0.1", port)
    try:
        assert await mail.send_due(ctx, now=second["next_attempt_at"]) == {
            "sent": 1,
            "retrying": 0,
            "failed": 0,
        }
    finally:
        server.close()
        await server.wait_closed()
    assert len(mailbox.messages) == 1
    row = await mail_row(pool, mail_id, "SELECT state, attempts FROM mails WHERE id = $1")
    assert (row["state"], row["attempts"]) == ("sent", 3)


async def test_later_is_retried_and_no_is_final(pool: Pool, settings: Settings, sink: Sink) -> None:
    later = await outbox.queue(pool, dedupe_key="1", mail=a_mail("a@example.com"), now=NOW)
    sink.mailbox.refusals.append("451 4.3.0 try again later")
    ctx = ctx_for(pool, settings, sink.port)
    assert await mail.send_due(ctx, now=NOW) == {"sent": 0, "retrying": 1, "failed": 0}

    never = await outbox.queue(pool, dedupe_key="2", mail=a_mail("b@example.com"), now=NOW)
    sink.mailbox.refusals.append("554 5.7.1 message refused")
    assert await mail.send_due(ctx, now=NOW) == {"sent": 0, "retrying": 0, "failed": 1}
    assert await mail.send_due(ctx, now=NOW + timedelta(days=1)) == {
        "sent": 1,
        "retrying": 0,
        "failed": 0,
    }

    states = {r["id"]: r["state"] for r in await pool.fetch("SELECT id, state FROM mails")}
    assert states == {later: "sent", never: "failed"}
    assert [m.recipients for m in sink.mailbox.messages] == [("a@example.com",)]


async def test_two_senders_at_once_send_each_mail_once(
    pool: Pool, settings: Settings, sink: Sink
) -> None:
    for n in range(30):
        await outbox.queue(pool, dedupe_key="k", mail=a_mail(f"u{n}@example.com"), now=NOW)
    ctx = ctx_for(pool, settings, sink.port)
    results = await asyncio.gather(*(mail.send_due(ctx, now=NOW) for _ in range(3)))
    results += [await mail.send_due(ctx, now=NOW)]  # whatever the first batches left
    assert sum(r["sent"] for r in results) == 30
    assert sorted(m.recipients[0] for m in sink.mailbox.messages) == sorted(
        f"u{n}@example.com" for n in range(30)
    )


async def test_mail_off_sends_nothing_and_keeps_the_mail(pool: Pool, settings: Settings) -> None:
    await outbox.queue(pool, dedupe_key="k", mail=a_mail("a@example.com"), now=NOW)
    ctx = {"pool": pool, "settings": dataclasses.replace(settings, smtp=None)}
    assert await mail.send_due(ctx, now=NOW) == {"sent": 0, "retrying": 0, "failed": 0}
    assert await pool.fetchval("SELECT state FROM mails") == "queued"


def test_the_cron_is_registered() -> None:
    names = {job.name for job in WorkerSettings.cron_jobs}
    assert "mail.run" in names


async def test_cleanup_forgets_mail_dealt_with_months_ago(pool: Pool, settings: Settings) -> None:
    old = datetime.now(UTC) - timedelta(days=100)
    sent = await outbox.queue(pool, dedupe_key="old", mail=a_mail(), now=old)
    waiting = await outbox.queue(pool, dedupe_key="waiting", mail=a_mail(), now=old)
    await outbox.sent(pool, sent or 0, now=old)
    counts = await system.cleanup({"pool": pool})
    assert counts["mails_and_alerts"] == 1
    assert [r["id"] for r in await pool.fetch("SELECT id FROM mails")] == [waiting]
