"""Which Dinero contact an order's customer is: the `contacts` cache, kept as a mirror of
each organisation's contacts.

The matching rule is the usual one: a customer with a VAT number is the contact with that
VAT number, else the contact with that e-mail address (both case-insensitive, as Dinero's
filters are), else a new contact. A contact we create gets a deterministic `ContactGuid`
(uuid5 of the organisation and the key), so two workers creating the same new customer at
once, or a retry after a lost answer, end with one contact: Dinero refuses the second
create as a duplicate guid, which tells us it exists.

Why a mirror instead of asking Dinero per customer (`VatNumber eq …`, then `Email eq …`):
those two lookups cost a new customer two of the organisation's 100 calls a minute, so a
new customer's invoice would take five calls instead of three. The mirror is one listing of
the organisation's contacts on first use, then one `changesSince` listing when a customer
is not found and the mirror is older than `SYNC_MAX_AGE`, shared by every document of the
organisation. The price: a contact created by hand in Dinero within the last
`SYNC_MAX_AGE` is not seen yet, so that customer's first invoice may get a second contact.
Contacts the gateway creates are in the cache the moment they exist, so for them there is
no such window.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Final, Literal
from uuid import UUID, uuid5

from gateway.db import Connection, Pool
from gateway.dinero.client import DineroClient
from gateway.dinero.contacts import Contact
from gateway.dinero.errors import ValidationFailed
from gateway.dinero.models import ContactCreate
from gateway.dinero.pages import MAX_PAGE_SIZE
from gateway.orders import Customer, vat_prefix
from tenants.dinero.session import DineroSession

# Fixed forever: contacts created with guids from it are found again by them.
CONTACT_NAMESPACE: Final = UUID("6f1d3c2e-8a4b-5c7d-9e0f-1a2b3c4d5e6f")
SYNC_MAX_AGE: Final = timedelta(minutes=5)
# `changesSince` is compared with Dinero's clock, not ours: list a little further back.
SYNC_OVERLAP: Final = timedelta(minutes=5)
SYNC_FIELDS: Final = ("ContactGuid", "Email", "VatNumber", "CountryKey")

KeyKind = Literal["vat", "email", "external"]
_NOT_ALNUM: Final = re.compile(r"[^0-9A-Za-z]")


@dataclass(frozen=True)
class ContactKey:
    kind: KeyKind
    key: str


def normalize_vat(number: str, country: str | None) -> str:
    """`DK 12 34 56 78`, `dk12345678` and (for a Danish contact) `12345678` are one key."""
    compact = _NOT_ALNUM.sub("", number).upper()
    if compact[:1].isdigit() and country:
        compact = vat_prefix(country.upper()) + compact
    return compact


def contact_keys(customer: Customer) -> list[ContactKey]:
    """The customer's keys, most specific first; the first names the guid we create with."""
    keys = []
    if customer.vat_number:
        keys.append(ContactKey("vat", normalize_vat(customer.vat_number, customer.address.country)))
    if customer.email:
        keys.append(ContactKey("email", customer.email.strip().lower()))
    if not keys:
        # No VAT number and no e-mail: the same name at the same address is the same contact.
        address = customer.address
        parts = (customer.display_name, address.street, address.zip, address.city, address.country)
        text = "\n".join((part or "").strip().casefold() for part in parts)
        keys.append(ContactKey("external", hashlib.sha256(text.encode()).hexdigest()[:32]))
    return keys


def contact_guid(organization_id: int, key: ContactKey) -> UUID:
    return uuid5(CONTACT_NAMESPACE, f"{organization_id}:{key.kind}:{key.key}")


def contact_create(customer: Customer, guid: UUID) -> ContactCreate:
    address = customer.address
    return ContactCreate(
        contact_guid=guid,
        name=customer.display_name,
        country_key=address.country,
        is_person=customer.company is None and customer.vat_number is None,
        street=address.street,
        zip_code=address.zip,
        city=address.city,
        phone=customer.phone,
        email=customer.email,
        vat_number=customer.vat_number,
        ean_number=customer.ean,
        att_person=customer.name if customer.company and customer.name else None,
    )


async def resolve(pool: Pool, session: DineroSession, customer: Customer, *, now: datetime) -> UUID:
    """The customer's contact guid in the session's organisation, creating the contact if
    there is none. Calls Dinero only when the cache does not know the customer."""
    organization_id = session.organization_id
    keys = contact_keys(customer)
    found = await cached(pool, organization_id, keys)
    if found is None and await sync(pool, session, now=now):
        found = await cached(pool, organization_id, keys)
    if found is None:
        found = contact_guid(organization_id, keys[0])
        create = contact_create(customer, found)
        try:
            await session.call(lambda client: client.create_contact(organization_id, create))
        except ValidationFailed as exc:
            if not exc.duplicate_guid:
                raise
    await remember(pool, organization_id, keys, found, now=now)
    return found


async def cached(pool: Pool, organization_id: int, keys: list[ContactKey]) -> UUID | None:
    """The contact of the first key the cache knows, in the keys' order."""
    rows = await pool.fetch(
        "SELECT key_kind, key, contact_guid FROM contacts "
        "WHERE organization_id = $1 AND (key_kind, key) IN "
        "(SELECT * FROM unnest($2::text[], $3::text[]))",
        organization_id,
        [k.kind for k in keys],
        [k.key for k in keys],
    )
    known = {(r["key_kind"], r["key"]): r["contact_guid"] for r in rows}
    for key in keys:
        guid: UUID | None = known.get((key.kind, key.key))
        if guid is not None:
            return guid
    return None


async def remember(
    conn: Connection | Pool,
    organization_id: int,
    keys: list[ContactKey],
    guid: UUID,
    *,
    now: datetime,
) -> None:
    """Caches `guid` under every key not cached yet (a key already pointing elsewhere keeps
    its contact: the first match stays the match)."""
    await conn.execute(
        "INSERT INTO contacts (organization_id, key_kind, key, contact_guid, created_at, "
        "updated_at) SELECT $1, kind, key, $4, $5, $5 FROM unnest($2::text[], $3::text[]) "
        "AS k(kind, key) ON CONFLICT DO NOTHING",
        organization_id,
        [k.kind for k in keys],
        [k.key for k in keys],
        guid,
        now,
    )


async def forget(pool: Pool, organization_id: int, guid: UUID) -> None:
    """Dinero no longer knows this contact (deleted there): stop using it."""
    await pool.execute(
        "DELETE FROM contacts WHERE organization_id = $1 AND contact_guid = $2",
        organization_id,
        guid,
    )


async def sync(
    pool: Pool, session: DineroSession, *, now: datetime, max_age: timedelta = SYNC_MAX_AGE
) -> bool:
    """Brings the organisation's mirror up to date if it is older than `max_age`: every
    contact on first use, then those changed since the last listing. Answers whether it
    listed anything.

    Under a row lock on `contact_syncs`, like a token refresh: a worker that waited for the
    lock finds the mirror fresh and lists nothing. What is listed is written at the end, with
    the new sync point, or (a failed call) not at all. Nothing is written before the calls
    are done: a write to `contacts` locks the connection row against updates (its foreign
    key), and a call may need to renew the token, which updates that row.
    """
    organization_id = session.organization_id
    await pool.execute(
        "INSERT INTO contact_syncs (organization_id) VALUES ($1) ON CONFLICT DO NOTHING",
        organization_id,
    )
    async with pool.acquire() as conn, conn.transaction():
        synced_at: datetime | None = await conn.fetchval(
            "SELECT synced_at FROM contact_syncs WHERE organization_id = $1 FOR UPDATE",
            organization_id,
        )
        if synced_at is not None and now - synced_at < max_age:
            return False
        since = None if synced_at is None else synced_at - SYNC_OVERLAP
        entries: list[tuple[ContactKey, UUID]] = []
        page = 0
        while True:
            listed = await session.call(
                partial(
                    DineroClient.list_contacts,
                    org=organization_id,
                    changes_since=since,
                    page=page,
                    page_size=MAX_PAGE_SIZE,
                    fields=SYNC_FIELDS,
                )
            )
            entries += [(key, c.contact_guid) for c in listed.items for key in _keys_of(c)]
            if len(listed.items) < MAX_PAGE_SIZE:
                break
            page += 1
        await conn.execute(
            "INSERT INTO contacts (organization_id, key_kind, key, contact_guid, "
            "created_at, updated_at) SELECT $1, kind, key, guid, $5, $5 "
            "FROM unnest($2::text[], $3::text[], $4::uuid[]) AS k(kind, key, guid) "
            "ON CONFLICT DO NOTHING",
            organization_id,
            [key.kind for key, _ in entries],
            [key.key for key, _ in entries],
            [guid for _, guid in entries],
            now,
        )
        await conn.execute(
            "UPDATE contact_syncs SET synced_at = $2, updated_at = $2 WHERE organization_id = $1",
            organization_id,
            now,
        )
    return True


def _keys_of(contact: Contact) -> list[ContactKey]:
    keys = []
    if contact.vat_number and contact.vat_number.strip():
        keys.append(ContactKey("vat", normalize_vat(contact.vat_number, contact.country_key)))
    if contact.email and contact.email.strip():
        keys.append(ContactKey("email", contact.email.strip().lower()))
    return keys
