"""An order booked as a manual voucher (finansbilag) carrying the shop's own invoice, and a
refund or cancellation as a reversing voucher: exactly once, though Dinero's manual voucher
takes no client guid and can be neither listed nor searched.

The design (DINERO.md names the API's one way): the file first, then the voucher with that
file's `FileGuid`, so the file is the voucher's handle.

1. file: the PDF (the shop's `pdf_url` fetched by `gateway.pdf` under the poster's policy, its
   `pdf_base64`, or a receipt) is uploaded under a name derived from the document's external
   reference, and `file_guid`, `file_name` and the settlement account are written to the row
   before anything else happens. An upload whose answer was lost (`uncertain` at step 'new')
   first looks for that name in the organisation's recent files: found, it is ours. (Not
   found, it uploads again: at worst an unused file in the archive, never a second voucher.)
2. created: the voucher, with `FileGuid` and `ExternalReference`. After a lost answer
   (`uncertain` at step 'file') the file is looked up again: a voucher `Linked` to it whose
   external reference is ours is the one created, and is read rather than created again.
3. booked (mode `booked`), under the organisation's booking lock, with the voucher's
   `Timestamp`; a stale one (code 58) is read and the booking retried once; "already booked"
   after a lost booking answer is read back and done.

A reversing voucher waits for the order's voucher and goes to the same organisation; if that
voucher was left as a draft, so is the reversal (booking it would reverse what is not booked).

Happy path: three calls (upload, create, book). A PDF the gateway will not take (a private
address, too large, not a PDF, ...) fails the document with the reason, for the owner; a
PDF host that does not answer or answers 5xx is retried later, up to `PDF_ATTEMPTS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Final
from uuid import UUID

from gateway.dinero.errors import NotFound, TimestampOutdated, ValidationFailed
from gateway.dinero.files import ArchivedFile, FileStatus
from gateway.dinero.vouchers import ManualVoucher
from gateway.pdf import (
    PRODUCTION,
    FetchPolicy,
    PdfFile,
    PdfRefused,
    PdfUnavailable,
    decode_pdf_base64,
    fetch_pdf,
)
from tenants.dinero import drafts
from tenants.dinero.attempt import DineroAttempt
from tenants.dinero.drafts import VoucherPlan
from tenants.outbox import repository as outbox
from tenants.outbox.models import Document
from tenants.posting.attempt import CannotPost, Park, posting_settings
from tenants.posting.outcomes import Outcome, Result
from tenants.shops.settings import ShopSettings

PDF_TYPE: Final = "application/pdf"
# How many attempts in a row a PDF host may fail to deliver before the document fails.
PDF_ATTEMPTS: Final = 6
# How far back the file list is read for a file whose upload or voucher answer was lost.
# Those are looked for at the next attempt, seconds to an hour later; the margin covers
# Dinero's calendar (its time zone is not documented) and an outage of a few days.
FILE_LOOKBACK: Final = timedelta(days=7)
_PAGE_SIZE: Final = 1000


@dataclass(frozen=True)
class _Voucher:
    guid: UUID
    timestamp: str | None
    status: str | None
    number: int | None

    @property
    def booked(self) -> bool:
        return self.status is not None and self.status.lower() == "booked"

    @classmethod
    def read(cls, voucher: ManualVoucher) -> _Voucher:
        return cls(voucher.guid, voucher.timestamp, voucher.status, voucher.voucher_number)


class _FileNotReady(Exception):
    """Dinero does not know the file just uploaded yet (it may take a second)."""


def upload_name(document: Document) -> str:
    """The attachment's name in Dinero: fixed before the first upload, so a lost upload can
    be found by it; the document's external reference, unique to it (`external_reference`:
    the order's voucher `…-vou-<order>`, the ones after it `…-vou<seq>-<order>`)."""
    return f"{document.external_reference}.pdf"


def _owes_settlement(document: Document, parent: Document, shop: ShopSettings) -> bool:
    """A payment voucher (`payload.settlement`, made when a voucher-mode order is paid after
    its voucher was begun) moves the money from the receivable account to the deposit
    account, but only if the order's voucher was in fact balanced against the receivable:
    a worker that reached it after the payment arrived balanced it against the deposit
    account already. Other vouchers (reversals) are always owed."""
    if not document.payload.get("settlement"):
        return True
    # Judged by what the order's voucher was balanced against, not by today's receivable
    # setting (the owner may have changed it since): a deposit account means the money
    # was booked where it went already.
    deposits = {shop.deposit_account(method) for method in (*shop.payment_accounts, None)}
    return parent.settlement_account is not None and parent.settlement_account not in deposits


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


class VoucherAttempt(DineroAttempt):
    async def run(self) -> Result:
        doc = self.doc
        shop = await posting_settings(self.p.pool, doc.shop_id)
        parent = await self.parent("voucher") if doc.parent_id is not None else None
        if shop.connection_id is None or shop.organization_id is None:
            raise Park("The shop is not connected to Dinero")
        organization_id = self.organisation(shop.organization_id, parent)
        plan: VoucherPlan | None = None
        if self.doc.backend_id is None:  # still to be created: needs the lines and the PDF
            if parent is not None and not _owes_settlement(self.doc, parent, shop):
                await outbox.cancelled(
                    self.p.pool,
                    self.doc,
                    now=self.now,
                    message="The order's voucher was booked against the deposit account "
                    "already (the order was paid by then): no payment to move",
                )
                return Result(Outcome.CANCELLED)
            plan = await drafts.voucher_for(self.p.pool, self.doc, shop, now=self.now)
        self.open_session(shop, organization_id)
        if plan is None:
            voucher = self._stored()
        else:
            file_guid = await self._file(plan)
            if file_guid is None:
                return Result(Outcome.DEFERRED)
            try:
                voucher = await self._create(plan, file_guid)
            except _FileNotReady:
                message = "Dinero has not made the uploaded PDF usable yet"
                await self.retry_later(message, "file_not_ready", base=self.p.uncertain_base)
                return Result(Outcome.DEFERRED)
        parent_booked = parent is None or parent.backend_status == "Booked"
        if voucher.booked or self.doc.mode == "draft" or not parent_booked:
            return await self._posted(voucher)
        return await self._posted(await self._book(voucher))

    # -- step 1: the file ------------------------------------------------------------------

    async def _file(self, plan: VoucherPlan) -> str | None:
        """The uploaded file's guid; None when the PDF's host failed this time (deferred)."""
        doc = self.doc
        if doc.file_guid is not None:
            return doc.file_guid
        name = upload_name(doc)
        org = self.organization_id
        if doc.organization_id is None:
            await self.record(organization_id=org)
        found = await self._file_named(name) if self.doc.uncertain else None
        if found is None:
            pdf = await self._pdf(plan)
            if pdf is None:
                return None
            content = pdf.content
            found = await self.call(lambda c: c.upload_file(org, name, content, PDF_TYPE))
        await self.record(
            step="file",
            file_guid=found,
            file_name=name,
            settlement_account=plan.settlement_account,
            organization_id=org,
            uncertain=False,
        )
        return found

    async def _pdf(self, plan: VoucherPlan) -> PdfFile | None:
        policy: FetchPolicy = self.p.pdf_policy or PRODUCTION
        source = plan.pdf
        try:
            if source.url is not None:
                return await fetch_pdf(source.url, policy)
            if source.inline is not None:
                return decode_pdf_base64(source.inline, policy)
        except PdfRefused as exc:
            raise CannotPost(f"The invoice PDF was refused: {exc.reason}", "pdf") from None
        except PdfUnavailable as exc:
            if self.doc.failures + 1 >= PDF_ATTEMPTS:
                raise CannotPost(
                    f"The invoice PDF could not be fetched in {PDF_ATTEMPTS} attempts: "
                    f"{exc.reason}",
                    "pdf",
                ) from None
            await self.retry_later(f"The invoice PDF could not be fetched: {exc.reason}", "pdf")
            return None
        assert source.receipt is not None  # `PdfSource` holds exactly one
        return PdfFile("receipt.pdf", source.receipt)

    async def _file_named(self, name: str) -> str | None:
        """A file of that name uploaded lately and not yet attached: our lost upload."""
        for stored in await self._recent_files(used=False):
            if stored.name == name and stored.file_guid and not stored.linked:
                return stored.file_guid
        return None

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
        org = self.organization_id
        after = (self.now - FILE_LOOKBACK).date()
        return await self.call(
            lambda c: c.list_files(
                org,
                file_status=status,
                extensions=("pdf",),
                uploaded_after=after,
                page=page,
                page_size=_PAGE_SIZE,
            )
        )

    # -- step 2: the voucher ---------------------------------------------------------------

    def _stored(self) -> _Voucher:
        doc = self.doc
        assert doc.backend_id is not None
        return _Voucher(doc.backend_id, doc.backend_version, doc.backend_status, None)

    async def _create(self, plan: VoucherPlan, file_guid: str) -> _Voucher:
        doc = self.doc
        org = self.organization_id
        account = plan.settlement_account
        existing = await self._voucher_of_file(file_guid) if doc.uncertain else None
        found = None
        if existing is not None:
            found = _Voucher.read(existing)
            # The lost create was built from the order as it was then (perhaps unpaid, so
            # against the receivable account): the row says what the voucher does say.
            account = _settlement_account_of(existing, reversing=plan.voucher.reversing) or account
        if found is None:
            body = plan.voucher.create(
                file_guid=file_guid, external_reference=doc.external_reference
            )
            # Written ahead: from here on the voucher may exist in Dinero, whatever stops
            # this attempt (a lost answer, or our own database failing after Dinero
            # answered), so the next attempt looks for it through the file first.
            if not doc.uncertain:
                await self.record(uncertain=True)
            try:
                made = await self.call(lambda c: c.create_manual_voucher(org, body))
            except ValidationFailed as exc:
                await self.record(uncertain=False)  # refused: certainly not created
                # DINERO.md: a new file "may take a second to become usable".
                if any(name.lower() == "fileguid" for name in exc.field_errors):
                    raise _FileNotReady() from exc
                raise
            found = _Voucher.read(made)
        await self.record(
            step="created",
            backend_id=found.guid,
            backend_version=found.timestamp,
            backend_status=found.status,
            settlement_account=account,
            uncertain=False,
        )
        return found

    async def _voucher_of_file(self, file_guid: str) -> ManualVoucher | None:
        """The voucher a lost create made: linked to our file, with our external reference."""
        for stored in await self._recent_files(used=True):
            if stored.file_guid != file_guid:
                continue
            for link in stored.linked:
                try:
                    voucher = await self._get(link.voucher_guid)
                except NotFound:
                    continue
                if voucher.external_reference in (None, self.doc.external_reference):
                    return voucher
        return None

    # -- step 3: booking -------------------------------------------------------------------

    async def _book(self, current: _Voucher) -> _Voucher:
        async with self.booking():
            try:
                return await self._book_call(current)
            except TimestampOutdated:
                fresh = await self._read(current.guid)
                return fresh if fresh.booked else await self._book_call(fresh)
            except ValidationFailed:
                fresh = await self._read(current.guid)  # booked by an answer we lost?
                if fresh.booked:
                    return fresh
                raise

    async def _book_call(self, current: _Voucher) -> _Voucher:
        if not current.timestamp:
            current = await self._read(current.guid)
            if current.booked:
                return current
        org, guid, stamp = self.organization_id, current.guid, current.timestamp or ""
        return _Voucher.read(await self.call(lambda c: c.book_manual_voucher(org, guid, stamp)))

    async def _read(self, guid: UUID) -> _Voucher:
        return _Voucher.read(await self._get(guid))

    async def _get(self, guid: UUID) -> ManualVoucher:
        org = self.organization_id
        return await self.call(lambda c: c.get_manual_voucher(org, guid))

    async def _posted(self, voucher: _Voucher) -> Result:
        return await self.posted(
            step="booked" if voucher.booked else "created",
            number=voucher.number,
            status=voucher.status,
            version=voucher.timestamp,
        )
