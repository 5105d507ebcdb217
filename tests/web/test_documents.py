"""A shop's documents in the browser: the list (chips, search, keyset pages) as a page and
as the fragment htmx swaps in, one document with its timeline, and Retry."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

import httpx
import pytest
from arq.connections import ArqRedis

from gateway.db import Pool
from gateway.queue import QUEUE_NAME
from gateway.vault import Vault
from tenants.dashboard import documents as shop_documents
from tests.factories import make_shop
from tests.tenants.dashboard.test_shop import many_documents
from tests.tenants.outbox.test_outbox import make_document, make_order, order_body
from tests.web.test_shops import owner_of_shop, vary
from web import documents as documents_web

LIST = {"HX-Request": "true", "HX-Target": "documents"}
CARD = {"HX-Request": "true", "HX-Target": "document"}


def listed(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr data-document="(\d+)">', page)]


def link(page: str, rel: str) -> str:
    match = re.search(rf'<a href="([^"]+)"[^>]* rel="{rel}">', page)
    assert match, rel
    return match.group(1).replace("&amp;", "&")


async def test_the_list_is_a_page_and_the_fragment_htmx_swaps_in(
    client: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    shop, _ = await owner_of_shop(client, pool, vault)
    await many_documents(pool, shop.id, 3)

    page = await client.get(f"/shops/{shop.id}/documents")
    fragment = await client.get(f"/shops/{shop.id}/documents", headers=LIST)

    assert page.status_code == fragment.status_code == 200
    assert "<html" in page.text and 'class="tabs"' in page.text
    assert "<html" not in fragment.text
    assert fragment.text.lstrip().startswith('<section class="card" id="documents">')
    assert fragment.text.strip() in page.text
    assert len(listed(page.text)) == 3
    assert {"HX-Request", "HX-Target"} <= vary(page) and {"HX-Request", "HX-Target"} <= vary(
        fragment
    )
    # The chips and the search work as links and a GET form, and swap the list with htmx.
    assert f'<form method="get" action="/shops/{shop.id}/documents"' in page.text
    assert 'hx-target="#documents"' in page.text and 'hx-push-url="true"' in page.text


async def test_filter_by_state_and_search_by_order_number(
    client: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    shop, _ = await owner_of_shop(client, pool, vault)
    await many_documents(pool, shop.id, 20)  # every tenth one failed
    theirs, _, _ = await make_shop(pool, vault)
    await many_documents(pool, theirs.id, 5)

    failed = await client.get(f"/shops/{shop.id}/documents", params={"state": "failed"})
    assert len(listed(failed.text)) == 2
    assert re.search(
        r'data-filter="failed" aria-current="true">Failed <span class="count">2<', failed.text
    )
    assert all('data-state="failed"' in row for row in failed.text.split("<tr data-document")[1:])

    # The other shop has an order 10007 too: only ours is found.
    found = await client.get(f"/shops/{shop.id}/documents", params={"q": " 10007 "})
    [document_id] = listed(found.text)
    assert ">10007 <" in found.text and 'value="10007"' in found.text
    by_id = await client.get(f"/shops/{shop.id}/documents", params={"q": "bulk-7"})
    assert listed(by_id.text) == [document_id]
    none = await client.get(f"/shops/{shop.id}/documents", params={"q": "no-such-order"})
    assert listed(none.text) == [] and "No documents for order no-such-order." in none.text
    # Nonsense parameters are ignored, not errors.
    odd = await client.get(
        f"/shops/{shop.id}/documents", params={"state": "bogus", "before": "9" * 40}
    )
    assert odd.status_code == 200 and len(listed(odd.text)) == 20


async def test_keyset_pages_forward_and_back(
    client: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    shop, _ = await owner_of_shop(client, pool, vault)
    await many_documents(pool, shop.id, shop_documents.PAGE_SIZE + 7)

    first = await client.get(f"/shops/{shop.id}/documents")
    assert len(listed(first.text)) == shop_documents.PAGE_SIZE and 'rel="prev"' not in first.text
    older = await client.get(link(first.text, "next"), headers=LIST)
    assert len(listed(older.text)) == 7 and 'rel="next"' not in older.text
    assert not set(listed(first.text)) & set(listed(older.text))
    assert "<html" not in older.text  # the pager swaps the list only
    back = await client.get(link(older.text, "prev"))
    assert listed(back.text) == listed(first.text)

    failed = await client.get(f"/shops/{shop.id}/documents", params={"state": "failed"})
    assert "state=failed" in failed.text and 'rel="next"' not in failed.text


async def test_a_document_with_its_timeline_and_family(
    client: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    shop, _ = await owner_of_shop(client, pool, vault)
    order = await make_order(pool, shop.id)
    invoice = await make_document(pool, shop.id, order, state="failed")
    note = await make_document(
        pool,
        shop.id,
        order,
        kind="credit_note",
        seq=1,
        source_ref="r1",
        parent_id=invoice,
        state="waiting",
    )
    await pool.execute(
        "UPDATE documents SET last_error = 'Dinero: account 1000 does not exist', "
        "last_error_code = 'validation', attempts = 2 WHERE id = $1",
        invoice,
    )
    await pool.execute(
        "INSERT INTO events (shop_id, document_id, kind, level, message) "
        "VALUES ($1, $2, 'document.failed', 'error', 'Dinero: account 1000 does not exist')",
        shop.id,
        invoice,
    )

    page = await client.get(f"/shops/{shop.id}/documents/{invoice}")

    assert page.status_code == 200 and "<html" in page.text
    assert 'data-state="failed"' in page.text and "account 1000 does not exist" in page.text
    assert f'action="/shops/{shop.id}/documents/{invoice}/retry"' in page.text
    assert 'data-event="document.failed"' in page.text and "order 1001" in page.text
    assert f'href="/shops/{shop.id}/documents/{note}"' in page.text  # its credit note
    assert 'hx-trigger="every 3s"' not in page.text  # failed: nothing changes by itself
    child = await client.get(f"/shops/{shop.id}/documents/{note}", headers=CARD)
    assert "<html" not in child.text and child.text.lstrip().startswith('<section class="card"')
    assert f'href="/shops/{shop.id}/documents/{invoice}"' in child.text  # its invoice
    assert 'hx-trigger="every 3s"' in child.text and "/retry" not in child.text
    assert {"HX-Request", "HX-Target"} <= vary(child)


async def test_retry_queues_a_failed_document_and_wakes_a_worker(
    client: httpx.AsyncClient, pool: Pool, vault: Vault, redis: ArqRedis
) -> None:
    shop, csrf = await owner_of_shop(client, pool, vault)
    document = await make_document(pool, shop.id, await make_order(pool, shop.id), state="failed")
    await pool.execute("UPDATE documents SET attempts = 3, failures = 3 WHERE id = $1", document)
    url = f"/shops/{shop.id}/documents/{document}/retry"

    forged = await client.post(url)
    assert forged.status_code == 403
    assert await pool.fetchval("SELECT state FROM documents WHERE id = $1", document) == "failed"

    retried = await client.post(url, data={"csrf_token": csrf})

    assert retried.status_code == 303
    assert retried.headers["location"] == f"/shops/{shop.id}/documents/{document}"
    row = await pool.fetchrow("SELECT state, failures FROM documents WHERE id = $1", document)
    assert row is not None and (row["state"], row["failures"]) == ("queued", 0)
    assert await redis.zscore(QUEUE_NAME, f"documents.post:{document}:3") is not None
    page = (await client.get(retried.headers["location"])).text
    assert 'data-event="document.retried"' in page and "/retry" not in page

    # A second press (or a document that is not failed) changes nothing and lands on the page.
    again = await client.post(url, data={"csrf_token": csrf})
    assert again.status_code == 303
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM events WHERE document_id = $1 AND kind = 'document.retried'",
            document,
        )
        == 1
    )


async def test_another_tenants_documents_are_not_found(
    client: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    shop, csrf = await owner_of_shop(client, pool, vault)
    theirs, _, _ = await make_shop(pool, vault)
    foreign = await make_document(
        pool, theirs.id, await make_order(pool, theirs.id), state="failed"
    )
    for url in (f"/shops/{shop.id}/documents/{foreign}", f"/shops/{theirs.id}/documents/{foreign}"):
        assert (await client.get(url)).status_code == 404
        assert (await client.post(url + "/retry", data={"csrf_token": csrf})).status_code == 404
    assert (await client.get(f"/shops/{theirs.id}/documents")).status_code == 404
    assert await pool.fetchval("SELECT state FROM documents WHERE id = $1", foreign) == "failed"
    for odd in ("abc", "9" * 30, "-1"):
        assert (await client.get(f"/shops/{shop.id}/documents/{odd}")).status_code == 404


# --- settlement: payments and vouchers -------------------------------------------------------


def row_of(page: str, document_id: int) -> str:
    match = re.search(rf'<tr data-document="{document_id}">(.*?)</tr>', page, re.S)
    assert match, document_id
    return match.group(1)


async def settle(pool: Pool, document_id: int, **fields: object) -> None:
    """Sets a document's settlement columns as posting would have left them."""
    sets = ", ".join(f"{name} = ${n}" for n, name in enumerate(fields, start=2))
    await pool.execute(f"UPDATE documents SET {sets} WHERE id = $1", document_id, *fields.values())


async def test_a_payment_shows_its_amount_account_and_dinero_status(
    client: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    shop, _ = await owner_of_shop(client, pool, vault)
    order = await make_order(pool, shop.id)
    invoice = await make_document(pool, shop.id, order)
    await settle(pool, invoice, state="posted", posted_at=datetime.now(UTC), backend_number=17)
    payment = await make_document(
        pool,
        shop.id,
        order,
        kind="payment",
        seq=1,
        source_ref="order",
        parent_id=invoice,
        payload={"method": "card", "paid_at": "2026-11-24T09:59:00Z", "reference": "pi_1"},
        amount=Decimal("128.99"),
    )
    await settle(
        pool,
        payment,
        state="posted",
        posted_at=datetime.now(UTC),
        step="paid",
        backend_status="Registered",
        settlement_account=55010,
    )
    url = f"/shops/{shop.id}/documents/{payment}"

    page = (await client.get(url)).text

    assert "128.99 DKK" in page and 'data-fact="settlement-account">55010<' in page
    assert 'data-fact="method">Card<' in page
    assert 'data-paid="Registered"' in page and "awaiting Dinero&#39;s confirmation" in page
    assert "Settles" in page and f'href="/shops/{shop.id}/documents/{invoice}"' in page
    listed_page = (await client.get(f"/shops/{shop.id}/documents")).text
    # Registered is ours; the order is not shown as paid until Dinero says so.
    assert 'data-paid="Paid"' not in listed_page
    assert 'data-kind="payment"' in row_of(listed_page, payment)

    for status, label, danish in [
        ("Paid", "Paid", "Betalt"),
        ("OverPaid", "Overpaid", "Overbetalt"),
        ("Booked", "Partly paid", "Delvist betalt"),
    ]:
        await settle(pool, payment, backend_status=status)
        shown = (await client.get(url)).text
        assert f'data-paid="{status}">{label}<' in shown, status
        da = (await client.get(url, headers={"Accept-Language": "da"})).text
        assert f'data-paid="{status}">{danish}<' in da and "Indbetalingskonto" in da
        # The invoice shows its payment with the same status, and so does the list.
        of_invoice = (await client.get(f"/shops/{shop.id}/documents/{invoice}")).text
        assert f'data-payment="{payment}"' in of_invoice
        assert f'data-paid="{status}"' in of_invoice and "128.99 DKK" in of_invoice
        assert "Followed by" not in of_invoice  # a payment is listed as a payment
        listed_page = (await client.get(f"/shops/{shop.id}/documents")).text
        assert f'data-paid="{status}"' in row_of(listed_page, invoice)


async def test_money_back_on_a_credit_note_reads_as_a_refund(
    client: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    shop, _ = await owner_of_shop(client, pool, vault)
    order = await make_order(pool, shop.id)
    invoice = await make_document(pool, shop.id, order)
    await settle(pool, invoice, state="posted", posted_at=datetime.now(UTC), backend_number=17)
    note = await make_document(
        pool, shop.id, order, kind="credit_note", seq=1, source_ref="r1", parent_id=invoice
    )
    await settle(pool, note, state="posted", posted_at=datetime.now(UTC), backend_number=3)
    back = await make_document(
        pool,
        shop.id,
        order,
        kind="payment",
        seq=2,
        source_ref="r1",
        parent_id=note,
        payload={"method": "card", "paid_at": "2026-11-25T09:59:00Z", "reference": None},
        amount=Decimal("-20.00"),
    )
    await settle(pool, back, state="posted", posted_at=datetime.now(UTC), step="paid")
    for status, label, danish in [
        ("Registered", "Refund registered, awaiting Dinero&#39;s confirmation", None),
        ("Paid", "Refunded", "Tilbagebetalt"),
        ("Booked", "Partly refunded", "Delvist tilbagebetalt"),
    ]:
        await settle(pool, back, backend_status=status)
        for url in (f"/shops/{shop.id}/documents/{back}", f"/shops/{shop.id}/documents/{note}"):
            assert f'data-paid="{status}">{label}<' in (await client.get(url)).text, (status, url)
        listed = (await client.get(f"/shops/{shop.id}/documents")).text
        assert f'data-paid="{status}">{label}<' in row_of(listed, note)
        if danish:
            da = await client.get(
                f"/shops/{shop.id}/documents/{note}", headers={"Accept-Language": "da"}
            )
            assert f'data-paid="{status}">{danish}<' in da.text
    # The invoice's own payment still reads as a payment.
    assert "Refund" not in row_of(listed, invoice)


async def test_a_payment_not_yet_registered_shows_no_paid_state(
    client: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    shop, _ = await owner_of_shop(client, pool, vault)
    order = await make_order(pool, shop.id)
    invoice = await make_document(pool, shop.id, order)
    payment = await make_document(
        pool,
        shop.id,
        order,
        kind="payment",
        seq=1,
        source_ref="order",
        parent_id=invoice,
        state="waiting",
        payload={"method": None, "paid_at": None, "reference": None},
    )

    page = (await client.get(f"/shops/{shop.id}/documents/{payment}")).text
    assert 'data-paid="none">Not registered yet<' in page
    assert 'data-fact="settlement-account">—<' in page and 'data-fact="method">Not given<' in page
    listed_page = (await client.get(f"/shops/{shop.id}/documents")).text
    assert "data-paid" not in row_of(listed_page, invoice)
    assert "data-paid" not in row_of(listed_page, payment)


async def test_a_voucher_shows_its_attachment_and_the_voucher_reversing_it(
    client: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    shop, _ = await owner_of_shop(client, pool, vault)
    order = await make_order(pool, shop.id)
    voucher = await make_document(pool, shop.id, order, kind="voucher")
    await settle(
        pool,
        voucher,
        state="posted",
        posted_at=datetime.now(UTC),
        step="booked",
        backend_number=42,
        organization_id=1001,
        backend_id=uuid4(),
        file_guid="f1c2-file-guid",
        file_name="dg-inv-1001.pdf",
        settlement_account=5800,
    )
    reversing = await make_document(
        pool,
        shop.id,
        order,
        kind="voucher",
        seq=1,
        source_ref="r1",
        parent_id=voucher,
        state="waiting",
        payload={"refund_id": 1},
    )

    page = (await client.get(f"/shops/{shop.id}/documents/{voucher}")).text
    assert "Voucher number in Dinero" in page and 'data-fact="number">42<' in page
    # Dinero's web app, at the organisation's documented address, with the number to find.
    link = 'data-fact="dinero-link"><a href="https://app.dinero.dk/1001" rel="noopener'
    assert link in page and "(number 42 there)" in page
    assert "dg-inv-1001.pdf" in page and "f1c2-file-guid" in page
    assert 'data-fact="settlement-account">5800<' in page
    assert 'data-fact="shop-invoice"' not in page  # this order brought no invoice of its own
    await pool.execute(
        "UPDATE orders SET payload = payload || "
        """'{"invoice": {"number": "F-2001", "pdf_url": "https://shop.example/F-2001.pdf"}}' """
        "WHERE id = $1",
        order,
    )
    page = (await client.get(f"/shops/{shop.id}/documents/{voucher}")).text
    assert 'data-fact="shop-invoice">F-2001<' in page
    assert f'href="/shops/{shop.id}/documents/{reversing}"' in page  # followed by
    assert "data-paid" not in page  # a voucher has no payment status

    other = (await client.get(f"/shops/{shop.id}/documents/{reversing}")).text
    assert "Reverses" in other and f'href="/shops/{shop.id}/documents/{voucher}"' in other
    assert 'data-fact="attachment"><span class="muted">Not uploaded yet<' in other
    danish = (
        await client.get(
            f"/shops/{shop.id}/documents/{reversing}", headers={"Accept-Language": "da"}
        )
    ).text
    assert "Tilbagefører" in danish and "Bilagsnummer i Dinero" in danish

    listed_page = (await client.get(f"/shops/{shop.id}/documents")).text
    assert 'data-kind="voucher">Voucher<' in row_of(listed_page, voucher)
    da_list = (
        await client.get(f"/shops/{shop.id}/documents", headers={"Accept-Language": "da"})
    ).text
    assert 'data-kind="voucher">Bilag<' in row_of(da_list, reversing)


async def test_the_list_narrows_by_number_prefix_customer_date_and_amount_and_exports_it(
    client: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    shop, _ = await owner_of_shop(client, pool, vault)
    made: dict[str, int] = {}
    for number, name, company, amount, day in [
        ("2001", "Mette Hansen", None, "100.00", "2026-11-03T10:00:00+00:00"),
        ("2002", "Jens Olsen", "=HYPERLINK(1)", "250.00", "2026-11-10T23:30:00+00:00"),
        ("3001", "Anna 50% Berg", None, "999.99", "2026-11-20T10:00:00+00:00"),
    ]:
        order = await make_order(pool, shop.id, order_body(number, name=name, company=company))
        made[number] = await make_document(pool, shop.id, order, amount=Decimal(amount))
        await pool.execute(
            "UPDATE documents SET created_at = $2 WHERE id = $1",
            made[number],
            datetime.fromisoformat(day),
        )
    url = f"/shops/{shop.id}/documents"

    async def shown(**params: str) -> set[str]:
        answer = await client.get(url, params=params)
        assert answer.status_code == 200
        page = answer.text
        return {n for n, d in made.items() if f'data-document="{d}"' in page}

    assert await shown() == {"2001", "2002", "3001"}
    assert await shown(q="200") == {"2001", "2002"}  # the number's beginning
    assert await shown(q="3001") == {"3001"}
    assert await shown(customer="hansen") == {"2001"}
    assert await shown(customer="50%") == {"3001"}  # % is a character, not a wildcard
    assert await shown(customer="%") == {"3001"}
    # Days are Danish: 23:30 UTC on the 10th is the 11th in Copenhagen.
    assert await shown(**{"from": "2026-11-11"}) == {"2002", "3001"}
    assert await shown(to="2026-11-10") == {"2001"}
    assert await shown(min="200", max="999,99") == {"2002", "3001"}
    # What does not read is ignored, not a 500.
    assert await shown(**{"from": "yesterday", "min": "lots"}) == {"2001", "2002", "3001"}

    page = (await client.get(url, params={"min": "200"})).text
    assert f'href="/shops/{shop.id}/documents.csv?min=200"' in page
    export = await client.get(f"{url}.csv", params={"min": "200"})
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    assert export.headers["content-disposition"].startswith('attachment; filename="documents-')
    rows = list(csv.reader(io.StringIO(export.text)))
    assert rows[0][:3] == ["created_at", "order_number", "order_id"]
    assert [(r[1], r[7]) for r in rows[1:]] == [("3001", "999.99"), ("2002", "250.00")]
    assert all(not cell.startswith("=") for row in rows for cell in row)


async def test_the_export_streams_every_page(
    client: httpx.AsyncClient, pool: Pool, vault: Vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop, _ = await owner_of_shop(client, pool, vault)
    await many_documents(pool, shop.id, 23)
    monkeypatch.setattr(documents_web, "EXPORT_BATCH", 5)
    export = await client.get(f"/shops/{shop.id}/documents.csv")
    rows = list(csv.reader(io.StringIO(export.text)))[1:]
    ids = [int(r[3]) for r in rows]
    newest_first = await pool.fetch(
        "SELECT id FROM documents WHERE shop_id = $1 ORDER BY created_at DESC, id DESC", shop.id
    )
    assert ids == [r["id"] for r in newest_first] and len(ids) == 23
