"""An order booked as a manual voucher (finansbilag) carrying the shop's own invoice, and a
refund or cancellation as a reversing voucher: exactly once, in whatever accounting system
(`Books`, `tenants.posting.backend`), though a voucher may take no client id (Dinero's
does not, and can be neither listed nor searched).

The file first, then the voucher attached to it, so the file is the voucher's handle:

1. file: the PDF (the shop's `pdf_url` fetched by `gateway.pdf` under the backend's policy,
   its `pdf_base64`, or a receipt) is uploaded under a name derived from the document's
   external reference, and `file_guid`, `file_name` and the settlement account are written
   to the row before anything else happens. An upload whose answer was lost (`uncertain` at
   step 'new') first looks for that name among the recent files (`Books.find_attachment`):
   found, it is ours. (Not found, it uploads again: at worst an unused file in the
   archive, never a second voucher.)
2. created: the voucher, with the file and our reference. After a lost answer (`uncertain`
   at step 'file') the file is looked up again: a voucher attached to it whose reference is
   ours is the one created, and is read rather than created again
   (`Books.voucher_of_attachment`).
3. booked (mode `booked`), under the organisation's booking lock, with the voucher's
   version; a stale one is read and the booking retried once; a refusal after a lost
   booking answer is read back, and booked it is done (`tenants.posting.sales.book`).

A reversing voucher waits for the order's voucher and goes to the same organisation; if that
voucher was left as a draft, so is the reversal (booking it would reverse what is not booked).

Happy path: three calls (upload, create, book). A PDF the gateway will not take (a private
address, too large, not a PDF, ...) fails the document with the reason, for the owner; a
PDF host that does not answer or answers 5xx is retried later, up to `PDF_ATTEMPTS`.
"""

from __future__ import annotations

from typing import Final

from gateway.pdf import (
    PRODUCTION,
    FetchPolicy,
    PdfFile,
    PdfRefused,
    PdfUnavailable,
    decode_pdf_base64,
    fetch_pdf,
)
from tenants.outbox import repository as outbox
from tenants.outbox.models import Document
from tenants.posting.attempt import CannotPost, posting_settings
from tenants.posting.backend import (
    AttachmentNotReady,
    BooksAttempt,
    InBooks,
    Refused,
    VoucherPlan,
)
from tenants.posting.outcomes import Outcome, Result
from tenants.posting.sales import book
from tenants.shops.settings import ShopSettings

# How many attempts in a row a PDF host may fail to deliver before the document fails.
PDF_ATTEMPTS: Final = 6


def upload_name(document: Document) -> str:
    """The attachment's name in the books: fixed before the first upload, so a lost upload
    can be found by it; the document's external reference, unique to it
    (`external_reference`: the order's voucher `…-vou-<order>`, the ones after it
    `…-vou<seq>-<order>`)."""
    return f"{document.external_reference}.pdf"


def owes_settlement(document: Document, parent: Document, shop: ShopSettings) -> bool:
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


class VoucherAttempt(BooksAttempt):
    async def run(self) -> Result:
        doc = self.doc
        shop = await posting_settings(self.context.pool, doc.shop_id)
        parent = await self.parent("voucher") if doc.parent_id is not None else None
        organization_id = self.organisation(self.backend.organisation(shop), parent)
        self._books = self.backend.books(shop, organization_id, self.now)
        plan: VoucherPlan | None = None
        if self.doc.backend_id is None:  # still to be created: needs the lines and the PDF
            if parent is not None and not owes_settlement(self.doc, parent, shop):
                await outbox.cancelled(
                    self.context.pool,
                    self.doc,
                    now=self.now,
                    message="The order's voucher was booked against the deposit account "
                    "already (the order was paid by then): no payment to move",
                )
                return Result(Outcome.CANCELLED)
            plan = await self.books.voucher_plan(self.doc, shop)
        if plan is None:
            voucher = self._stored()
        else:
            file_id = await self._file(plan)
            if file_id is None:
                return Result(Outcome.DEFERRED)
            try:
                voucher = await self._create(plan, file_id)
            except AttachmentNotReady:
                message = f"{self.books.system} has not made the uploaded PDF usable yet"
                await self.retry_later(message, "file_not_ready", base=self.backend.uncertain_base)
                return Result(Outcome.DEFERRED)
        parent_booked = parent is None or self.books.says_booked(parent.backend_status, "voucher")
        if voucher.booked or self.doc.mode == "draft" or not parent_booked:
            return await self._posted(voucher)
        return await self._posted(await book(self.books, "voucher", voucher))

    # -- step 1: the file ------------------------------------------------------------------

    async def _file(self, plan: VoucherPlan) -> str | None:
        """The uploaded file's id; None when the PDF's host failed this time (deferred)."""
        doc = self.doc
        if doc.file_guid is not None:
            return doc.file_guid
        name = upload_name(doc)
        org = self.books.organization_id
        if doc.organization_id is None:
            await self.record(organization_id=org)
        found = await self.books.find_attachment(name) if self.doc.uncertain else None
        if found is None:
            pdf = await self._pdf(plan)
            if pdf is None:
                return None
            found = await self.books.upload_attachment(name, pdf.content)
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
        policy: FetchPolicy = self.backend.pdf_policy or PRODUCTION
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

    # -- step 2: the voucher ---------------------------------------------------------------

    def _stored(self) -> InBooks:
        doc = self.doc
        assert doc.backend_id is not None
        booked = self.books.says_booked(doc.backend_status, "voucher")
        return InBooks(doc.backend_id, doc.backend_version, doc.backend_status, None, None, booked)

    async def _create(self, plan: VoucherPlan, file_id: str) -> InBooks:
        doc = self.doc
        account = plan.settlement_account
        found = None
        if doc.uncertain:
            existing = await self.books.voucher_of_attachment(
                file_id, doc.external_reference, reversing=plan.voucher.reversing
            )
            if existing is not None:
                found, held = existing
                # The lost create was built from the order as it was then (perhaps unpaid,
                # so against the receivable account): the row says what the voucher says.
                account = held or account
        if found is None:
            # Written ahead: from here on the voucher may exist in the books, whatever stops
            # this attempt (a lost answer, or our own database failing after the books
            # answered), so the next attempt looks for it through the file first.
            if not doc.uncertain:
                await self.record(uncertain=True)
            try:
                found = await self.books.create_voucher(plan, file_id, doc.external_reference)
            except (Refused, AttachmentNotReady):
                await self.record(uncertain=False)  # refused: certainly not created
                raise
        await self.record(
            step="created",
            backend_id=found.id,
            backend_version=found.version,
            backend_status=found.status,
            settlement_account=account,
            uncertain=False,
        )
        return found

    async def _posted(self, voucher: InBooks) -> Result:
        return await self.posted(
            step="booked" if voucher.booked else "created",
            number=voucher.number,
            status=voucher.status,
            version=voucher.version,
        )
