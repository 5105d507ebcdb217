"""Fetching a shop's PDF as a server should fetch a URL a tenant gave it, against a real HTTP
server on 127.0.0.1. Loopback is where that server lives, so the happy paths run under a test
policy that allows loopback (and http); the production policy is proven separately: it
refuses the same server before connecting. A redirect to a private address is simulated two
honest ways: a redirect to a literal private IP, and one to a name our test resolver maps to a
private IP (the real resolver is not asked)."""

from __future__ import annotations

import asyncio
import base64
import ipaddress
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from gateway.pdf import (
    PRODUCTION,
    FetchPolicy,
    PdfRefused,
    PdfUnavailable,
    address_problem,
    decode_pdf_base64,
    display_url,
    fetch_pdf,
)
from gateway.receipt import receipt_pdf
from tests.gateway.accounting.test_accounting import VALID_VAT, line, make_order
from tests.live import serve

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
LOCAL = FetchPolicy(allow_http=True, allow_loopback=True)
MIB = 1024 * 1024


@dataclass
class Host:
    url: str
    sent: dict[str, int] = field(default_factory=dict)
    hosts: list[str] = field(default_factory=list)


def pdf_host_app(host: Host) -> Starlette:
    async def invoice(request: Request) -> Response:
        host.hosts.append(request.headers.get("host", ""))
        return Response(PDF, media_type="application/pdf")

    def big(request: Request, sized: bool) -> Response:
        async def body() -> AsyncIterator[bytes]:
            host.sent["big"] = 0
            chunk = b"%PDF-" + bytes(64 * 1024 - 5)
            for _ in range(800):  # 50 MiB, at about 30 MiB/s
                if await request.is_disconnected():
                    return
                host.sent["big"] += len(chunk)
                yield chunk
                chunk = bytes(64 * 1024)
                await asyncio.sleep(0.002)

        headers = {"content-length": str(800 * 64 * 1024)} if sized else {}
        return StreamingResponse(body(), media_type="application/pdf", headers=headers)

    async def sized(request: Request) -> Response:
        return big(request, True)

    async def unsized(request: Request) -> Response:
        return big(request, False)

    async def html(request: Request) -> Response:
        return Response("<html><body>Your invoice</body></html>", media_type="text/html")

    async def disguised(request: Request) -> Response:
        return Response("<html>not a pdf</html>", media_type="application/pdf")

    async def gzipped(request: Request) -> Response:
        return Response(PDF, media_type="application/pdf", headers={"content-encoding": "gzip"})

    async def slow(request: Request) -> Response:
        await asyncio.sleep(2)
        return Response(PDF, media_type="application/pdf")

    async def unavailable(request: Request) -> Response:
        return Response("busy", status_code=503)

    async def missing(request: Request) -> Response:
        return Response("no", status_code=404)

    async def to_private(request: Request) -> Response:
        return RedirectResponse("http://10.0.0.7/invoice.pdf", status_code=302)

    async def to_name(request: Request) -> Response:
        port = request.url.port
        return RedirectResponse(f"http://intranet.test:{port}/invoice.pdf", status_code=302)

    async def to_invoice(request: Request) -> Response:
        return RedirectResponse("/invoice.pdf", status_code=301)

    async def loop(request: Request) -> Response:
        hops = int(request.query_params.get("n", "0"))
        return RedirectResponse(f"/loop?n={hops + 1}", status_code=307)

    return Starlette(
        routes=[
            Route("/invoice.pdf", invoice),
            Route("/big-sized.pdf", sized),
            Route("/big.pdf", unsized),
            Route("/page.html", html),
            Route("/disguised.pdf", disguised),
            Route("/gzip.pdf", gzipped),
            Route("/slow.pdf", slow),
            Route("/busy.pdf", unavailable),
            Route("/missing.pdf", missing),
            Route("/to-private", to_private),
            Route("/to-name", to_name),
            Route("/to-invoice", to_invoice),
            Route("/loop", loop),
        ]
    )


@pytest.fixture
async def pdf_host() -> AsyncIterator[Host]:
    host = Host("")
    async with serve(pdf_host_app(host)) as url:
        host.url = url
        yield host


def port_of(host: Host) -> int:
    return int(host.url.rsplit(":", 1)[1])


# --- the happy paths (test policy: loopback allowed) ---------------------------------------------


async def test_a_pdf_is_fetched(pdf_host: Host) -> None:
    found = await fetch_pdf(f"{pdf_host.url}/invoice.pdf", LOCAL)
    assert (found.name, found.content) == ("invoice.pdf", PDF)


async def test_a_redirect_is_followed_and_checked(pdf_host: Host) -> None:
    found = await fetch_pdf(f"{pdf_host.url}/to-invoice", LOCAL)
    assert found.content == PDF


async def test_the_checked_address_is_the_one_connected_to(pdf_host: Host) -> None:
    """The name is resolved once, by us; the request goes to that address with the
    original Host. `pdf.test` resolves nowhere else, so success proves the pin."""
    asked: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["127.0.0.1"]

    url = f"http://pdf.test:{port_of(pdf_host)}/invoice.pdf"
    found = await fetch_pdf(url, LOCAL, resolve=resolve)

    assert found.content == PDF
    assert asked == ["pdf.test"]
    assert pdf_host.hosts == [f"pdf.test:{port_of(pdf_host)}"]


# --- refusals -------------------------------------------------------------------------------------


async def test_production_refuses_http(pdf_host: Host) -> None:
    with pytest.raises(PdfRefused, match="is not https"):
        await fetch_pdf(f"{pdf_host.url}/invoice.pdf")


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "localhost", "2130706433", "[::1]", "[::ffff:127.0.0.1]"]
)
async def test_production_refuses_loopback_however_it_is_written(pdf_host: Host, host: str) -> None:
    url = f"https://{host}:{port_of(pdf_host)}/invoice.pdf"
    with pytest.raises(PdfRefused, match="loopback address") as refused:
        await fetch_pdf(url, PRODUCTION)
    assert "public addresses only" in refused.value.reason
    # The same server under the production policy but with http allowed: still refused.
    http_url = f"http://127.0.0.1:{port_of(pdf_host)}/invoice.pdf"
    with pytest.raises(PdfRefused, match="loopback"):
        await fetch_pdf(http_url, FetchPolicy(allow_http=True))
    assert pdf_host.hosts == []  # never connected


async def test_a_name_resolving_to_any_private_address_is_refused() -> None:
    async def resolve(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "10.0.0.1"]

    with pytest.raises(PdfRefused, match=r"private address \(10\.0\.0\.1\)"):
        await fetch_pdf("https://mixed.test/invoice.pdf", resolve=resolve)


async def test_a_redirect_to_a_private_address_is_refused(pdf_host: Host) -> None:
    with pytest.raises(PdfRefused, match=r"private address \(10\.0\.0\.7\)"):
        await fetch_pdf(f"{pdf_host.url}/to-private", LOCAL)


async def test_a_redirect_to_a_name_that_resolves_privately_is_refused(pdf_host: Host) -> None:
    async def resolve(host: str, port: int) -> list[str]:
        return {"intranet.test": ["192.168.1.20"]}.get(host, ["127.0.0.1"])

    with pytest.raises(PdfRefused, match=r"intranet\.test.*private address"):
        await fetch_pdf(f"{pdf_host.url}/to-name", LOCAL, resolve=resolve)


async def test_redirects_are_limited(pdf_host: Host) -> None:
    with pytest.raises(PdfRefused, match="redirected more than 3 times"):
        await fetch_pdf(f"{pdf_host.url}/loop", LOCAL)


async def test_a_50_mb_file_is_refused_by_its_length_before_its_body(pdf_host: Host) -> None:
    with pytest.raises(PdfRefused, match="50 MiB, more than 6 MiB"):
        await fetch_pdf(f"{pdf_host.url}/big-sized.pdf", LOCAL)
    assert pdf_host.sent.get("big", 0) < 10 * MIB


async def test_a_50_mb_stream_is_cut_off_after_6_mb(pdf_host: Host) -> None:
    with pytest.raises(PdfRefused, match="larger than 6 MiB"):
        await fetch_pdf(f"{pdf_host.url}/big.pdf", LOCAL)
    # Read past 6 MiB, then stopped: the server had sent far less than 50 MiB by then.
    assert 6 * MIB < pdf_host.sent["big"] < 20 * MIB


async def test_an_html_page_is_refused(pdf_host: Host) -> None:
    with pytest.raises(PdfRefused, match="is 'text/html', not a PDF"):
        await fetch_pdf(f"{pdf_host.url}/page.html", LOCAL)


async def test_a_body_that_is_no_pdf_is_refused_whatever_it_says(pdf_host: Host) -> None:
    with pytest.raises(PdfRefused, match="its content is not one"):
        await fetch_pdf(f"{pdf_host.url}/disguised.pdf", LOCAL)


async def test_a_compressed_answer_is_refused(pdf_host: Host) -> None:
    with pytest.raises(PdfRefused, match="compressed"):
        await fetch_pdf(f"{pdf_host.url}/gzip.pdf", LOCAL)


async def test_a_404_is_refused(pdf_host: Host) -> None:
    with pytest.raises(PdfRefused, match="HTTP 404"):
        await fetch_pdf(f"{pdf_host.url}/missing.pdf", LOCAL)


async def test_a_5xx_or_a_timeout_is_for_later(pdf_host: Host) -> None:
    with pytest.raises(PdfUnavailable, match="HTTP 503"):
        await fetch_pdf(f"{pdf_host.url}/busy.pdf", LOCAL)
    hurried = FetchPolicy(allow_http=True, allow_loopback=True, total_timeout=0.3)
    with pytest.raises(PdfUnavailable, match=r"within 0\.3 seconds"):
        await fetch_pdf(f"{pdf_host.url}/slow.pdf", hurried)


async def test_nothing_listens_is_for_later() -> None:
    with pytest.raises(PdfUnavailable, match="Could not fetch"):
        await fetch_pdf("http://127.0.0.1:9/invoice.pdf", LOCAL)


@pytest.mark.parametrize(
    "url", ["ftp://shop.example/f.pdf", "file:///etc/passwd", "not a url", "https:///x.pdf"]
)
async def test_only_http_urls_are_fetched(url: str) -> None:
    with pytest.raises(PdfRefused):
        await fetch_pdf(url, LOCAL)


@pytest.mark.parametrize("host", ["a..b.example", "a" * 70 + ".example"])
async def test_a_host_name_dns_cannot_take_is_refused_not_retried(host: str) -> None:
    with pytest.raises(PdfRefused, match="not a valid host name"):
        await fetch_pdf(f"https://{host}/invoice.pdf", PRODUCTION)


async def test_messages_never_show_credentials_query_or_path(pdf_host: Host) -> None:
    url = f"http://user:s3cret@127.0.0.1:{port_of(pdf_host)}/tok-abc123/page.html?sig=XYZSIG#frag"
    with pytest.raises(PdfRefused) as refused:
        await fetch_pdf(url, LOCAL)
    reason = refused.value.reason
    assert f"http://127.0.0.1:{port_of(pdf_host)}/…/page.html" in reason
    for secret in ("s3cret", "user", "XYZSIG", "tok-abc123", "frag"):
        assert secret not in reason


def test_display_url() -> None:
    assert display_url("https://a:b@shop.example:8443/x/y/inv.pdf?t=1") == (
        "https://shop.example:8443/…/inv.pdf"
    )
    assert display_url("https://shop.example/inv.pdf") == "https://shop.example/inv.pdf"
    assert display_url("https://shop.example/dl?id=9") == "https://shop.example/dl"
    assert display_url("nonsense") == "the URL"
    assert display_url("https://[::1]:99/a") == "https://[::1]:99/a"


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("127.0.0.1", "loopback"),
        ("127.1.2.3", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.0.1", "private"),
        ("::ffff:10.0.0.1", "private"),
        ("2002:a00:1::1", "private"),  # 6to4 of 10.0.0.1
        ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
        ("fc00::1", "private"),
        ("fec0::1", "private"),  # site-local, deprecated but not public
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),  # noqa: S104
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "not public"),  # carrier-grade NAT
        ("192.0.2.1", "private"),  # documentation range
    ],
)
def test_addresses_that_are_not_public_are_refused(address: str, problem: str) -> None:
    found = address_problem(ipaddress.ip_address(address))
    assert found is not None and problem in found


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2001:4860:4860::8888"])
def test_public_addresses_pass(address: str) -> None:
    assert address_problem(ipaddress.ip_address(address)) is None


def test_loopback_may_be_allowed_but_private_never() -> None:
    assert address_problem(ipaddress.ip_address("127.0.0.1"), LOCAL) is None
    assert address_problem(ipaddress.ip_address("10.0.0.1"), LOCAL) is not None


# --- inline PDFs ----------------------------------------------------------------------------------


def test_an_inline_pdf_is_decoded() -> None:
    assert decode_pdf_base64(base64.b64encode(PDF).decode()).content == PDF


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("not base64!", "not valid base64"),
        ("QUJD\u00e6", "not valid base64"),  # a character outside ASCII
        (base64.b64encode(b"<html></html>").decode(), "not a PDF"),
        (base64.b64encode(b"%PDF-" + bytes(2000)).decode(), "larger than 1000 bytes"),
    ],
)
def test_an_inline_pdf_has_the_same_limits(text: str, reason: str) -> None:
    with pytest.raises(PdfRefused, match=reason):
        decode_pdf_base64(text, FetchPolicy(max_bytes=1000))


def test_a_huge_inline_pdf_is_refused_before_decoding() -> None:
    with pytest.raises(PdfRefused, match="larger than 6 MiB"):
        decode_pdf_base64("A" * (9 * MIB))


# --- the receipt ----------------------------------------------------------------------------------


def one_page(content: bytes) -> bool:
    return content.count(b"/Type /Page\n") + content.count(b"/Type /Page ") == 1


def test_a_receipt_is_one_valid_page_and_deterministic() -> None:
    order = make_order(
        [line(f"Sokker nr. {i} — æøå ŁŽ €", quantity="2", unit_price="49.95") for i in range(40)],
        shipping={"name": "GLS", "price": "39.00", "vat_rate": "0.25"},
        discounts=["10.00"],
        country="DE",
        vat_number=None,
    )
    content = receipt_pdf(order, "Sokkeshoppen", vat=Decimal("405.80"))

    assert content.startswith(b"%PDF-")
    assert b"/Count 1" in content and one_page(content)
    assert receipt_pdf(order, "Sokkeshoppen", vat=Decimal("405.80")) == content


def test_a_refund_receipt_renders() -> None:
    from gateway.orders import parse_refund

    order = make_order([line()], country="DE", vat_number=VALID_VAT["DE"])
    refund = parse_refund(
        {"id": "r1", "lines": [line(vat_rate="0")], "total": "100.00"}, prices_include_vat=True
    )
    content = receipt_pdf(order, "Shop", vat=Decimal(0), language="en-GB", refund=refund)
    assert content.startswith(b"%PDF-") and one_page(content)


def test_a_refund_receipt_lists_the_fees_paid_back() -> None:
    from gateway.orders import parse_refund
    from gateway.receipt import _RECEIPT_WORDS, _receipt_rows

    tip = {"name": "Tip", "amount": "20.00", "vat_rate": "0", "kind": "tip"}
    order = make_order([line()], fees=[tip])
    refund = parse_refund(
        {"id": "r1", "lines": [line()], "fees": [tip], "total": "120.00"}, prices_include_vat=True
    )
    rows = _receipt_rows(order, refund, _RECEIPT_WORDS["da-DK"])
    assert [(name, amount) for name, _, _, amount in rows] == [
        ("Sokker", "100.00"),
        ("Tip", "20.00"),
    ]
