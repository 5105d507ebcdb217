"""Registering a customer's payment on its booked invoice, or a refund's on its credit note."""

from __future__ import annotations

from typing import Final

from tenants.attempt import Attempt, Result
from tenants.drafts import CannotPost

PAYMENTS_NOT_YET: Final = "Registering payments is not available yet"


class PaymentAttempt(Attempt):
    async def run(self) -> Result:
        raise CannotPost(PAYMENTS_NOT_YET, "not_available")
