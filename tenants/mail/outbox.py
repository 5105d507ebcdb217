"""The mail outbox: every SQL statement on `mails`.

A mail is written (rendered, in its recipient's language) in the transaction that decided to
send it, and sent afterwards by `workers.mail`. Sending claims due rows with `FOR UPDATE
SKIP LOCKED` and pushes their `next_attempt_at` past the time a send may take (`HOLD`), in
one short transaction: two senders never take the same row, and a sender that dies while
sending leaves the row due again once the hold is over, so no mail is lost. A row is marked
sent only after the SMTP server accepted it; in the normal path each mail goes out once
(only a sender that dies between the server's "250 OK" and the commit can make a second
copy, which carries the same Message-ID).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final
from uuid import UUID

from gateway.db import Connection, Pool
from gateway.mail import SEND_TIMEOUT, Mail

# Longer than a send may take (aiosmtplib's timeout), so a claimed row is not claimed again
# while its send is still running.
HOLD: Final = timedelta(seconds=SEND_TIMEOUT * 3)
BACKOFF_BASE: Final = timedelta(seconds=30)
BACKOFF_CAP: Final = timedelta(hours=1)


@dataclass(frozen=True)
class Claimed:
    id: int
    attempts: int
    mail: Mail


async def queue(
    conn: Connection | Pool,
    *,
    dedupe_key: str,
    mail: Mail,
    now: datetime,
    user_id: UUID | None = None,
    alert_id: int | None = None,
) -> int | None:
    """Queues `mail` unless one with this key already went (or goes) to this recipient:
    the new row's id, or None for a repeat."""
    mail_id: int | None = await conn.fetchval(
        """
        INSERT INTO mails (user_id, alert_id, recipient, dedupe_key, subject, body_text,
                           body_html, headers, next_attempt_at, created_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
        ON CONFLICT ON CONSTRAINT mails_recipient_dedupe_key DO NOTHING
        RETURNING id
        """,
        user_id,
        alert_id,
        mail.recipient,
        dedupe_key[:300],
        mail.subject[:300],
        mail.text,
        mail.html,
        [list(header) for header in mail.headers],
        now,
    )
    return mail_id


async def claim_due(pool: Pool, *, now: datetime, limit: int = 20) -> list[Claimed]:
    rows = await pool.fetch(
        """
        UPDATE mails SET next_attempt_at = $2, attempts = attempts + 1
        WHERE id IN (
            SELECT id FROM mails WHERE state = 'queued' AND next_attempt_at <= $1
            ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
        RETURNING id, attempts, recipient, subject, body_text, body_html, headers
        """,
        now,
        now + HOLD,
        limit,
    )
    return [
        Claimed(
            id=row["id"],
            attempts=row["attempts"],
            mail=Mail(
                recipient=row["recipient"],
                subject=row["subject"],
                text=row["body_text"],
                html=row["body_html"],
                headers=(
                    *((str(n), str(v)) for n, v in row["headers"]),
                    ("Message-ID", message_id(row["id"])),
                ),
            ),
        )
        for row in sorted(rows, key=lambda r: r["id"])
    ]


def message_id(mail_id: int) -> str:
    """The same for every attempt at one mail, so a rare second copy is recognisable."""
    return f"<mail-{mail_id}@dinero-gateway>"


async def sent(pool: Pool, mail_id: int, *, now: datetime) -> None:
    await pool.execute(
        "UPDATE mails SET state = 'sent', sent_at = $2, last_error = NULL "
        "WHERE id = $1 AND state = 'queued'",
        mail_id,
        now,
    )


def backoff(attempts: int, now: datetime) -> datetime:
    delay: timedelta = min(BACKOFF_BASE * 2 ** max(attempts - 1, 0), BACKOFF_CAP)
    return now + delay * random.uniform(0.8, 1.0)


async def failed(
    pool: Pool, mail_id: int, attempts: int, error: str, *, permanent: bool, now: datetime
) -> datetime | None:
    """Records a failed send: tried again after a back-off (answered), or, when the server
    refused this mail for good, stopped as `failed` (None)."""
    retry_at = None if permanent else backoff(attempts, now)
    await pool.execute(
        "UPDATE mails SET state = CASE WHEN $3::timestamptz IS NULL THEN 'failed' ELSE state END, "
        "next_attempt_at = COALESCE($3, next_attempt_at), last_error = $2 "
        "WHERE id = $1 AND state = 'queued'",
        mail_id,
        error[:1000],
        retry_at,
    )
    return retry_at


async def forget_old(conn: Connection | Pool, *, older_than: timedelta) -> int:
    """Deletes mails sent or given up on, and alerts dealt with, longer ago than `older_than`
    (far longer than any alert's minimum interval, which reads the last one mailed)."""
    mails = await conn.fetchval(
        "WITH gone AS (DELETE FROM mails WHERE state <> 'queued' "
        "AND created_at < now() - $1::interval RETURNING 1) SELECT count(*) FROM gone",
        older_than,
    )
    alerts = await conn.fetchval(
        "WITH gone AS (DELETE FROM alerts WHERE state <> 'pending' "
        "AND done_at < now() - $1::interval RETURNING 1) SELECT count(*) FROM gone",
        older_than,
    )
    return int(mails) + int(alerts)
