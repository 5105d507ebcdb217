"""A manual voucher (finansbilag) in Dinero, as posting's voucher steps
(`tenants.posting.vouchers`) ask for it: Dinero's calls behind `Books.find_attachment`,
`upload_attachment`, `voucher_of_attachment`, `create_voucher`, and reading and booking a
voucher.

Dinero's manual voucher takes no client guid and can be neither listed nor searched
(DINERO.md names the API's one way): the file is the voucher's handle. A lost upload is
found by its name among the organisation's recent files that are attached to nothing; a
lost create by the file, `Linked` to the voucher it made. A new file "may take a second to
become usable": a create refused over its `FileGuid` is `AttachmentNotReady`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final
from uuid import UUID

from gateway.dinero.errors import NotFound, TimestampOutdated, ValidationFailed
from gateway.dinero.files import ArchivedFile, FileStatus
from gateway.dinero.vouchers import ManualVoucher
from tenants.dinero import bodies
from tenants.dinero.attempt import code_of, refusal
from tenants.dinero.session import DineroSession
from tenants.posting.backend import (
    AttachmentNotReady,
    InBooks,
    Refused,
    StaleVersion,
    VoucherPlan,
)

PDF_TYPE: Final = "application/pdf"
# How far back the file list is read for a file whose upload or voucher answer was lost.
# Those are looked for at the next attempt, seconds to an hour later; the margin covers
# Dinero's calendar (its time zone is not documented) and an outage of a few days.
FILE_LOOKBACK: Final = timedelta(days=7)
_PAGE_SIZE: Final = 1000


def in_books(voucher: ManualVoucher) -> InBooks:
    status = voucher.status
    booked = status is not None and status.lower() == "booked"
    return InBooks(voucher.guid, voucher.timestamp, status, voucher.voucher_number, None, booked)


def _settlement_account_of(voucher: ManualVoucher, *, reversing: bool) -> int | None:
    """The account a voucher we made is balanced against, as Dinero holds it: the account
    every line touches; for a voucher whose lines all share both accounts, its money side
    (`AccountNumber` of a sale or a payment, `BalancingAccountNumber` of a reversal)."""
    common: set[int | None] | None = None
    for line in voucher.lines:
        pair = {line.account_number, line.balancing_account_number}
        common = pair if common is None else common & pair
    if common is not None and len(common) == 1:
        return common.pop()  # the one account every line touches
    if voucher.lines:  # one line (or all on one sales account): its money side
        line = voucher.lines[0]
        return line.balancing_account_number if reversing else line.account_number
    return None


class DineroVouchers:
    """One attempt's voucher calls to one organisation."""

    def __init__(self, session: DineroSession, now: datetime) -> None:
        self.session = session
        self._now = now

    @property
    def _org(self) -> int:
        return self.session.organization_id

    async def find_attachment(self, name: str) -> str | None:
        """A file of that name uploaded lately and not yet attached: our lost upload."""
        for stored in await self._recent_files(used=False):
            if stored.name == name and stored.file_guid and not stored.linked:
                return stored.file_guid
        return None

    async def upload(self, name: str, content: bytes) -> str:
        org = self._org
        return await self.session.call(lambda c: c.upload_file(org, name, content, PDF_TYPE))

    async def _recent_files(self, *, used: bool) -> list[ArchivedFile]:
        status: FileStatus = "Used" if used else "All"
        found: list[ArchivedFile] = []
        page = 0
        while True:
            batch = await self._files_page(status, page)
            found += batch
            if len(batch) < _PAGE_SIZE:
                return found
            page += 1

    async def _files_page(self, status: FileStatus, page: int) -> list[ArchivedFile]:
        org = self._org
        after = (self._now - FILE_LOOKBACK).date()
        return await self.session.call(
            lambda c: c.list_files(
                org,
                file_status=status,
                extensions=("pdf",),
                uploaded_after=after,
                page=page,
                page_size=_PAGE_SIZE,
            )
        )

    async def of_attachment(
        self, file_guid: str, reference: str, *, reversing: bool
    ) -> tuple[InBooks, int | None] | None:
        """The voucher a lost create made: linked to our file, with our external reference;
        and the account it is balanced against, as Dinero holds it."""
        for stored in await self._recent_files(used=True):
            if stored.file_guid != file_guid:
                continue
            for link in stored.linked:
                try:
                    voucher = await self._get(link.voucher_guid)
                except NotFound:
                    continue
                if voucher.external_reference in (None, reference):
                    return in_books(voucher), _settlement_account_of(voucher, reversing=reversing)
        return None

    async def create(self, plan: VoucherPlan, file_guid: str, reference: str) -> InBooks:
        org = self._org
        body = bodies.manual_voucher(
            plan.voucher, file_guid=file_guid, external_reference=reference
        )
        try:
            made = await self.session.call(lambda c: c.create_manual_voucher(org, body))
        except ValidationFailed as exc:
            # DINERO.md: a new file "may take a second to become usable".
            if any(name.lower() == "fileguid" for name in exc.field_errors):
                raise AttachmentNotReady() from exc
            raise Refused(refusal(exc), code_of(exc)) from exc
        return in_books(made)

    async def read(self, guid: UUID) -> InBooks:
        return in_books(await self._get(guid))

    async def _get(self, guid: UUID) -> ManualVoucher:
        org = self._org
        return await self.session.call(lambda c: c.get_manual_voucher(org, guid))

    async def book(self, guid: UUID, version: str) -> InBooks:
        org = self._org
        try:
            booked = await self.session.call(lambda c: c.book_manual_voucher(org, guid, version))
        except TimestampOutdated as exc:
            raise StaleVersion(str(exc), code_of(exc)) from exc
        except ValidationFailed as exc:
            raise Refused(refusal(exc), code_of(exc)) from exc
        return in_books(booked)
