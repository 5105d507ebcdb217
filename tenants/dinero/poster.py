"""Dinero as posting's backend: the worker's resources, the attempt each kind of document
takes (posting's steps, through `books.DineroBooks`), and the call budget the sweeper
asks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from gateway.ratelimit import BudgetKey
from tenants.dinero.attempt import Resources, session_for
from tenants.dinero.books import SYSTEM, DineroBooks
from tenants.outbox.models import Document
from tenants.posting.attempt import Attempt, Park
from tenants.posting.payments import PaymentAttempt
from tenants.posting.sales import SalesAttempt
from tenants.posting.vouchers import VoucherAttempt
from tenants.shops.settings import ShopSettings

NAME: Final = "dinero"  # the backend's name on a shop's and a document's row (`backend`)

# A new customer's invoice takes three calls (contact, invoice, booking); a returning one's
# two. Counting three starts no more documents than the budget can finish; slots left over
# are seen free by the next sweep, two seconds later.
CALLS_PER_DOCUMENT: Final = 3

NOT_CONNECTED: Final = "The shop is not connected to Dinero"


@dataclass(frozen=True)
class Poster(Resources):
    """Posting's `Backend` for Dinero: built once per worker (`workers.backends`)."""

    @property
    def system(self) -> str:
        return SYSTEM

    def attempt(self, document: Document, now: datetime) -> Attempt:
        match document.kind:
            case "invoice" | "credit_note":
                return SalesAttempt(self, document, now)
            case "payment":
                return PaymentAttempt(self, document, now)
            case "voucher":
                return VoucherAttempt(self, document, now)
        raise KeyError(document.kind)

    def organisation(self, shop: ShopSettings) -> int:
        if shop.connection_id is None or shop.organization_id is None:
            raise Park(NOT_CONNECTED)
        return shop.organization_id

    def books(self, shop: ShopSettings, organization_id: int, now: datetime) -> DineroBooks:
        if shop.connection_id is None:
            raise Park(NOT_CONNECTED)
        session = session_for(
            self, connection_id=shop.connection_id, organization_id=organization_id, now=now
        )
        return DineroBooks(self, session, now)

    async def room(self, organization_id: int, *, within: float) -> int:
        free = await self.budget.free_slots(
            BudgetKey(self.client_id, organization_id), within=within
        )
        return free // CALLS_PER_DOCUMENT
