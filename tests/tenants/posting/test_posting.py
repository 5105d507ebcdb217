"""Posting against the live sandbox over real HTTP: each outcome, each failure Dinero can
give, lost answers, credit notes and cancellations. Calls are counted with the client's
`on_call` hook; what Dinero stored is read back through the sandbox's control endpoints."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import httpx
import pytest
from arq.connections import ArqRedis

from gateway.db import Pool
from gateway.dinero.client import DineroClient
from gateway.dinero.models import ContactCreate
from gateway.dinero.oauth import VismaConnect
from gateway.orders import parse_order
from gateway.ratelimit import BookingLock, BudgetKey
from gateway.settings import SANDBOX_CLIENT_ID
from gateway.vault import Vault
from sandbox.state import Faults
from tenants.dinero import contacts
from tenants.dinero.connections import service as connections
from tenants.dinero.poster import Poster
from tenants.outbox import repository as outbox
from tenants.outbox import sweeps
from tenants.posting.outcomes import Outcome, Result
from tenants.posting.service import post_document
from tests.conftest import Call
from tests.live import LiveSandbox
from tests.tenants.dinero.connections.test_connections import connect, refreshes
from tests.tenants.outbox.test_outbox import (
    make_credit_note,
    make_document,
    make_order,
    order_body,
    refund_body,
    row,
)

ORG = 1001

pytestmark = pytest.mark.usefixtures("no_faults_left")


async def post(poster: Poster, document_id: int, *, now: datetime | None = None) -> Result:
    return await post_document(poster, document_id, now=now or datetime.now(UTC))


async def due_now(pool: Pool, document_id: int) -> None:
    await pool.execute(
        "UPDATE documents SET next_attempt_at = now() - interval '1 second' WHERE id = $1",
        document_id,
    )


async def stored(
    http: httpx.AsyncClient, live: LiveSandbox, what: str = "invoices", org: int = ORG
) -> list[dict[str, Any]]:
    answer = await http.get(f"{live.url}/_sandbox/organizations/{org}/{what}")
    answer.raise_for_status()
    found: list[dict[str, Any]] = answer.json()
    return found


def shapes(calls: list[Call]) -> list[str]:
    """`POST invoices/book` for `POST /v1/1001/invoices/<guid>/book`."""
    out = []
    for method, path, _ in calls:
        parts = [p for p in path.split("/")[3:] if not _is_guid(p)]
        out.append(f"{method} {'/'.join(parts)}")
    return out


def _is_guid(text: str) -> bool:
    try:
        UUID(text)
    except ValueError:
        return False
    return True


async def invoice_for_order(
    pool: Pool, shop_id: UUID, external_id: str = "1001", *, mode: str = "booked", **customer: Any
) -> int:
    order_id = await make_order(pool, shop_id, order_body(external_id, **customer))
    return await make_document(pool, shop_id, order_id, mode=mode)


async def hand_made_contact(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    live: LiveSandbox,
    connection_id: UUID,
    contact: ContactCreate,
) -> UUID:
    """A contact a bookkeeper typed into Dinero, outside the gateway."""
    token = await connections.access_token_for(
        pool, vault, visma, connection_id, now=datetime.now(UTC)
    )
    return await DineroClient(http, live.url, token).create_contact(ORG, contact)


# --- the happy paths ---------------------------------------------------------------------------


async def test_an_invoice_is_created_with_our_guid_and_booked(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    sandbox_server: LiveSandbox,
    poster: Poster,
    calls: list[Call],
) -> None:
    shop, _ = await connect(pool, vault, sandbox_server, visma)
    document_id = await invoice_for_order(pool, shop.id)

    result = await post(poster, document_id)

    assert result.outcome is Outcome.POSTED
    after = await row(pool, document_id)
    assert (after["state"], after["step"], after["backend_number"]) == ("posted", "booked", 1)
    assert (after["backend_status"], after["organization_id"], after["uncertain"]) == (
        "Booked",
        ORG,
        False,
    )
    assert after["backend_id"] == after["client_guid"]
    assert after["lease_owner"] is None
    [invoice] = await stored(http, sandbox_server)
    assert invoice["Guid"] == str(after["client_guid"])
    assert invoice["ExternalReference"] == after["external_reference"]
    assert (invoice["Status"], invoice["Number"]) == ("Booked", 1)
    assert Decimal(str(invoice["TotalInclVat"])) == Decimal("128.99")
    assert invoice["ContactGuid"] == str(after["contact_guid"])
    # A new customer: the mirror's first listing, the contact, the invoice, the booking.
    assert shapes(calls) == ["GET contacts", "POST contacts", "POST invoices", "POST invoices/book"]
    kinds = await pool.fetch("SELECT kind FROM events WHERE document_id = $1", document_id)
    assert [k["kind"] for k in kinds] == ["document.posted"]


async def test_draft_mode_leaves_the_invoice_as_a_draft(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    sandbox_server: LiveSandbox,
    poster: Poster,
) -> None:
    shop, _ = await connect(pool, vault, sandbox_server, visma)
    document_id = await invoice_for_order(pool, shop.id, mode="draft")

    assert (await post(poster, document_id)).outcome is Outcome.POSTED

    after = await row(pool, document_id)
    assert (after["state"], after["step"], after["backend_status"]) == (
        "posted",
        "created",
        "Draft",
    )
    assert after["backend_number"] is None
    [invoice] = await stored(http, sandbox_server)
    assert (invoice["Status"], invoice["Number"] or None) == ("Draft", None)


async def test_a_returning_customer_costs_two_calls(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    sandbox_server: LiveSandbox,
    poster: Poster,
    calls: list[Call],
) -> None:
    shop, _ = await connect(pool, vault, sandbox_server, visma)
    first = await invoice_for_order(pool, shop.id, "1001")
    second = await invoice_for_order(pool, shop.id, "1002", email="KAREN@example.dk")
    await post(poster, first)
    calls.clear()

    assert (await post(poster, second)).outcome is Outcome.POSTED

    assert shapes(calls) == ["POST invoices", "POST invoices/book"]
    assert (await row(pool, second))["contact_guid"] == (await row(pool, first))["contact_guid"]
    assert (await row(pool, second))["backend_number"] == 2
    assert len(sandbox_server.sandbox.ledger(ORG).contacts) == 1


async def test_a_customer_dinero_knows_by_vat_number_gets_that_contact(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    sandbox_server: LiveSandbox,
    poster: Poster,
    calls: list[Call],
) -> None:
    shop, connection_id = await connect(pool, vault, sandbox_server, visma)
    # Typed in by hand, the Danish way: the CVR number without its DK prefix.
    existing = await hand_made_contact(
        pool,
        vault,
        visma,
        http,
        sandbox_server,
        connection_id,
        ContactCreate(name="Bolig ApS", country_key="DK", is_person=False, vat_number="13585628"),
    )
    calls.clear()
    document_id = await invoice_for_order(
        pool, shop.id, company="Bolig ApS", vat_number="DK13585628", email="indkob@bolig.dk"
    )

    assert (await post(poster, document_id)).outcome is Outcome.POSTED

    assert (await row(pool, document_id))["contact_guid"] == existing
    assert len(sandbox_server.sandbox.ledger(ORG).contacts) == 1
    assert shapes(calls) == ["GET contacts", "POST invoices", "POST invoices/book"]


async def test_a_customer_dinero_knows_by_email_gets_that_contact(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    sandbox_server: LiveSandbox,
    poster: Poster,
) -> None:
    shop, connection_id = await connect(pool, vault, sandbox_server, visma)
    existing = await hand_made_contact(
        pool,
        vault,
        visma,
        http,
        sandbox_server,
        connection_id,
        ContactCreate(name="Karen K.", country_key="DK", is_person=True, email="KAREN@Example.dk"),
    )
    document_id = await invoice_for_order(pool, shop.id)

    assert (await post(poster, document_id)).outcome is Outcome.POSTED

    assert (await row(pool, document_id))["contact_guid"] == existing
    assert len(sandbox_server.sandbox.ledger(ORG).contacts) == 1


async def test_the_contact_mirror_catches_up_once_it_is_old(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    sandbox_server: LiveSandbox,
    poster: Poster,
    calls: list[Call],
) -> None:
    shop, connection_id = await connect(pool, vault, sandbox_server, visma)
    await post(poster, await invoice_for_order(pool, shop.id, "1"))
    existing = await hand_made_contact(
        pool,
        vault,
        visma,
        http,
        sandbox_server,
        connection_id,
        ContactCreate(name="Ole", country_key="DK", is_person=True, email="ole@example.dk"),
    )
    calls.clear()
    later = datetime.now(UTC) + contacts.SYNC_MAX_AGE + timedelta(seconds=1)

    document_id = await invoice_for_order(pool, shop.id, "2", name="Ole", email="ole@example.dk")
    assert (await post(poster, document_id, now=later)).outcome is Outcome.POSTED

    assert (await row(pool, document_id))["contact_guid"] == existing
    assert shapes(calls) == ["GET contacts", "POST invoices", "POST invoices/book"]


async def test_an_order_priced_excl_vat_is_checked_against_dineros_total_before_booking(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    sandbox_server: LiveSandbox,
    poster: Poster,
    calls: list[Call],
) -> None:
    shop, _ = await connect(pool, vault, sandbox_server, visma)
    body = order_body("net-1")
    body.update(
        prices_include_vat=False,
        lines=[dict(body["lines"][0], quantity="2", unit_price="100.00")],
        shipping={"name": "GLS", "price": "40.00", "vat_rate": "0.25"},
        discounts=[],
        total="300.00",
    )
    document_id = await make_document(
        pool, shop.id, await make_order(pool, shop.id, body), amount=Decimal("300.00")
    )

    assert (await post(poster, document_id)).outcome is Outcome.POSTED

    assert shapes(calls)[-3:] == ["POST invoices", "GET invoices", "POST invoices/book"]
    [invoice] = await stored(http, sandbox_server)
    assert Decimal(str(invoice["TotalInclVat"])) == Decimal("300.00")


async def test_two_orders_of_one_new_customer_at_once_make_one_contact(
    pool: Pool, vault: Vault, visma: VismaConnect, sandbox_server: LiveSandbox, poster: Poster
) -> None:
    shop, _ = await connect(pool, vault, sandbox_server, visma)
    first = await invoice_for_order(pool, shop.id, "1")
    second = await invoice_for_order(pool, shop.id, "2")

    results = await asyncio.gather(post(poster, first), post(poster, second))

    assert [r.outcome for r in results] == [Outcome.POSTED, Outcome.POSTED]
    assert len(sandbox_server.sandbox.ledger(ORG).contacts) == 1
    assert (await row(pool, first))["contact_guid"] == (await row(pool, second))["contact_guid"]


def test_contact_keys_match_the_way_people_type_them() -> None:
    assert contacts.normalize_vat("dk 13 58 56 28", "DK") == "DK13585628"
    assert contacts.normalize_vat("13585628", "DK") == "DK13585628"
    assert contacts.normalize_vat("094259216", "GR") == "EL094259216"
    body = order_body(vat_number="DK13585628", company="Bolig ApS", email="Indkob@Bolig.DK")
    customer = parse_order(body).customer
    assert contacts.contact_keys(customer) == [
        contacts.ContactKey("vat", "DK13585628"),
        contacts.ContactKey("email", "indkob@bolig.dk"),
    ]
    anonymous = parse_order(order_body(email=None)).customer
    [key] = contacts.contact_keys(anonymous)
    assert key.kind == "external"
    assert contacts.contact_keys(parse_order(order_body("9", email=None)).customer) == [key]
    guid = contacts.contact_guid(ORG, key)
    assert guid == contacts.contact_guid(ORG, key) != contacts.contact_guid(1002, key)


# --- exactly once after lost answers ---------------------------------------------------------


async def test_a_lost_create_answer_is_looked_up_by_guid_not_created_again(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    sandbox_server: LiveSandbox,
    poster: Poster,
    calls: list[Call],
) -> None:
    shop, _ = await connect(pool, vault, sandbox_server, visma)
    await post(poster, await invoice_for_order(pool, shop.id, "1"))  # caches the contact
    document_id = await invoice_for_order(pool, shop.id, "2")
    sandbox_server.sandbox.faults = Faults(drop_after_commit_rate=1.0)

    first = await post(poster, document_id)

    assert first.outcome is Outcome.DEFERRED
    after = await row(pool, document_id)
    assert (after["uncertain"], after["failures"], after["step"]) == (True, 1, "contact")
    assert after["next_attempt_at"] < datetime.now(UTC) + timedelta(seconds=10)
    sandbox_server.sandbox.faults = Faults()
    await due_now(pool, document_id)
    calls.clear()

    second = await post(poster, document_id)

    assert second.outcome is Outcome.POSTED
    assert shapes(calls) == ["GET invoices", "POST invoices/book"]
    guid = str(after["client_guid"])
    assert [i["Guid"] for i in await stored(http, sandbox_server)].count(guid) == 1
    assert (await row(pool, document_id))["backend_number"] == 2


async def test_a_lost_booking_answer_is_read_back_not_booked_twice(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    sandbox_server: LiveSandbox,
    poster: Poster,
    redis: ArqRedis,
    calls: list[Call],
) -> None:
    shop, _ = await connect(pool, vault, sandbox_server, visma)
    document_id = await invoice_for_order(pool, shop.id)
    # Someone else is booking in the organisation: the invoice is created, then waits.
    lock = BookingLock(redis)
    token = await lock.acquire(ORG)
    assert token is not None
    waiting = Poster(**{**poster.__dict__, "booking_wait": 0.0})
    assert (await post(waiting, document_id)).outcome is Outcome.DEFERRED
    assert (await row(pool, document_id))["failures"] == 0  # a busy lock is no failure
    assert (await row(pool, document_id))["step"] == "created"
    await lock.release(ORG, token)
    sandbox_server.sandbox.faults = Faults(drop_after_commit_rate=1.0)
    await due_now(pool, document_id)

    assert (await post(poster, document_id)).outcome is Outcome.DEFERRED
    assert (await row(pool, document_id))["uncertain"]
    sandbox_server.sandbox.faults = Faults()
    await due_now(pool, document_id)
    calls.clear()

    assert (await post(poster, document_id)).outcome is Outcome.POSTED
    assert shapes(calls) == ["GET invoices"]
    assert (await row(pool, document_id))["backend_number"] == 1
    assert [i["Number"] for i in await stored(http, sandbox_server)] == [1]


async def test_a_stale_timestamp_is_read_again_and_the_booking_retried_once(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    sandbox_server: LiveSandbox,
    poster: Poster,
    redis: ArqRedis,
    calls: list[Call],
) -> None:
    shop, _ = await connect(pool, vault, sandbox_server, visma)
    document_id = await invoice_for_order(pool, shop.id)
    lock = BookingLock(redis)
    token = await lock.acquire(ORG)
    assert token is not None
    await post(Poster(**{**poster.__dict__, "booking_wait": 0.0}), document_id)
    await lock.release(ORG, token)
    await pool.execute(
        "UPDATE documents SET backend_version = '0000000000000001', "
        "next_attempt_at = now() - interval '1 second' WHERE id = $1",
        document_id,
    )
    calls.clear()

    assert (await post(poster, document_id)).outcome is Outcome.POSTED

    assert shapes(calls) == ["POST invoices/book", "GET invoices", "POST invoices/book"]
    assert [status for _, _, status in calls] == [400, 200, 200]
    assert (await row(pool, document_id))["backend_number"] == 1


# --- failures ----------------------------------------------------------------------------------


async def test_a_dinero_error_backs_off_with_jitter_and_counts_failures(
    pool: Pool, vault: Vault, visma: VismaConnect, sandbox_server: LiveSandbox, poster: Poster
) -> None:
    shop, _ = await connect(pool, vault, sandbox_server, visma)
    document_id = await invoice_for_order(pool, shop.id)
    sandbox_server.sandbox.faults = Faults(error_rate=1.0)
    delays = []
    for _ in range(2):
        now = datetime.now(UTC)
        assert (await post(poster, document_id, now=now)).outcome is Outcome.DEFERRED
        after = await row(pool, document_id)
        delays.append((after["next_attempt_at"] - now).total_seconds())
        await due_now(pool, document_id)

    assert 24 <= delays[0] <= 36
    assert 48 <= delays[1] <= 72
    after = await row(pool, document_id)
    assert (after["state"], after["failures"], after["last_error_code"]) == (
        "queued",
        2,
        "http_500",
    )
    assert "500" in after["last_error"]


async def test_a_429_defers_without_a_failure_and_pauses_the_budget(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    sandbox_server: LiveSandbox,
    poster: Poster,
) -> None:
    shop, _ = await connect(pool, vault, sandbox_server, visma)
    document_id = await invoice_for_order(pool, shop.id)
    sandbox_server.sandbox.faults = Faults(rate_limit_429_rate=1.0)
    now = datetime.now(UTC)

    assert (await post(poster, document_id, now=now)).outcome is Outcome.DEFERRED

    after = await row(pool, document_id)
    assert (after["state"], after["failures"]) == ("queued", 0)
    assert 20 <= (after["next_attempt_at"] - now).total_seconds() <= 21
    key = BudgetKey(SANDBOX_CLIENT_ID, ORG)
    assert await poster.budget.free_slots(key, within=10) == 0


async def test_a_poster_may_be_given_shorter_waits(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    sandbox_server: LiveSandbox,
    poster: Poster,
) -> None:
    # What a test against a sandbox does to fit hundreds of faults into seconds.
    quick = replace(poster, backoff_base=timedelta(seconds=2), rate_limit_pause=4.0)
    shop, _ = await connect(pool, vault, sandbox_server, visma)
    failing = await invoice_for_order(pool, shop.id, "1")
    limited = await invoice_for_order(pool, shop.id, "2")
    now = datetime.now(UTC)

    sandbox_server.sandbox.faults = Faults(error_rate=1.0)
    assert (await post(quick, failing, now=now)).outcome is Outcome.DEFERRED
    sandbox_server.sandbox.faults = Faults(rate_limit_429_rate=1.0)
    assert (await post(quick, limited, now=now)).outcome is Outcome.DEFERRED

    assert 1.6 <= ((await row(pool, failing))["next_attempt_at"] - now).total_seconds() <= 2.4
    assert 4 <= ((await row(pool, limited))["next_attempt_at"] - now).total_seconds() <= 5
    key = BudgetKey(SANDBOX_CLIENT_ID, ORG)
    assert await quick.budget.free_slots(key, within=3) == 0
    assert await quick.budget.free_slots(key, within=5) > 0


async def test_an_empty_budget_defers_until_a_slot_frees_without_a_failure(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    sandbox_server: LiveSandbox,
    poster: Poster,
    calls: list[Call],
) -> None:
    shop, _ = await connect(pool, vault, sandbox_server, visma)
    document_id = await invoice_for_order(pool, shop.id)
    key = BudgetKey(SANDBOX_CLIENT_ID, ORG)
    while await poster.budget.acquire(key) == 0.0:
        pass
    now = datetime.now(UTC)

    assert (await post(poster, document_id, now=now)).outcome is Outcome.DEFERRED

    after = await row(pool, document_id)
    assert (after["state"], after["failures"], after["step"]) == ("queued", 0, "new")
    assert 55 <= (after["next_attempt_at"] - now).total_seconds() <= 63
    assert calls == []  # not one call left for Dinero to refuse


async def test_a_400_fails_with_dineros_message_and_a_retry_after_the_fix_posts(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    sandbox_server: LiveSandbox,
    poster: Poster,
) -> None:
    shop, _ = await connect(pool, vault, sandbox_server, visma)
    await pool.execute(
        "UPDATE shops SET account_overrides = '{\"goods_dk\": 1234}' WHERE id = $1", shop.id
    )
    document_id = await invoice_for_order(pool, shop.id)

    assert (await post(poster, document_id)).outcome is Outcome.FAILED
    after = await row(pool, document_id)
    assert (after["state"], after["failures"], after["lease_owner"]) == ("failed", 1, None)
    assert "No account 1234" in after["last_error"]
    assert after["last_error_code"] == "3"  # Dinero's code for a validation error

    await pool.execute("UPDATE shops SET account_overrides = '{}' WHERE id = $1", shop.id)
    ready = await outbox.retry(pool, shop.id, document_id, now=datetime.now(UTC))
    assert ready is not None
    assert (await post(poster, document_id)).outcome is Outcome.POSTED
    assert (await row(pool, document_id))["state"] == "posted"


async def test_a_refused_token_is_refreshed_once_and_the_call_repeated(
    pool: Pool, vault: Vault, visma: VismaConnect, sandbox_server: LiveSandbox, poster: Poster
) -> None:
    shop, _ = await connect(pool, vault, sandbox_server, visma)
    document_id = await invoice_for_order(pool, shop.id)
    sandbox_server.sandbox.expire_access_tokens()  # Dinero refuses what we think is valid

    assert (await post(poster, document_id)).outcome is Outcome.POSTED

    assert refreshes(sandbox_server.sandbox) == 1
    assert sandbox_server.sandbox.stats.unauthorized == 1


async def test_a_revoked_grant_parks_the_whole_organisation_until_reconnect(
    pool: Pool, vault: Vault, visma: VismaConnect, sandbox_server: LiveSandbox, poster: Poster
) -> None:
    shop, connection_id = await connect(pool, vault, sandbox_server, visma)
    neighbour, _ = await connect(pool, vault, sandbox_server, visma)  # same organisation
    document_id = await invoice_for_order(pool, shop.id)
    neighbours = await invoice_for_order(pool, neighbour.id)
    sandbox_server.sandbox.revoke_organization(ORG)

    assert (await post(poster, document_id)).outcome is Outcome.PARKED

    assert (await row(pool, document_id))["state"] == "needs_reconnect"
    assert (await row(pool, neighbours))["state"] == "needs_reconnect"
    status = await pool.fetchval(
        "SELECT status FROM dinero_connections WHERE id = $1", connection_id
    )
    assert status == "needs_reconnect"

    await connect(pool, vault, sandbox_server, visma, shop=shop)

    for posted_id in (document_id, neighbours):
        assert (await row(pool, posted_id))["state"] == "queued"
        assert (await post(poster, posted_id)).outcome is Outcome.POSTED


async def test_a_token_refused_right_after_renewal_parks_the_organisation(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    sandbox_server: LiveSandbox,
    poster: Poster,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shop, connection_id = await connect(pool, vault, sandbox_server, visma)
    document_id = await invoice_for_order(pool, shop.id)
    # Renewal works, yet Dinero takes no token at all.
    monkeypatch.setattr(sandbox_server.sandbox.grants, "access_grant", lambda token: None)

    assert (await post(poster, document_id)).outcome is Outcome.PARKED

    assert refreshes(sandbox_server.sandbox) == 1  # one forced refresh, no storm
    assert sandbox_server.sandbox.stats.unauthorized == 2
    status = await pool.fetchval(
        "SELECT status FROM dinero_connections WHERE id = $1", connection_id
    )
    assert status == "needs_reconnect"
    assert (await row(pool, document_id))["state"] == "needs_reconnect"


async def test_an_organisation_without_pro_fails_the_document(
    pool: Pool, vault: Vault, visma: VismaConnect, sandbox_server: LiveSandbox, poster: Poster
) -> None:
    shop, _ = await connect(pool, vault, sandbox_server, visma, organization_id=1003)
    document_id = await invoice_for_order(pool, shop.id)

    assert (await post(poster, document_id)).outcome is Outcome.FAILED

    after = await row(pool, document_id)
    assert after["last_error_code"] == "not_pro"
    assert "Pro" in after["last_error"]


async def test_a_shop_without_a_connection_parks_its_document(
    pool: Pool, vault: Vault, poster: Poster
) -> None:
    from tests.factories import make_shop

    shop, _, _ = await make_shop(pool, vault)
    document_id = await invoice_for_order(pool, shop.id)

    assert (await post(poster, document_id)).outcome is Outcome.PARKED
    assert (await row(pool, document_id))["state"] == "needs_reconnect"


async def test_a_document_that_is_not_due_is_left_alone(
    pool: Pool, vault: Vault, visma: VismaConnect, sandbox_server: LiveSandbox, poster: Poster
) -> None:
    shop, _ = await connect(pool, vault, sandbox_server, visma)
    document_id = await make_document(
        pool,
        shop.id,
        await make_order(pool, shop.id),
        next_attempt_at=datetime.now(UTC) + timedelta(hours=1),
    )

    assert (await post(poster, document_id)).outcome is Outcome.SKIPPED
    assert (await post(poster, 999_999)).outcome is Outcome.SKIPPED
    assert (await row(pool, document_id))["attempts"] == 0


# --- organisations -----------------------------------------------------------------------------


async def test_a_document_not_begun_follows_its_shop_to_another_organisation(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    sandbox_server: LiveSandbox,
    poster: Poster,
) -> None:
    shop, _ = await connect(pool, vault, sandbox_server, visma)
    document_id = await invoice_for_order(pool, shop.id)
    sandbox_server.sandbox.faults = Faults(error_rate=1.0)
    await post(poster, document_id)
    await pool.execute(
        "UPDATE documents SET organization_id = $2, step = 'contact' WHERE id = $1",
        document_id,
        ORG,
    )
    sandbox_server.sandbox.faults = Faults()
    await connect(pool, vault, sandbox_server, visma, shop=shop, organization_id=1002)
    await due_now(pool, document_id)

    assert (await post(poster, document_id)).outcome is Outcome.POSTED
    assert (await row(pool, document_id))["organization_id"] == 1002
    assert len(await stored(http, sandbox_server, org=1002)) == 1


async def test_a_credit_note_never_follows_its_shop_to_another_organisation(
    pool: Pool, vault: Vault, visma: VismaConnect, sandbox_server: LiveSandbox, poster: Poster
) -> None:
    shop, _ = await connect(pool, vault, sandbox_server, visma)
    order_id = await make_order(pool, shop.id)
    invoice = await make_document(pool, shop.id, order_id)
    note = await make_credit_note(pool, shop.id, order_id, invoice, refund_body("r1"), 1)
    await post(poster, invoice)
    await connect(pool, vault, sandbox_server, visma, shop=shop, organization_id=1002)

    assert (await post(poster, note)).outcome is Outcome.FAILED

    after = await row(pool, note)
    assert after["last_error_code"] == "organization_moved"
    assert "1001" in after["last_error"]


# --- credit notes ------------------------------------------------------------------------------


async def test_a_credit_note_waits_for_its_invoice_then_credits_it(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    sandbox_server: LiveSandbox,
    poster: Poster,
    calls: list[Call],
) -> None:
    shop, _ = await connect(pool, vault, sandbox_server, visma)
    order_id = await make_order(pool, shop.id)
    invoice = await make_document(pool, shop.id, order_id)
    note = await make_credit_note(pool, shop.id, order_id, invoice, refund_body("r1"), 1)
    # Queued too early (a manual retry, say): it goes back to waiting.
    await pool.execute("UPDATE documents SET state = 'queued' WHERE id = $1", note)
    assert (await post(poster, note)).outcome is Outcome.WAITING
    assert (await row(pool, note))["state"] == "waiting"

    released = await post(poster, invoice)

    assert [r.id for r in released.released] == [note]
    calls.clear()
    assert (await post(poster, note)).outcome is Outcome.POSTED
    assert shapes(calls) == ["POST sales/creditnotes", "POST sales/creditnotes/book"]
    [credit_note] = await stored(http, sandbox_server, "creditnotes")
    invoice_row = await row(pool, invoice)
    assert credit_note["CreditNoteFor"] == str(invoice_row["backend_id"])
    assert credit_note["ContactGuid"] == str(invoice_row["contact_guid"])
    assert (credit_note["Status"], credit_note["Number"]) == ("Booked", 2)
    assert Decimal(str(credit_note["TotalInclVat"])) == Decimal("33.33")


async def test_partial_and_repeated_refunds_each_get_a_credit_note(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    sandbox_server: LiveSandbox,
    poster: Poster,
) -> None:
    shop, _ = await connect(pool, vault, sandbox_server, visma)
    order_id = await make_order(pool, shop.id)
    invoice = await make_document(pool, shop.id, order_id)
    await post(poster, invoice)
    notes = [
        await make_credit_note(pool, shop.id, order_id, invoice, refund_body("r1", 1), 1),
        await make_credit_note(
            pool, shop.id, order_id, invoice, refund_body("r2", 2, shipping=True), 2
        ),
    ]
    await sweeps.release_orphans(pool, now=datetime.now(UTC))  # created after the invoice posted

    for note in notes:
        assert (await post(poster, note)).outcome is Outcome.POSTED
        await post(poster, note)  # a repeated job changes nothing

    stored_notes = await stored(http, sandbox_server, "creditnotes")
    assert sorted(Decimal(str(n["TotalInclVat"])) for n in stored_notes) == [
        Decimal("33.33"),
        Decimal("105.66"),
    ]
    guid = str((await row(pool, invoice))["backend_id"])
    assert {n["CreditNoteFor"] for n in stored_notes} == {guid}
    assert sorted(n["Number"] for n in stored_notes) == [2, 3]


async def test_a_refund_of_a_draft_invoice_stays_a_draft_credit_note(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    sandbox_server: LiveSandbox,
    poster: Poster,
) -> None:
    shop, _ = await connect(pool, vault, sandbox_server, visma)
    order_id = await make_order(pool, shop.id)
    invoice = await make_document(pool, shop.id, order_id, mode="draft")
    note = await make_credit_note(pool, shop.id, order_id, invoice, refund_body("r1"), 1)
    await post(poster, invoice)

    assert (await post(poster, note)).outcome is Outcome.POSTED

    [credit_note] = await stored(http, sandbox_server, "creditnotes")
    assert (credit_note["Status"], credit_note["CreditNoteFor"]) == ("Draft", None)
    assert (await row(pool, note))["backend_status"] == "Draft"


async def test_cancelling_a_booked_invoice_credits_it_in_full(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    sandbox_server: LiveSandbox,
    poster: Poster,
) -> None:
    shop, _ = await connect(pool, vault, sandbox_server, visma)
    order_id = await make_order(pool, shop.id)
    await pool.execute("UPDATE orders SET cancelled_at = now() WHERE id = $1", order_id)
    invoice = await make_document(pool, shop.id, order_id)
    cancel = await make_document(
        pool,
        shop.id,
        order_id,
        kind="credit_note",
        seq=1,
        source_ref="cancel",
        parent_id=invoice,
        state="waiting",
        payload={"full": True},
    )
    released = await post(poster, invoice)
    assert [r.id for r in released.released] == [cancel]

    assert (await post(poster, cancel)).outcome is Outcome.POSTED

    [credit_note] = await stored(http, sandbox_server, "creditnotes")
    assert Decimal(str(credit_note["TotalInclVat"])) == Decimal("128.99")
    assert credit_note["Status"] == "Booked"
    assert credit_note["CreditNoteFor"] == str((await row(pool, invoice))["backend_id"])


async def test_cancelling_an_order_whose_invoice_is_a_draft_deletes_the_draft(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    sandbox_server: LiveSandbox,
    poster: Poster,
) -> None:
    shop, _ = await connect(pool, vault, sandbox_server, visma)
    order_id = await make_order(pool, shop.id)
    invoice = await make_document(pool, shop.id, order_id, mode="draft")
    cancel = await make_document(
        pool,
        shop.id,
        order_id,
        kind="credit_note",
        seq=1,
        source_ref="cancel",
        parent_id=invoice,
        state="waiting",
        payload={"full": True},
    )
    await post(poster, invoice)
    assert len(await stored(http, sandbox_server)) == 1

    assert (await post(poster, cancel)).outcome is Outcome.CANCELLED

    assert await stored(http, sandbox_server) == []  # deleted drafts are not listed
    assert await stored(http, sandbox_server, "creditnotes") == []
    assert (await row(pool, invoice))["state"] == "cancelled"
    assert (await row(pool, cancel))["state"] == "cancelled"


async def test_credit_notes_of_a_cancelled_invoice_are_cancelled(
    pool: Pool, vault: Vault, visma: VismaConnect, sandbox_server: LiveSandbox, poster: Poster
) -> None:
    shop, _ = await connect(pool, vault, sandbox_server, visma)
    order_id = await make_order(pool, shop.id)
    invoice = await make_document(pool, shop.id, order_id, state="cancelled")
    note = await make_credit_note(pool, shop.id, order_id, invoice, refund_body("r1"), 1)
    await pool.execute("UPDATE documents SET state = 'queued' WHERE id = $1", note)

    assert (await post(poster, note)).outcome is Outcome.CANCELLED
    assert (await row(pool, note))["state"] == "cancelled"
