"""Dinero's answers in posting's words, against the live sandbox: a read by `Guid` is "find
again" (None when Dinero does not know it), a repeated `Guid` is `Exists`, a stale
`Timestamp` (code 58) is `StaleVersion`, another 400 is `Refused` in Dinero's words."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from gateway.db import Pool
from gateway.dinero.oauth import VismaConnect
from gateway.vault import Vault
from tenants.dinero.poster import Poster
from tenants.outbox import repository as outbox
from tenants.posting.attempt import posting_settings
from tenants.posting.backend import Exists, InBooks, Refused, StaleVersion
from tests.live import LiveSandbox
from tests.tenants.dinero.connections.test_connections import connect
from tests.tenants.posting.test_posting import ORG, invoice_for_order

pytestmark = pytest.mark.usefixtures("no_faults_left")


async def test_dineros_answers_are_posting_words(
    pool: Pool, vault: Vault, visma: VismaConnect, sandbox_server: LiveSandbox, poster: Poster
) -> None:
    shop, _ = await connect(pool, vault, sandbox_server, visma)
    document = await outbox.get(pool, shop.id, await invoice_for_order(pool, shop.id))
    assert document is not None
    settings = await posting_settings(pool, shop.id)
    books = poster.books(settings, poster.organisation(settings), datetime.now(UTC))
    assert (books.organization_id, books.system) == (ORG, "Dinero")
    order, draft = await books.draft(document, settings)
    contact = await books.contact(order.customer)

    async def create() -> InBooks:
        return await books.create(
            "invoice",
            draft,
            client_id=document.client_guid,
            reference=document.external_reference,
            contact=contact,
            credits=None,
        )

    assert await books.find("invoice", document.client_guid) is None
    made = await create()
    assert (made.id, made.status, made.booked) == (document.client_guid, "Draft", False)
    with pytest.raises(Exists):
        await create()
    found = await books.find("invoice", document.client_guid)
    assert found is not None and (found.id, found.booked) == (document.client_guid, False)
    assert books.says_booked(found.status, "invoice") is False

    stale = "0x00000000DEADBEEF"
    with pytest.raises(StaleVersion) as outdated:
        await books.book("invoice", found.id, stale)
    assert outdated.value.code == "58"
    assert found.version is not None
    booked = await books.book("invoice", found.id, found.version)
    assert booked.booked and booked.number == 1
    assert books.says_booked(booked.status, "invoice")

    with pytest.raises(Refused) as refused:  # a contact Dinero does not know
        await books.create(
            "invoice",
            draft,
            client_id=uuid4(),
            reference="another",
            contact=uuid4(),
            credits=None,
        )
    assert refused.value.message.startswith("Dinero refused it: ")
    assert refused.value.names_contact
