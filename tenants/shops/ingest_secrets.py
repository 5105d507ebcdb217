"""A shop's ingest secret: rolling it, and checking the `Gateway-Signature` it signs with.

A signature is `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`. The timestamp
is signed with the body, so a captured request cannot be replayed once it is older than
`TOLERANCE`; within that window the event id dedupe answers a replay with the first answer.
Several `v1=` entries may be present (a sender in the middle of a roll signs with both
secrets); any one matching is enough.

Rolling keeps the old secret valid until `ingest_secret_previous_until`, so the shop can
deploy the new one without losing orders. Rolling again inside that window drops the oldest.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final
from uuid import UUID

import asyncpg

from gateway.db import Connection, Pool
from gateway.secret import Secret
from gateway.vault import Vault, row_aad
from tenants.shops.repository import ingest_secret_aad, new_ingest_secret

SIGNATURE_HEADER: Final = "Gateway-Signature"
TOLERANCE_SECONDS: Final = 300
DEFAULT_OVERLAP: Final = timedelta(hours=24)
# Nobody signs with more than a handful of secrets; a longer header is garbage.
_MAX_HEADER_LENGTH: Final = 1024
_HEX_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_UNIX_SECONDS = re.compile(r"^\d{1,12}$")


class ShopNotFound(LookupError):
    pass


class MalformedSignature(ValueError):
    """The header is not `t=<unix seconds>,v1=<hex>[,v1=<hex>…]`."""


@dataclass(frozen=True)
class SignatureHeader:
    timestamp: int
    signatures: tuple[str, ...]  # lower-case hex, as sent


def previous_secret_aad(shop_id: UUID) -> str:
    return row_aad("shops", "ingest_secret_previous_enc", shop_id)


def signature(secret: Secret, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.reveal().encode(), message, hashlib.sha256).hexdigest()


def sign(secret: Secret, timestamp: int, body: bytes) -> str:
    """The header value a shop sends (tests, the benchmark and client examples use it)."""
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def parse_signature_header(value: str) -> SignatureHeader:
    if len(value) > _MAX_HEADER_LENGTH:
        raise MalformedSignature("the header is too long")
    timestamps: list[str] = []
    signatures: list[str] = []
    for item in value.split(","):
        key, sep, part = item.strip().partition("=")
        if not sep:
            raise MalformedSignature(f"expected key=value pairs, got {item.strip()[:20]!r}")
        if key == "t":
            timestamps.append(part)
        elif key == "v1":
            if not _HEX_SHA256.match(part):
                raise MalformedSignature("v1 must be 64 hex digits (HMAC-SHA256)")
            signatures.append(part.lower())
        # Other keys (future schemes) are ignored, as a verifier of a newer sender should.
    if len(timestamps) != 1 or not _UNIX_SECONDS.match(timestamps[0]):
        raise MalformedSignature("expected exactly one t=<unix seconds>")
    if not signatures:
        raise MalformedSignature("expected at least one v1=<hex signature>")
    return SignatureHeader(int(timestamps[0]), tuple(signatures))


def is_fresh(header: SignatureHeader, now: datetime) -> bool:
    return abs(now.timestamp() - header.timestamp) <= TOLERANCE_SECONDS


def matches(header: SignatureHeader, body: bytes, candidates: Sequence[Secret]) -> bool:
    """Whether any signature in the header is the body's under any of the secrets. Every
    comparison is constant-time; with no secrets (an unknown shop) one HMAC under a throwaway
    key is still computed, so the answer takes about as long as for a wrong secret."""
    keys = list(candidates) or [Secret(secrets.token_hex(16))]
    expected = [signature(key, header.timestamp, body) for key in keys]
    found = False
    for wanted in expected:
        for given in header.signatures:
            found |= hmac.compare_digest(wanted, given)
    return found and bool(candidates)


def verification_secrets(
    vault: Vault, shop_id: UUID, row: asyncpg.Record, now: datetime
) -> tuple[Secret, ...]:
    """The secrets a signature may use, from a row with the three `ingest_secret*` columns:
    the current one, and the previous one while its overlap lasts."""
    current = vault.decrypt(row["ingest_secret_enc"], aad=ingest_secret_aad(shop_id))
    previous_enc, until = row["ingest_secret_previous_enc"], row["ingest_secret_previous_until"]
    if previous_enc is None or until is None or until <= now:
        return (current,)
    return current, vault.decrypt(previous_enc, aad=previous_secret_aad(shop_id))


VERIFICATION_COLUMNS: Final = (
    "ingest_secret_enc, ingest_secret_previous_enc, ingest_secret_previous_until"
)


async def secrets_for_verification(
    conn: Connection, vault: Vault, shop_id: UUID, now: datetime
) -> tuple[Secret, ...]:
    """The shop's valid secrets, newest first; empty for an unknown shop."""
    row = await conn.fetchrow(
        f"SELECT {VERIFICATION_COLUMNS} FROM shops WHERE id = $1",  # noqa: S608 - constant
        shop_id,
    )
    return () if row is None else verification_secrets(vault, shop_id, row, now)


async def roll_ingest_secret(
    conn: Connection,
    vault: Vault,
    shop_id: UUID,
    *,
    now: datetime,
    overlap: timedelta = DEFAULT_OVERLAP,
) -> Secret:
    """Gives the shop a new secret and returns it (the only time it is seen in clear). The
    replaced secret keeps working until `now + overlap`; a zero overlap ends it at once."""
    async with conn.transaction():
        current_enc = await conn.fetchval(
            "SELECT ingest_secret_enc FROM shops WHERE id = $1 FOR UPDATE", shop_id
        )
        if current_enc is None:
            raise ShopNotFound(f"no shop {shop_id}")
        secret = new_ingest_secret()
        previous_enc: str | None = None
        previous_until: datetime | None = None
        if overlap > timedelta(0):
            current = vault.decrypt(current_enc, aad=ingest_secret_aad(shop_id))
            previous_enc = vault.encrypt(current, aad=previous_secret_aad(shop_id))
            previous_until = now + overlap
        await conn.execute(
            """
            UPDATE shops
            SET ingest_secret_enc = $2, ingest_secret_previous_enc = $3,
                ingest_secret_previous_until = $4, ingest_secret_rolled_at = $5,
                updated_at = now()
            WHERE id = $1
            """,
            shop_id,
            vault.encrypt(secret, aad=ingest_secret_aad(shop_id)),
            previous_enc,
            previous_until,
            now,
        )
    return secret


# --- the shop, as the ingest endpoint needs it -----------------------------------------------


@dataclass(frozen=True)
class IngestShop:
    id: UUID
    trigger: str
    mode: str
    document_kind: str
    secrets: tuple[Secret, ...] = field(repr=False)
    register_payments: bool = False
    # Set on a shop served from the web process's cache (`tenants.shops.ingest_cache`): the
    # ingest transaction stores nothing unless the row still has it.
    fingerprint: str | None = field(default=None, repr=False)


async def shop_for_ingest(
    conn: Connection | Pool, vault: Vault, shop_id: UUID, now: datetime
) -> IngestShop | None:
    """The shop's settings and its valid ingest secrets, in one query."""
    row = await conn.fetchrow(
        f"SELECT trigger, mode, document_kind, register_payments, {VERIFICATION_COLUMNS} "  # noqa: S608
        "FROM shops WHERE id = $1",
        shop_id,
    )
    if row is None:
        return None
    return IngestShop(
        id=shop_id,
        trigger=row["trigger"],
        mode=row["mode"],
        document_kind=row["document_kind"],
        secrets=verification_secrets(vault, shop_id, row, now),
        register_payments=row["register_payments"],
    )
