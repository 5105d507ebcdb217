"""A shop's settings as its owner sets them: when and how orders post, the invoice text and
accounts, and settlement (payments, deposit accounts, invoice or voucher). All of their SQL
is here.

Settings are read when a document is posted, not when it was made, so a change reaches every
document not yet posted. The document type is the exception: it is fixed in the document's
kind when the order arrives. So saving a new type also converts the shop's documents that
have not started (nothing of them can be in Dinero yet) to the new kind, in the same
transaction; a document that has started, or already has a credit note or payment waiting
on it, stays as it is.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Final, Literal, get_args
from uuid import UUID

from gateway.db import Connection, Pool
from gateway.orders import PaymentMethod
from tenants.outbox import repository as outbox

Trigger = Literal["paid", "shipped", "created"]
TRIGGERS: Final[tuple[Trigger, ...]] = get_args(Trigger)
Mode = Literal["booked", "draft"]
MODES: Final[tuple[Mode, ...]] = get_args(Mode)
InvoiceLanguage = Literal["da-DK", "en-GB"]
LANGUAGES: Final[tuple[InvoiceLanguage, ...]] = get_args(InvoiceLanguage)
DocumentKind = Literal["invoice", "voucher"]
DOCUMENT_KINDS: Final[tuple[DocumentKind, ...]] = get_args(DocumentKind)
DEFAULT_ACCOUNT: Final = "default"  # payment_accounts' fallback key
# The payment methods of the ingest API (`order.payment.method`), and the fallback's key.
PAYMENT_METHODS: Final[tuple[PaymentMethod, ...]] = get_args(PaymentMethod)
# Triggers under which an order can be posted before it is paid: in voucher mode its
# voucher is then balanced against the receivable account.
UNPAID_TRIGGERS: Final[frozenset[str]] = frozenset({"created", "shipped"})
# The zone the owner's pages show a shop's times in (stored times are UTC): the shops and
# their books are Danish, so Danish time unless the owner chooses another.
DEFAULT_TIME_ZONE: Final = "Europe/Copenhagen"


@cache
def time_zones() -> frozenset[str]:
    """The names a shop's time zone may take: the IANA names the time zone database here
    knows (read once: listing them reads the whole database)."""
    return frozenset(zoneinfo.available_timezones())


@dataclass(frozen=True)
class ShopSettings:
    """A shop's settings as stored: the owner's pages show them, and a worker reads them
    when it posts a document, so a change reaches every document not yet posted."""

    name: str
    trigger: Trigger
    mode: Mode
    invoice_text: str
    language: InvoiceLanguage
    account_overrides: dict[str, int]  # an account role → the account the owner chose
    ingest_secret_rolled_at: datetime
    ingest_secret_previous_until: datetime | None
    register_payments: bool
    payment_accounts: dict[str, int]  # DEFAULT_ACCOUNT or a payment method → deposit account
    document_kind: DocumentKind
    receivable_account: int | None
    connection_id: UUID | None  # the connection to its books the shop posts through
    organization_id: int | None  # of that connection
    time_zone: str = DEFAULT_TIME_ZONE  # an IANA name: how the owner's pages show times

    def deposit_account(self, method: str | None) -> int | None:
        """Where a payment by `method` goes: the account chosen for the method, else the
        default one; None when neither is chosen."""
        chosen = self.payment_accounts.get(method) if method else None
        return chosen if chosen is not None else self.payment_accounts.get(DEFAULT_ACCOUNT)


def _numbers(stored: dict[str, object]) -> dict[str, int]:
    # Stored by this module as account numbers; anything else was never valid, so it is
    # neither shown nor posted with.
    return {
        key: number
        for key, value in stored.items()
        if (number := _account_number(value)) is not None
    }


def _account_number(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and 0 < value < 2**31:
        return value
    if isinstance(value, str) and value.isdigit() and 0 < int(value) < 2**31:
        return int(value)
    return None


async def shop_settings(conn: Connection | Pool, shop_id: UUID) -> ShopSettings | None:
    row = await conn.fetchrow(
        "SELECT s.name, s.trigger, s.mode, s.invoice_text, s.language, s.account_overrides, "
        "s.ingest_secret_rolled_at, s.ingest_secret_previous_until, s.register_payments, "
        "s.payment_accounts, s.document_kind, s.receivable_account, s.time_zone, "
        "b.connection_id, b.organization_id FROM shops s "
        "JOIN shop_books b ON b.shop_id = s.id WHERE s.id = $1",
        shop_id,
    )
    if row is None:
        return None
    values = dict(row)
    values["account_overrides"] = _numbers(row["account_overrides"])
    values["payment_accounts"] = {
        key: number
        for key, number in _numbers(row["payment_accounts"]).items()
        if key == DEFAULT_ACCOUNT or key in PAYMENT_METHODS
    }
    return ShopSettings(**values)


@dataclass(frozen=True)
class SettingsChange:
    trigger: Trigger
    mode: Mode
    invoice_text: str
    language: InvoiceLanguage
    account_overrides: dict[str, int]
    register_payments: bool
    payment_accounts: dict[str, int]
    document_kind: DocumentKind
    receivable_account: int | None
    time_zone: str  # one of `time_zones()`


@dataclass(frozen=True)
class Saved:
    converted: int  # documents not yet started that now have the new document type


async def save_settings(
    conn: Connection, shop_id: UUID, change: SettingsChange, *, now: datetime
) -> Saved:
    """Stores validated settings; call inside a transaction. They apply to every document
    posted from now on: a document's text, accounts and settlement are read when it is
    posted. (Its mode, booked or draft, is fixed when the document is made; its kind too,
    except that a new document type converts the documents that have not started.)"""
    # Locked, so two saves at once agree on what the type was and convert once. NO KEY
    # UPDATE (the lock the UPDATE below takes anyway) leaves ingest and workers alone: their
    # inserts only take KEY SHARE on the shop, through the foreign keys.
    previous = await conn.fetchval(
        "SELECT document_kind FROM shops WHERE id = $1 FOR NO KEY UPDATE", shop_id
    )
    await conn.execute(
        "UPDATE shops SET trigger = $2, mode = $3, invoice_text = $4, language = $5, "
        "account_overrides = $6, register_payments = $7, payment_accounts = $8, "
        "document_kind = $9, receivable_account = $10, updated_at = $11, time_zone = $12 "
        "WHERE id = $1",
        shop_id,
        change.trigger,
        change.mode,
        change.invoice_text,
        change.language,
        change.account_overrides,
        change.register_payments,
        change.payment_accounts,
        change.document_kind,
        change.receivable_account,
        now,
        change.time_zone,
    )
    converted = 0
    message = "Settings changed"
    if previous is not None and previous != change.document_kind:
        converted = await outbox.convert_unstarted(
            conn, shop_id, previous, change.document_kind, now=now
        )
        message += (
            f"; document type {previous} → {change.document_kind}, "
            f"{converted} document(s) not yet started converted"
        )
    await conn.execute(
        "INSERT INTO events (shop_id, kind, message, created_at) "
        "VALUES ($1, 'shop.settings_changed', $2, $3)",
        shop_id,
        message,
        now,
    )
    return Saved(converted=converted)


async def record_secret_rolled(conn: Connection | Pool, shop_id: UUID, *, now: datetime) -> None:
    await conn.execute(
        "INSERT INTO events (shop_id, kind, message, created_at) "
        "VALUES ($1, 'shop.ingest_secret_rolled', 'Ingest secret rolled', $2)",
        shop_id,
        now,
    )
