"""An order booked as a manual voucher carrying the shop's own invoice."""

from __future__ import annotations

from typing import Final

from tenants.attempt import Attempt, Result
from tenants.drafts import CannotPost

VOUCHERS_NOT_YET: Final = "Voucher mode is not available yet"


class VoucherAttempt(Attempt):
    async def run(self) -> Result:
        raise CannotPost(VOUCHERS_NOT_YET, "not_available")
