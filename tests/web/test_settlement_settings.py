"""Settlement in a shop's settings: registering payments, deposit accounts from the
organisation's own list (a fallback and one per method), invoice or voucher, the receivable
account; all-or-nothing saving; and a new document type converting the documents that have
not started, and only those."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any
from uuid import UUID

import httpx
import pytest

from gateway.db import Pool
from gateway.dinero.oauth import VismaConnect
from gateway.settings import Settings
from gateway.vault import Vault
from tenants.orders import ingest as orders
from tests.conftest import app_client
from tests.factories import make_shop
from tests.live import LiveSandbox
from tests.tenants.dinero.connections.test_connections import connect
from tests.tenants.outbox.test_outbox import make_document, make_order, order_body
from tests.web.test_settings_pages import form
from tests.web.test_shops import owner_of_shop
from web.app import create_app


@pytest.fixture
async def wired(
    settings: Settings, sandbox_server: LiveSandbox
) -> AsyncIterator[httpx.AsyncClient]:
    """The app talking to the sandbox for Visma Connect and the Dinero API."""
    pointed = replace(
        settings, dinero_auth_url=sandbox_server.url, dinero_api_url=sandbox_server.url
    )
    async for client in app_client(create_app(pointed)):
        yield client


async def settlement(pool: Pool, shop_id: UUID) -> dict[str, Any]:
    row = await pool.fetchrow(
        "SELECT trigger, invoice_text, register_payments, payment_accounts, document_kind, "
        "receivable_account FROM shops WHERE id = $1",
        shop_id,
    )
    assert row is not None
    return dict(row)


def options(page: str, name: str) -> list[str]:
    match = re.search(rf'<select name="{name}">(.*?)</select>', page, re.S)
    assert match, name
    return re.findall(r'<option value="(\d*)"', match.group(1))


def selected(page: str, name: str) -> str | None:
    match = re.search(rf'<select name="{name}">(.*?)</select>', page, re.S)
    assert match, name
    chosen = re.search(r'<option value="(\d*)" selected', match.group(1))
    return chosen.group(1) if chosen else None


def problems(page: str) -> dict[str, str]:
    return dict(re.findall(r'<li data-field="([^"]+)">([^<]+)</li>', page))


async def test_settlement_is_chosen_from_the_organisations_accounts_and_saved(
    wired: httpx.AsyncClient,
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    sandbox_server: LiveSandbox,
) -> None:
    shop, csrf = await owner_of_shop(wired, pool, vault)
    await connect(pool, vault, sandbox_server, visma, shop=shop)

    page = (await wired.get(f"/shops/{shop.id}/settings")).text

    assert "data-deposits" not in page
    # The organisation's deposit accounts, without the hidden one (55090).
    assert options(page, "payment_account_default") == ["", "55000", "55010", "55020"]
    assert options(page, "payment_account_card") == ["", "55000", "55010", "55020"]
    # Receivables from the chart: accounts without VAT, so no sales account with VAT.
    receivable = options(page, "receivable_account")
    assert "5800" in receivable and "1000" not in receivable and "1350" not in receivable
    assert 'name="register_payments" value="on">' in page  # not ticked
    assert 'name="document_kind" value="invoice" checked' in page

    saved = await wired.post(
        f"/shops/{shop.id}/settings",
        data=form(
            csrf,
            trigger="created",
            register_payments="on",
            payment_account_default="55000",
            payment_account_card="55010",
            payment_account_mobilepay="55020",
            document_kind="voucher",
            receivable_account="5800",
        ),
    )

    assert saved.status_code == 303, problems(saved.text)
    assert await settlement(pool, shop.id) == {
        "trigger": "created",
        "invoice_text": "{shop} — order {number}",
        "register_payments": True,
        "payment_accounts": {"default": 55000, "card": 55010, "mobilepay": 55020},
        "document_kind": "voucher",
        "receivable_account": 5800,
    }
    again = (await wired.get(saved.headers["location"])).text
    assert 'name="register_payments" value="on" checked' in again
    assert 'name="document_kind" value="voucher" checked' in again
    assert selected(again, "payment_account_default") == "55000"
    assert selected(again, "payment_account_card") == "55010"
    assert selected(again, "payment_account_bank_transfer") == ""  # as the fallback
    assert selected(again, "receivable_account") == "5800"

    # Turned off again, with the per-method accounts taken away: only the fallback stays.
    off = await wired.post(
        f"/shops/{shop.id}/settings",
        data=form(csrf, payment_account_default="55000"),
    )
    assert off.status_code == 303, problems(off.text)
    stored = await settlement(pool, shop.id)
    assert stored["register_payments"] is False and stored["document_kind"] == "invoice"
    assert stored["payment_accounts"] == {"default": 55000} and stored["receivable_account"] is None


async def test_refusals_name_the_problem_and_store_nothing(
    wired: httpx.AsyncClient,
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    sandbox_server: LiveSandbox,
) -> None:
    shop, csrf = await owner_of_shop(wired, pool, vault)
    await connect(pool, vault, sandbox_server, visma, shop=shop)
    before = await settlement(pool, shop.id)
    url = f"/shops/{shop.id}/settings"
    # Each alongside a valid change of the text, which must not be stored either.
    text = {"invoice_text": "Ordre {number}"}

    no_account = await wired.post(url, data=form(csrf, register_payments="on", **text))
    assert no_account.status_code == 422
    assert set(problems(no_account.text)) == {"payment_account_default"}
    assert "needed while payments are registered" in no_account.text
    assert 'name="register_payments" value="on" checked' in no_account.text  # as sent

    for account in ("12345", "55090", "1000"):  # unknown, hidden, an entry account
        refused = await wired.post(
            url,
            data=form(
                csrf,
                register_payments="on",
                payment_account_default="55000",
                payment_account_card=account,
                **text,
            ),
        )
        assert refused.status_code == 422, account
        assert problems(refused.text) == {
            "payment_account_card": f"Card: account {account} is not one of the "
            "organisation&#39;s deposit accounts."
        }
        # The refused choice comes back selected, marked as what it is.
        assert selected(refused.text, "payment_account_card") == account

    unpaid = await wired.post(
        url,
        data=form(
            csrf, trigger="created", document_kind="voucher", payment_account_default="55000"
        ),
    )
    assert unpaid.status_code == 422
    assert set(problems(unpaid.text)) == {"receivable_account"}
    assert "sent when they are created" in unpaid.text
    danish = await wired.post(
        url,
        data=form(
            csrf, trigger="shipped", document_kind="voucher", payment_account_default="55000"
        ),
        headers={"Accept-Language": "da"},
    )
    assert "Vælg debitorkontoen" in danish.text and "når de er afsendt" in danish.text

    with_vat = await wired.post(
        url,
        data=form(
            csrf,
            document_kind="voucher",
            payment_account_default="55000",
            receivable_account="1000",
        ),
    )
    assert problems(with_vat.text) == {
        "receivable_account": "Receivable account: account 1000 carries VAT; a receivable "
        "account takes none."
    }
    bogus_kind = await wired.post(url, data=form(csrf, document_kind="letter"))
    assert set(problems(bogus_kind.text)) == {"document_kind"}
    assert await settlement(pool, shop.id) == before

    # With the trigger "paid" every order is paid when it is sent: no receivable needed.
    paid = await wired.post(
        url, data=form(csrf, document_kind="voucher", payment_account_default="55010")
    )
    assert paid.status_code == 303, problems(paid.text)
    assert (await settlement(pool, shop.id))["receivable_account"] is None


async def test_without_a_connection_the_page_says_so_and_keeps_the_accounts(
    client: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    shop, csrf = await owner_of_shop(client, pool, vault)
    await pool.execute(
        "UPDATE shops SET register_payments = true, "
        'payment_accounts = \'{"default": 55000, "card": 55010}\', receivable_account = 5800 '
        "WHERE id = $1",
        shop.id,
    )

    page = await client.get(f"/shops/{shop.id}/settings")

    assert 'data-deposits="not_connected"' in page.text
    assert "Connect the shop to Dinero to choose its deposit accounts" in page.text
    assert options(page.text, "payment_account_default") == ["", "55000"]
    assert selected(page.text, "payment_account_card") == "55010"
    assert selected(page.text, "receivable_account") == "5800"
    danish = await client.get(f"/shops/{shop.id}/settings", headers={"Accept-Language": "da"})
    assert "Registrér betalinger i Dinero" in danish.text and "Indbetalingskonti" not in (
        danish.text
    )

    kept = await client.post(
        f"/shops/{shop.id}/settings",
        data=form(
            csrf,
            register_payments="on",
            payment_account_default="55000",
            payment_account_card="55010",
            receivable_account="5800",
            invoice_text="Ordre {number}",
        ),
    )
    assert kept.status_code == 303, problems(kept.text)
    stored = await settlement(pool, shop.id)
    assert stored["payment_accounts"] == {"default": 55000, "card": 55010}
    assert stored["invoice_text"] == "Ordre {number}"

    changed = await client.post(
        f"/shops/{shop.id}/settings",
        data=form(
            csrf,
            register_payments="on",
            payment_account_default="55020",
            receivable_account="5800",
            invoice_text="Nr. {number}",
        ),
    )
    assert changed.status_code == 422
    assert (
        "deposit accounts cannot be read right now"
        in problems(changed.text)["payment_account_default"]
    )
    assert await settlement(pool, shop.id) == stored


# --- a new document type ---------------------------------------------------------------------


async def test_a_new_document_type_converts_only_documents_that_have_not_started(
    client: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    shop, csrf = await owner_of_shop(client, pool, vault)
    await pool.execute(
        "UPDATE shops SET payment_accounts = '{\"default\": 55000}' WHERE id = $1", shop.id
    )

    async def invoice(name: str, **kwargs: Any) -> int:
        order = await make_order(pool, shop.id, order_body(name))
        return await make_document(pool, shop.id, order, **kwargs)

    queued = await invoice("queued")
    failed = await invoice("failed", state="failed")
    waiting = await invoice("waiting", state="waiting")
    parked = await invoice("parked", state="needs_reconnect")
    started = await invoice("started")
    uncertain = await invoice("uncertain")
    leased = await invoice("leased")
    posted = await invoice("posted")
    cancelled = await invoice("cancelled", state="cancelled")
    credited = await invoice("credited")
    await pool.execute("UPDATE documents SET step = 'contact' WHERE id = $1", started)
    await pool.execute("UPDATE documents SET uncertain = true WHERE id = $1", uncertain)
    await pool.execute(
        "UPDATE documents SET lease_owner = 'w1', lease_expires_at = now() - interval '1 minute' "
        "WHERE id = $1",
        leased,
    )
    await pool.execute(
        "UPDATE documents SET state = 'posted', posted_at = now(), step = 'booked' WHERE id = $1",
        posted,
    )
    order_of_credited = await pool.fetchval(
        "SELECT order_id FROM documents WHERE id = $1", credited
    )
    note = await make_document(
        pool,
        shop.id,
        order_of_credited,
        kind="credit_note",
        seq=1,
        source_ref="r1",
        parent_id=credited,
        state="waiting",
    )
    theirs, _, _ = await make_shop(pool, vault)
    foreign = await make_document(
        pool, theirs.id, await make_order(pool, theirs.id, order_body("queued"))
    )
    converted = {queued, failed, waiting, parked}
    kept = {started, uncertain, leased, posted, cancelled, credited}
    before = {
        row["id"]: dict(row)
        for row in await pool.fetch(
            "SELECT id, kind, state, client_guid, external_reference FROM documents"
        )
    }

    saved = await client.post(
        f"/shops/{shop.id}/settings",
        data=form(csrf, document_kind="voucher", payment_account_default="55000"),
    )

    assert saved.status_code == 303, problems(saved.text)
    assert saved.headers["location"].endswith("?saved=1&converted=4")
    rows = {
        row["id"]: dict(row)
        for row in await pool.fetch(
            "SELECT d.id, d.kind, d.state, d.client_guid, d.external_reference, o.external_id "
            "FROM documents d JOIN orders o ON o.id = d.order_id"
        )
    }
    for document in converted:
        row = rows[document]
        assert row["kind"] == "voucher" and row["state"] == before[document]["state"]
        assert row["client_guid"] == orders.client_guid(
            shop.id, row["external_id"], "voucher", seq=0
        )
        assert row["external_reference"] == orders.external_reference(
            shop.id, row["external_id"], "voucher", seq=0
        )
    for document in kept | {note, foreign}:
        assert {k: rows[document][k] for k in before[document]} == before[document], document
    events = await pool.fetch(
        "SELECT document_id FROM events WHERE shop_id = $1 AND kind = 'document.converted'",
        shop.id,
    )
    assert {e["document_id"] for e in events} == converted
    message = await pool.fetchval(
        "SELECT message FROM events WHERE shop_id = $1 AND kind = 'shop.settings_changed'",
        shop.id,
    )
    assert "invoice → voucher" in message and "4 document(s)" in message
    page = await client.get(saved.headers["location"])
    assert 'data-converted="4"' in page.text
    timeline = await client.get(f"/shops/{shop.id}/documents/{queued}")
    assert 'data-event="document.converted"' in timeline.text
    assert "Document type changed" in timeline.text

    # Saving again without a change converts nothing; going back restores the invoice's ids.
    same = await client.post(
        f"/shops/{shop.id}/settings",
        data=form(csrf, document_kind="voucher", payment_account_default="55000"),
    )
    assert same.headers["location"].endswith("?saved=1")
    back = await client.post(
        f"/shops/{shop.id}/settings", data=form(csrf, payment_account_default="55000")
    )
    assert back.headers["location"].endswith("?saved=1&converted=4")
    for document in converted:
        restored = await pool.fetchrow(
            "SELECT d.kind, d.client_guid, o.external_id FROM documents d "
            "JOIN orders o ON o.id = d.order_id WHERE d.id = $1",
            document,
        )
        assert restored is not None and restored["kind"] == "invoice"
        assert restored["client_guid"] == orders.client_guid(
            shop.id, restored["external_id"], "invoice", seq=0
        )


async def test_a_refused_save_converts_nothing(
    client: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    shop, csrf = await owner_of_shop(client, pool, vault)
    document = await make_document(pool, shop.id, await make_order(pool, shop.id))

    refused = await client.post(
        f"/shops/{shop.id}/settings", data=form(csrf, document_kind="voucher", trigger="created")
    )

    assert refused.status_code == 422
    assert set(problems(refused.text)) == {"payment_account_default", "receivable_account"}
    assert await pool.fetchval("SELECT kind FROM documents WHERE id = $1", document) == "invoice"
    assert (await settlement(pool, shop.id))["document_kind"] == "invoice"
