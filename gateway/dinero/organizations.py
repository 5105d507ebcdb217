"""Organisations and their setup as the gateway reads them: the organisations a token reaches,
an organisation's chart of accounts (entry and deposit accounts) and its VAT types."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Self, TypeVar

from gateway.dinero.jsonmoney import ObjectReader
from gateway.dinero.pages import list_of
from gateway.dinero.transport import Params, Transport, api_path

ORGANIZATION_FIELDS: Final = ("Id", "Name", "IsPro")
ENTRY_ACCOUNT_FIELDS: Final = ("AccountNumber", "Name", "VatCode")
DEPOSIT_ACCOUNT_FIELDS: Final = ("AccountNumber", "Name", "IsDefault", "IsHidden")

T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class Organization:
    id: int
    name: str | None
    is_pro: bool | None

    @classmethod
    def from_json(cls, data: object) -> Self:
        f = ObjectReader(data)
        return cls(id=f.integer("Id"), name=f.text_or_none("Name"), is_pro=f.flag_or_none("IsPro"))


@dataclass(frozen=True, kw_only=True)
class EntryAccount:
    account_number: int
    name: str | None
    vat_code: str | None

    @classmethod
    def from_json(cls, data: object) -> Self:
        f = ObjectReader(data)
        return cls(
            account_number=f.integer("AccountNumber"),
            name=f.text_or_none("Name"),
            vat_code=f.text_or_none("VatCode"),
        )


@dataclass(frozen=True, kw_only=True)
class DepositAccount:
    account_number: int
    name: str | None
    is_default: bool | None
    is_hidden: bool | None

    @classmethod
    def from_json(cls, data: object) -> Self:
        f = ObjectReader(data)
        return cls(
            account_number=f.integer("AccountNumber"),
            name=f.text_or_none("Name"),
            is_default=f.flag_or_none("IsDefault"),
            is_hidden=f.flag_or_none("IsHidden"),
        )


@dataclass(frozen=True, kw_only=True)
class VatType:
    vat_code: str | None
    name: str | None
    vat_rate: Decimal

    @classmethod
    def from_json(cls, data: object) -> Self:
        f = ObjectReader(data)
        return cls(
            vat_code=f.text_or_none("VatCode"),
            name=f.text_or_none("Name"),
            vat_rate=f.decimal("VatRate"),
        )


class OrganizationCalls(Transport):
    async def organizations(self) -> list[Organization]:
        """Every organisation the token's user can reach; also a cheap "token alive" probe."""
        return await self._get_list(
            "/v1/organizations", Organization.from_json, ORGANIZATION_FIELDS
        )

    async def entry_accounts(self, org: int) -> list[EntryAccount]:
        path = api_path(org, "accounts", "entry")
        return await self._get_list(path, EntryAccount.from_json, ENTRY_ACCOUNT_FIELDS)

    async def deposit_accounts(self, org: int) -> list[DepositAccount]:
        path = api_path(org, "accounts", "deposit")
        return await self._get_list(path, DepositAccount.from_json, DEPOSIT_ACCOUNT_FIELDS)

    async def vat_types(self, org: int) -> list[VatType]:
        return await self._get_list(api_path(org, "vatTypes"), VatType.from_json)

    async def _get_list(
        self, path: str, parse: Callable[[object], T], fields: Sequence[str] = ()
    ) -> list[T]:
        """A plain JSON array, narrowed to `fields` when they are given."""
        params: Params | None = {"fields": ",".join(fields)} if fields else None
        return await self._call("GET", path, list_of(parse), params=params)
