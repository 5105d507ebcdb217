"""Re-encrypting every stored secret with the newest key, while everything keeps running.

Every encrypted column is listed in `ENCRYPTED_COLUMNS` and bound to its row with
`row_aad(table, column, id)`; a new encrypted column must be added here, or rotation will not
reach it (a test compares this list with the schema).

Rotation walks each table in primary-key order, a batch at a time. Each batch is one short
transaction that locks its rows (`FOR UPDATE`), so a token refresh running at the same time
either finishes first (and rotation re-encrypts the new token) or waits a few milliseconds
for the batch (and then writes its token with whatever key its process has). Values already
under the newest key are skipped, so running it again is cheap and reports what is left:
the way to roll out a key is (1) put the new key first in `GATEWAY_TOKEN_KEYS` everywhere,
(2) run `gateway keys rotate` until it reports nothing left, (3) drop the old key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from gateway.db import Pool
from gateway.vault import Vault, row_aad


@dataclass(frozen=True)
class EncryptedTable:
    table: str
    columns: tuple[str, ...]


ENCRYPTED_COLUMNS: Final = (
    EncryptedTable("shops", ("ingest_secret_enc", "ingest_secret_previous_enc")),
    EncryptedTable("dinero_connections", ("access_token_enc", "refresh_token_enc")),
    EncryptedTable("oauth_flows", ("code_verifier_enc", "access_token_enc", "refresh_token_enc")),
    EncryptedTable("sources", ("credentials_enc",)),
    EncryptedTable("source_webhooks", ("secret_enc",)),
)


@dataclass
class RotationReport:
    examined: int = 0
    rotated: int = 0  # values re-encrypted

    def __str__(self) -> str:
        return f"{self.rotated} secrets re-encrypted ({self.examined} rows examined)"


async def rotate_keys(
    pool: Pool,
    vault: Vault,
    *,
    batch_size: int = 200,
    on_batch: Callable[[str, RotationReport], None] | None = None,
) -> RotationReport:
    """Re-encrypts every value not yet under `vault`'s newest key. Idempotent."""
    report = RotationReport()
    for spec in ENCRYPTED_COLUMNS:
        last_id: object = None
        while True:
            last_id, done = await _rotate_batch(pool, vault, spec, last_id, batch_size, report)
            if on_batch is not None:
                on_batch(spec.table, report)
            if done:
                break
    return report


async def count_stale(pool: Pool, vault: Vault) -> int:
    """How many stored values still use a key other than the newest."""
    prefix = f"v1:{vault.current_kid}:"
    total = 0
    for spec in ENCRYPTED_COLUMNS:
        for column in spec.columns:
            total += await pool.fetchval(
                f"SELECT count(*) FROM {spec.table} "  # noqa: S608 - names from ENCRYPTED_COLUMNS
                f"WHERE {column} IS NOT NULL AND left({column}, $2) <> $1",
                prefix,
                len(prefix),
            )
    return total


async def _rotate_batch(
    pool: Pool,
    vault: Vault,
    spec: EncryptedTable,
    after: object,
    batch_size: int,
    report: RotationReport,
) -> tuple[object, bool]:
    columns = ", ".join(spec.columns)
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            f"SELECT id, {columns} FROM {spec.table} "  # noqa: S608 - names from ENCRYPTED_COLUMNS
            "WHERE ($1::uuid IS NULL OR id > $1::uuid) ORDER BY id LIMIT $2 FOR UPDATE",
            after,
            batch_size,
        )
        for row in rows:
            report.examined += 1
            changes: dict[str, str] = {}
            for column in spec.columns:
                ciphertext = row[column]
                if ciphertext is None or vault.is_current(ciphertext):
                    continue
                aad = row_aad(spec.table, column, row["id"])
                changes[column] = vault.encrypt(vault.decrypt(ciphertext, aad=aad), aad=aad)
            if changes:
                assignments = ", ".join(f"{c} = ${i}" for i, c in enumerate(changes, start=2))
                await conn.execute(
                    f"UPDATE {spec.table} SET {assignments} WHERE id = $1",  # noqa: S608
                    row["id"],
                    *changes.values(),
                )
                report.rotated += len(changes)
    if not rows:
        return after, True
    return rows[-1]["id"], len(rows) < batch_size
