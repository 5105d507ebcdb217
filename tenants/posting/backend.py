"""The accounting-system boundary: what posting asks of the system documents go to.

Posting owns the outbox's side of an attempt and the steps a kind of document takes (for
invoices and credit notes, `tenants.posting.sales`: contact, create, find again after a lost
answer, book). A backend owns everything about its system, behind these operations: how a
document is created, read and booked there, what its ids, versions and statuses are, its
call budget, and what its failures mean (`Books.classify`, in `tenants.posting.attempt`'s
words). Dinero is the first (`tenants.dinero.poster.Poster`, `tenants.dinero.books`); the
workers find a document's backend by name (`Document.backend`) in their registry
(`workers.backends`).

The words a backend answers in, where a step reacts to them:

- `InBooks`: what the books say of a document (id, version, status, number, total);
- `StaleVersion`: the version sent with a booking is stale (the document changed in the
  books since it was read): read afresh once, and again stale it is a counted failure;
- `Refused`: the books refused the request (a validation error), in their words, for the
  owner; a booking refused may have gone through in an answer we lost, so it is read back;
- `Exists`: a create refused because our id exists already: a lost answer's create went
  through, so it is read instead.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Literal, Protocol
from uuid import UUID

from gateway.accounting import DocumentDraft, VoucherDraft
from gateway.orders import Customer, Order
from gateway.pdf import FetchPolicy
from tenants.outbox.models import Document
from tenants.posting.attempt import Attempt, CannotPost, Context, RetryLater
from tenants.shops.settings import ShopSettings

SalesKind = Literal["invoice", "credit_note"]
Kind = Literal["invoice", "credit_note", "voucher"]


@dataclass(frozen=True)
class InBooks:
    """What the books say of a document: the backend's id for it, its version (sent back to
    book or pay it), status and number, its total incl. VAT when the answer carried it, and
    whether it is booked (a draft is not)."""

    id: UUID
    version: str | None
    status: str | None
    number: int | None
    total: Decimal | None
    booked: bool


class StaleVersion(RetryLater):
    """The version sent was stale: the document changed in the books since it was read."""


class Refused(CannotPost):
    """The books refused the request; `message` is theirs, for the owner. `names_contact`:
    the refusal is about the contact, which the books may no longer know."""

    def __init__(self, message: str, code: str, *, names_contact: bool = False) -> None:
        super().__init__(message, code)
        self.names_contact = names_contact


class AttachmentNotReady(Exception):
    """The books do not know a file just uploaded yet (it may take a second)."""


class Exists(Exception):
    """A create the books refused because a document with our id is there already."""


@dataclass(frozen=True)
class PdfSource:
    """Where a voucher's attachment comes from: the shop's PDF by URL or inline, or the
    receipt the gateway rendered (exactly one)."""

    url: str | None = None
    inline: str | None = field(default=None, repr=False)  # base64
    receipt: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True)
class VoucherPlan:
    """A voucher document as it will go to the books: the order, its lines and its PDF."""

    order: Order
    voucher: VoucherDraft
    pdf: PdfSource

    @property
    def settlement_account(self) -> int:
        return self.voucher.settlement_account


@dataclass(frozen=True)
class Payment:
    """A payment to register on a booked invoice or credit note: `amount` in the document's
    `currency`, onto the deposit `account`, under our `reference` (how it is found again)."""

    amount: Decimal
    currency: str
    account: int
    description: str
    paid_on: date
    reference: str


@dataclass(frozen=True)
class PaymentInBooks:
    """A payment the books hold: their id for it, and the account it went to when known."""

    id: UUID
    account: int | None = None
    version: str | None = None  # the parent's version after it, when the answer said


class Books(Protocol):
    """One organisation's books, as one attempt speaks to them (each call takes a slot of
    the backend's call budget)."""

    @property
    def organization_id(self) -> int: ...
    @property
    def system(self) -> str:
        """The accounting system's name, as the owner's messages say it ("Dinero")."""
        ...

    def says_booked(self, status: str | None, kind: Kind) -> bool:
        """Whether a status the books answered for a document of that kind (stored as
        `backend_status`) is booked."""
        ...

    async def draft(self, document: Document, shop: ShopSettings) -> tuple[Order, DocumentDraft]:
        """The order and what the invoice or credit note says, by the accounting rules, as
        the shop's settings are now."""
        ...

    async def contact(self, customer: Customer) -> UUID:
        """The customer's contact in these books, created if there is none."""
        ...

    async def forget_contact(self, contact: UUID) -> None:
        """The books no longer know this contact: find or make it afresh next time."""
        ...

    async def create(
        self,
        kind: SalesKind,
        draft: DocumentDraft,
        *,
        client_id: UUID,
        reference: str,
        contact: UUID,
        credits: UUID | None,
    ) -> InBooks:
        """Creates the document (a draft) with our id; raises `Exists` or `Refused`."""
        ...

    async def read(self, kind: Kind, backend_id: UUID) -> InBooks:
        """The document as the books have it now; raises when they do not have it."""
        ...

    async def find(self, kind: Kind, backend_id: UUID) -> InBooks | None:
        """The document, or None when the books do not know it: "find again" after a lost
        answer."""
        ...

    async def book(self, kind: Kind, backend_id: UUID, version: str) -> InBooks:
        """Books the draft at `version`; raises `StaleVersion` or `Refused`."""
        ...

    async def delete_draft(self, backend_id: UUID, version: str) -> None:
        """Deletes a draft invoice; raises `Refused` (perhaps deleted already)."""
        ...

    async def listed(self, kind: SalesKind, reference: str) -> list[UUID]:
        """The ids of the documents listed under our reference (deleted drafts are not)."""
        ...

    async def voucher_plan(self, document: Document, shop: ShopSettings) -> VoucherPlan:
        """The voucher's lines, the account its money side goes to, and its PDF."""
        ...

    async def find_attachment(self, name: str) -> str | None:
        """A file of that name uploaded lately and attached to nothing: a lost upload's."""
        ...

    async def upload_attachment(self, name: str, content: bytes) -> str:
        """Uploads the voucher's PDF; its id in the books."""
        ...

    async def voucher_of_attachment(
        self, attachment: str, reference: str, *, reversing: bool
    ) -> tuple[InBooks, int | None] | None:
        """The voucher a lost create made (attached to our file, with our reference), and
        the account its money side went to as the books hold it."""
        ...

    async def create_voucher(self, plan: VoucherPlan, attachment: str, reference: str) -> InBooks:
        """Creates the voucher with its attachment; raises `Refused` or
        `AttachmentNotReady`."""
        ...

    async def find_payment(self, parent: Document, reference: str) -> PaymentInBooks | None:
        """Our payment among the parent's, by its reference: "find again" for a payment."""
        ...

    async def payable_version(self, kind: SalesKind, backend_id: UUID) -> str | None:
        """The document's current version, or None when it is a draft (it takes no
        payment)."""
        ...

    async def register_payment(
        self, parent: Document, payment: Payment, version: str
    ) -> PaymentInBooks:
        """Registers the payment on the parent at `version`; raises `StaleVersion` or
        `Refused`."""
        ...

    def booking(self) -> AbstractAsyncContextManager[None]:
        """The organisation's booking lock, so numbers are taken one at a time; a lock busy
        too long defers the attempt."""
        ...

    async def classify(self, exc: Exception) -> Exception:
        """The backend's own failure in `tenants.posting.attempt`'s words."""
        ...


class Posting(Context, Protocol):
    """What one attempt at a document needs of the worker (`post_document`): a backend, or
    the worker's registry of them (`tenants.posting.registry.Backends`)."""

    @property
    def worker_id(self) -> str: ...
    @property
    def lease_for(self) -> timedelta: ...

    def attempt(self, document: Document, now: datetime) -> Attempt:
        """The attempt made at the document: its backend's, for its kind."""
        ...


class Backend(Posting, Protocol):
    """One worker's way into an accounting system: the attempt a kind of document takes,
    the organisation a shop books into and its books, and its call budget."""

    @property
    def system(self) -> str:
        """The accounting system's name, as the owner's messages say it ("Dinero")."""
        ...

    @property
    def uncertain_base(self) -> timedelta:
        """The wait before looking again after a lost answer."""
        ...

    @property
    def pdf_policy(self) -> FetchPolicy | None:
        """Where a voucher's PDF may be fetched from; None: the production policy."""
        ...

    def organisation(self, shop: ShopSettings) -> int:
        """The organisation the shop books into; raises `Park` when it is not connected."""
        ...

    def books(self, shop: ShopSettings, organization_id: int, now: datetime) -> Books:
        """The organisation's books, for one attempt."""
        ...

    async def room(self, organization_id: int, *, within: float) -> int:
        """How many documents the organisation's call budget can start on within the next
        `within` seconds."""
        ...


class BooksAttempt(Attempt):
    """An attempt that works on one organisation's books: its `run` opens them (`_books`)
    once it knows the shop and the organisation; from then on the books say what their
    failures mean."""

    def __init__(self, backend: Backend, document: Document, now: datetime) -> None:
        super().__init__(backend, document, now)
        self.backend = backend
        self._books: Books | None = None

    @property
    def books(self) -> Books:
        assert self._books is not None
        return self._books

    async def classify(self, exc: Exception) -> Exception:
        return exc if self._books is None else await self._books.classify(exc)
