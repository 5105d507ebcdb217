"""Dinero contacts: finding, listing, reading and creating them, and a contact as read."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Final, Self
from uuid import UUID

from gateway.dinero.jsonmoney import ObjectReader
from gateway.dinero.models import ContactCreate
from gateway.dinero.pages import MAX_PAGE_SIZE, Page, list_params, parse_page
from gateway.dinero.query import eq, query_filter
from gateway.dinero.transport import Transport, api_path

CONTACT_FIELDS: Final = (
    "ContactGuid",
    "Name",
    "ExternalReference",
    "Email",
    "VatNumber",
    "EanNumber",
    "IsPerson",
    "CountryKey",
    "Street",
    "ZipCode",
    "City",
    "Phone",
)


@dataclass(frozen=True, kw_only=True)
class Contact:
    """A contact as listed or read; which optional properties are present depends on
    the `fields` asked for."""

    contact_guid: UUID
    name: str | None = None
    external_reference: str | None = None
    email: str | None = None
    vat_number: str | None = None
    ean_number: str | None = None
    is_person: bool | None = None
    country_key: str | None = None
    street: str | None = None
    zip_code: str | None = None
    city: str | None = None
    phone: str | None = None

    @classmethod
    def from_json(cls, data: object) -> Self:
        f = ObjectReader(data)
        return cls(
            contact_guid=f.uuid("ContactGuid"),
            name=f.text_or_none("Name"),
            external_reference=f.text_or_none("ExternalReference"),
            email=f.text_or_none("Email"),
            vat_number=f.text_or_none("VatNumber"),
            ean_number=f.text_or_none("EanNumber"),
            is_person=f.flag_or_none("IsPerson"),
            country_key=f.text_or_none("CountryKey"),
            street=f.text_or_none("Street"),
            zip_code=f.text_or_none("ZipCode"),
            city=f.text_or_none("City"),
            phone=f.text_or_none("Phone"),
        )


class ContactCalls(Transport):
    async def find_contacts(
        self,
        org: int,
        *,
        vat_number: str | None = None,
        email: str | None = None,
        external_reference: str | None = None,
    ) -> list[Contact]:
        """Contacts equal on every key given (Dinero compares case-insensitively)."""
        keys = {"VatNumber": vat_number, "Email": email, "ExternalReference": external_reference}
        conditions = [eq(field, value) for field, value in keys.items() if value is not None]
        if not conditions:
            raise ValueError("find_contacts needs at least one key")
        page = await self.list_contacts(org, query_filter=query_filter(*conditions), page_size=100)
        return list(page.items)

    async def list_contacts(
        self,
        org: int,
        *,
        query_filter: str | None = None,
        changes_since: dt.datetime | None = None,
        page: int = 0,
        page_size: int = MAX_PAGE_SIZE,
        fields: Sequence[str] = CONTACT_FIELDS,
    ) -> Page[Contact]:
        params = list_params(
            page=page,
            page_size=page_size,
            fields=fields,
            query_filter=query_filter,
            changes_since=changes_since,
        )
        parse = partial(parse_page, parse=Contact.from_json)
        return await self._call("GET", api_path(org, "contacts"), parse, params=params)

    async def get_contact(self, org: int, guid: UUID) -> Contact:
        return await self._call("GET", api_path(org, "contacts", guid), Contact.from_json)

    async def create_contact(self, org: int, contact: ContactCreate) -> UUID:
        path = api_path(org, "contacts")
        return await self._call("POST", path, _created_guid, body=contact.to_json())


def _created_guid(data: object) -> UUID:
    """Reads the single guid a create answers with (`{"ContactGuid": ...}`)."""
    return ObjectReader(data).uuid("ContactGuid")
