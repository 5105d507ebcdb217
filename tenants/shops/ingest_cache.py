"""The shops as ingest sees them, kept in the web process for a short while: a cache hit
saves the lookup and the decryption of the ingest secrets on every event.

A cached shop is never trusted blindly. It carries a fingerprint of everything ingest reads
from the shop row (trigger, mode, payments, the encrypted secrets and the old secret's end),
and the ingest transaction's first statement compares it with the row as the transaction
sees it (`FINGERPRINT`): a shop rolled or reconfigured by any process since it was cached
fails that check, the event is not stored, and the delivery is verified again against a
fresh read. So a roll takes effect at once in every process, without a message between
them and without a round trip per event to ask. A signature that does not match a cached
shop is checked again against a fresh read before it is refused, so a sender already using
a newly rolled secret is not turned away by a stale entry.
"""

from __future__ import annotations

import dataclasses
import time
from collections import OrderedDict
from datetime import datetime
from typing import Final
from uuid import UUID

from gateway.db import Connection, Pool
from gateway.vault import Vault
from tenants.shops.ingest_secrets import (
    VERIFICATION_COLUMNS,
    IngestShop,
    verification_secrets,
)

# What a cached shop must still be, as SQL on a row of `shops` (migration 0013): any change
# to the columns ingest reads makes its entry stale.
FINGERPRINT: Final = "ingest_fingerprint(shops)"
# How long an entry lives: it bounds how long decrypted secrets stay in memory, not how
# long a stale one could be used (never: see the module's docstring). Each expiry costs the
# shop's next event a read and a decryption.
TTL_SECONDS: Final = 600.0
MAX_SHOPS: Final = 10_000


@dataclasses.dataclass(frozen=True)
class _Entry:
    shop: IngestShop  # every secret, the previous one while its overlap lasted at load
    previous_until: datetime | None
    loaded_at: float


class IngestShops:
    """One web process's cache of `IngestShop`s by id."""

    def __init__(self, vault: Vault, *, ttl: float = TTL_SECONDS, size: int = MAX_SHOPS) -> None:
        self._vault = vault
        self._ttl = ttl
        self._size = size
        self._entries: OrderedDict[UUID, _Entry] = OrderedDict()

    def cached(self, shop_id: UUID, now: datetime) -> IngestShop | None:
        """The cached shop, with its fingerprint for the ingest transaction to check; None
        when it is not cached (or no longer)."""
        entry = self._entries.get(shop_id)
        if entry is None:
            return None
        if time.monotonic() - entry.loaded_at > self._ttl:
            del self._entries[shop_id]
            return None
        shop = entry.shop
        if len(shop.secrets) > 1 and (entry.previous_until is None or entry.previous_until <= now):
            shop = dataclasses.replace(shop, secrets=shop.secrets[:1])  # its overlap ended
        return shop

    async def load(
        self, conn: Connection | Pool, shop_id: UUID, now: datetime
    ) -> IngestShop | None:
        """The shop as it is now, read fresh and cached; returned without a fingerprint,
        since nothing older than this transaction's own read is being trusted."""
        self.drop(shop_id)
        row = await conn.fetchrow(
            f"SELECT trigger, mode, document_kind, register_payments, {VERIFICATION_COLUMNS}, "  # noqa: S608 - constants
            f"{FINGERPRINT} AS fingerprint FROM shops WHERE id = $1",
            shop_id,
        )
        if row is None:
            return None  # not cached: ids that are not shops must not fill the cache
        shop = IngestShop(
            id=shop_id,
            trigger=row["trigger"],
            mode=row["mode"],
            document_kind=row["document_kind"],
            secrets=verification_secrets(self._vault, shop_id, row, now),
            register_payments=row["register_payments"],
        )
        cached = dataclasses.replace(shop, fingerprint=row["fingerprint"])
        self._entries[shop_id] = _Entry(
            cached, row["ingest_secret_previous_until"], time.monotonic()
        )
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return shop

    def drop(self, shop_id: UUID) -> None:
        self._entries.pop(shop_id, None)
