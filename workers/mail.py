"""The mail cron: turns due alerts into mails, then sends what the outbox holds.

Every `SEND_EVERY` seconds on one worker (arq's `unique` cron; more workers would be safe
too, since rows are claimed with SKIP LOCKED). Without `GATEWAY_SMTP_URL` mail is off: the
worker says so once at start-up, alerts still become mails, and they wait in the outbox
until a server is configured.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any, Final

from gateway import mail
from gateway.settings import Settings
from tenants.mail import compose, outbox

log = logging.getLogger(__name__)

SEND_EVERY: Final = 5  # seconds
# Messages sent at once: one SMTP conversation each.
CONCURRENCY: Final = 4


async def run(ctx: dict[str, Any], *, now: datetime | None = None) -> dict[str, int]:
    """The cron: due alerts into mails, then the due mails out."""
    now = now or datetime.now(UTC)
    composed = await compose_due(ctx, now=now)
    return {**composed, **await send_due(ctx, now=now)}


async def compose_due(ctx: dict[str, Any], *, now: datetime) -> dict[str, int]:
    settings: Settings = ctx["settings"]
    site = compose.Site(base_url=settings.base_url, secret_key=settings.secret_key)
    counts = await compose.compose_due(ctx["pool"], site, now=now)
    if counts["alerts"]:
        log.info("alerts: %s", counts)
    return counts


async def send_due(ctx: dict[str, Any], *, now: datetime | None = None) -> dict[str, int]:
    settings: Settings = ctx["settings"]
    counts = {"sent": 0, "retrying": 0, "failed": 0}
    if settings.smtp is None:
        return counts
    smtp = settings.smtp
    now = now or datetime.now(UTC)
    claimed = await outbox.claim_due(ctx["pool"], now=now)
    gate = asyncio.Semaphore(CONCURRENCY)

    async def send(item: outbox.Claimed) -> None:
        async with gate:
            try:
                await mail.send(smtp, item.mail, sender=settings.mail_from)
            except mail.SendFailed as exc:
                retry_at = await outbox.failed(
                    ctx["pool"],
                    item.id,
                    item.attempts,
                    str(exc),
                    permanent=exc.permanent,
                    now=now,
                )
                counts["failed" if retry_at is None else "retrying"] += 1
                log.warning(
                    "mail %s via %s not sent (%s)%s",
                    item.id,
                    smtp.display,
                    exc,
                    f"; trying again at {retry_at:%H:%M:%S} UTC" if retry_at else "; giving up",
                )
                return
            await outbox.sent(ctx["pool"], item.id, now=now)
            counts["sent"] += 1

    await asyncio.gather(*(send(item) for item in claimed))
    if claimed:
        log.info("mail: %s", counts)
    return counts
