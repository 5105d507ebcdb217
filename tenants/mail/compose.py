"""Due alerts become mails: one per person who looks after the shops concerned, in their
language, with the one link that helps and a link to stop that kind of alert.

Runs in one transaction per batch: the due alerts are claimed with `FOR UPDATE SKIP LOCKED`,
their mails queued in the outbox, and the alerts marked mailed (or cancelled, when the
trouble is over by now or nobody wants to hear about it), all or nothing.

Who hears: the owners of the shops an alert is about (only an owner can reconnect Dinero
or a store), and for failed documents every member (whoever retries them), unless
disabled or opted out of that kind. Their language: the one they chose (`users.locale`),
else Danish when one of their shops books in Danish, else English.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final
from uuid import UUID

import asyncpg

from gateway.db import Connection, Pool
from gateway.mail import Mail
from gateway.secret import Secret
from tenants.mail import outbox, preferences
from tenants.mail.preferences import Kind
from tenants.mail.texts import Body, Language, Translator

DIGEST_LINES: Final = 20
# Kinds every member of the shop hears about; the others go to its owners.
_EVERY_MEMBER: Final[frozenset[Kind]] = frozenset({"documents.failed"})


@dataclass(frozen=True)
class Site:
    """What a mail's links need: where the dashboard is, and the key that signs them."""

    base_url: str
    secret_key: Secret


@dataclass(frozen=True)
class Recipient:
    user_id: UUID
    email: str
    language: Language
    shop_ids: tuple[UUID, ...]
    shop_names: tuple[str, ...]


@dataclass(frozen=True)
class _Letter:
    subject: str
    body: Body


async def compose_due(pool: Pool, site: Site, *, now: datetime, limit: int = 50) -> dict[str, int]:
    counts = {"alerts": 0, "mails": 0, "cancelled": 0}
    async with pool.acquire() as conn, conn.transaction():
        alerts = await conn.fetch(
            "SELECT * FROM alerts WHERE state = 'pending' AND due_at <= $1 "
            "ORDER BY due_at, id LIMIT $2 FOR UPDATE SKIP LOCKED",
            now,
            limit,
        )
        for alert in alerts:
            counts["alerts"] += 1
            queued = await _compose(conn, alert, site, now=now)
            counts["mails"] += queued
            state = "mailed" if queued else "cancelled"
            counts["cancelled"] += not queued
            await conn.execute(
                "UPDATE alerts SET state = $2, done_at = $3 WHERE id = $1", alert["id"], state, now
            )
    return counts


async def _compose(conn: Connection, alert: asyncpg.Record, site: Site, *, now: datetime) -> int:
    kind: Kind = alert["kind"]
    if alert["connection_id"] is not None:
        shops_sql = "s.connection_id = $1"
        about = alert["connection_id"]
    elif alert["shop_id"] is not None:
        shops_sql = "s.id = $1"
        about = alert["shop_id"]
    else:
        shops_sql = "s.id = (SELECT shop_id FROM sources WHERE id = $1)"
        about = alert["source_id"]
    write = _WRITERS[kind]
    queued = 0
    for recipient in await _recipients(conn, shops_sql, about, kind):
        t = Translator(recipient.language)
        letter = await write(conn, alert, recipient, t, site, now)
        if letter is None:
            return 0  # the trouble is over: nobody needs to hear about it
        unsubscribe = preferences.unsubscribe_url(
            site.base_url, site.secret_key, recipient.user_id, kind
        )
        body = letter.body
        body.link(t("Stop these alerts"), unsubscribe)
        body.small(
            t(
                "You get this mail because you look after {shops} in Dinero Gateway. "
                "Choose which alerts you get: {preferences}",
                shops=_names(recipient.shop_names),
                preferences=f"{site.base_url}{preferences.PREFERENCES_PATH}",
            )
        )
        mail = Mail(
            recipient=recipient.email,
            subject=letter.subject,
            text=body.text(),
            html=body.html(recipient.language),
            headers=(
                ("List-Unsubscribe", f"<{unsubscribe}>"),
                ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
            ),
        )
        mail_id = await outbox.queue(
            conn,
            dedupe_key=f"alert:{alert['id']}",
            mail=mail,
            now=now,
            user_id=recipient.user_id,
            alert_id=alert["id"],
        )
        queued += mail_id is not None
    return queued


async def _recipients(conn: Connection, shops_sql: str, about: UUID, kind: Kind) -> list[Recipient]:
    rows = await conn.fetch(
        f"""
        SELECT u.id, u.email, u.locale,
               array_agg(s.id ORDER BY s.name, s.id) AS shop_ids,
               array_agg(s.name ORDER BY s.name, s.id) AS shop_names,
               bool_or(s.language = 'da-DK') AS danish_books
        FROM shops s
        JOIN memberships m ON m.shop_id = s.id
        JOIN users u ON u.id = m.user_id
        WHERE {shops_sql} AND u.disabled_at IS NULL
          AND (m.role = 'owner' OR $2 = ANY($3::text[]))
          AND NOT EXISTS (SELECT 1 FROM mail_opt_outs o WHERE o.user_id = u.id AND o.kind = $2)
        GROUP BY u.id, u.email, u.locale
        ORDER BY u.email
        """,  # noqa: S608 - shops_sql is one of three constants above
        about,
        kind,
        list(_EVERY_MEMBER),
    )
    return [
        Recipient(
            user_id=row["id"],
            email=row["email"],
            language=row["locale"] or ("da" if row["danish_books"] else "en"),
            shop_ids=tuple(row["shop_ids"]),
            shop_names=tuple(row["shop_names"]),
        )
        for row in rows
    ]


def _names(names: tuple[str, ...]) -> str:
    return ", ".join(names)


async def _needs_reconnect(
    conn: Connection,
    alert: asyncpg.Record,
    recipient: Recipient,
    t: Translator,
    site: Site,
    now: datetime,
) -> _Letter | None:
    connection = await conn.fetchrow(
        "SELECT status, organization_name FROM dinero_connections WHERE id = $1",
        alert["connection_id"],
    )
    if connection is None or connection["status"] != "needs_reconnect":
        return None
    shops = _names(recipient.shop_names)
    body = (
        Body()
        .paragraph(t("Hello,"))
        .paragraph(
            t(
                "Dinero Gateway can no longer reach Dinero for {shops} (organisation "
                "{organisation}): the access was revoked or has expired.",
                shops=shops,
                organisation=connection["organization_name"],
            )
        )
        .paragraph(
            t(
                "Until you reconnect, new orders wait in the gateway. Nothing is lost, and "
                "everything waiting is booked as soon as you have reconnected."
            )
        )
        .link(t("Reconnect with one click"), _connect_url(site, recipient.shop_ids[0]))
    )
    return _Letter(t("Reconnect {shops} to Dinero", shops=shops), body)


async def _renewal_failing(
    conn: Connection,
    alert: asyncpg.Record,
    recipient: Recipient,
    t: Translator,
    site: Site,
    now: datetime,
) -> _Letter | None:
    connection = await conn.fetchrow(
        "SELECT status, organization_name, consecutive_failures, last_error, "
        "COALESCE(last_refresh_at, connected_at) AS last_success "
        "FROM dinero_connections WHERE id = $1",
        alert["connection_id"],
    )
    if connection is None or connection["status"] != "active":
        return None
    if connection["consecutive_failures"] == 0:
        return None
    shops = _names(recipient.shop_names)
    hours = int((now - connection["last_success"]).total_seconds() // 3600)
    body = (
        Body()
        .paragraph(t("Hello,"))
        .paragraph(
            t(
                "For {hours} hours Dinero Gateway has not been able to renew its access to "
                "Dinero (organisation {organisation}). It keeps trying, but if the access "
                "lapses first, {shops} will need to be reconnected.",
                hours=hours,
                organisation=connection["organization_name"],
                shops=shops,
            )
        )
        .paragraph(t("The last error: {error}", error=connection["last_error"] or "?"))
        .link(t("Reconnecting now avoids any gap"), _connect_url(site, recipient.shop_ids[0]))
    )
    return _Letter(
        t("Dinero Gateway cannot renew its access to Dinero for {shops}", shops=shops), body
    )


async def _documents_failed(
    conn: Connection,
    alert: asyncpg.Record,
    recipient: Recipient,
    t: Translator,
    site: Site,
    now: datetime,
) -> _Letter | None:
    # Failed since the last digest for this shop (all of them, for the first).
    rows = await conn.fetch(
        """
        SELECT d.kind, o.number, d.last_error, count(*) OVER () AS total
        FROM documents d JOIN orders o ON o.id = d.order_id AND o.shop_id = d.shop_id
        WHERE d.shop_id = $1 AND d.state = 'failed'
          AND d.updated_at > COALESCE((SELECT max(done_at) FROM alerts
                                       WHERE dedupe_key = $2 AND state = 'mailed'), '-infinity')
        ORDER BY d.updated_at, d.id
        LIMIT $3
        """,
        alert["shop_id"],
        alert["dedupe_key"],
        DIGEST_LINES,
    )
    if not rows:
        return None
    shop = recipient.shop_names[0]
    lines = [
        t(
            "{kind} for order {number}: {error}",
            kind=t(row["kind"].replace("_", " ")),
            number=row["number"],
            error=(row["last_error"] or "")[:300],
        )
        for row in rows
    ]
    total = rows[0]["total"]
    if total > len(rows):
        lines.append(t("… and {count} more", count=total - len(rows)))
    body = (
        Body()
        .paragraph(t("Hello,"))
        .paragraph(
            t(
                "Dinero refused these documents for {shop}. Each one waits until the cause "
                "is fixed and it is retried:",
                shop=shop,
            )
        )
        .items(lines)
        .link(
            t("See the failed documents"),
            f"{site.base_url}/shops/{alert['shop_id']}/documents?state=failed",
        )
    )
    return _Letter(t("{count} documents failed for {shop}", count=total, shop=shop), body)


async def _source_stopped(
    conn: Connection,
    alert: asyncpg.Record,
    recipient: Recipient,
    t: Translator,
    site: Site,
    now: datetime,
) -> _Letter | None:
    source = await conn.fetchrow(
        "SELECT shop_id, store, status, status_detail FROM sources WHERE id = $1",
        alert["source_id"],
    )
    if source is None or source["status"] == "connected":
        return None
    shop = recipient.shop_names[0]
    body = Body().paragraph(t("Hello,"))
    body.paragraph(
        t(
            "Dinero Gateway no longer receives orders from {store} for {shop}.",
            store=source["store"],
            shop=shop,
        )
    )
    if source["status_detail"]:
        body.paragraph(t(source["status_detail"]))
    body.link(t("Open the shop's page"), f"{site.base_url}/shops/{source['shop_id']}")
    return _Letter(
        t("Orders from {store} no longer reach {shop}", store=source["store"], shop=shop), body
    )


def _connect_url(site: Site, shop_id: UUID) -> str:
    return f"{site.base_url}/shops/{shop_id}/dinero/connect"


_WRITERS: Final = {
    "connection.needs_reconnect": _needs_reconnect,
    "connection.renewal_failing": _renewal_failing,
    "documents.failed": _documents_failed,
    "source.stopped": _source_stopped,
}
