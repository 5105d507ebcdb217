"""A voucher's PDF: the shop's invoice fetched from the URL the shop gave, or decoded from the
base64 it sent (`gateway.receipt` renders one when it sent neither).

Fetching a URL a tenant chose is the classic server-side request forgery: the URL (or a
redirect, or a DNS answer) may point at the gateway's own network — Postgres, Redis, a cloud
metadata endpoint. So `fetch_pdf`, under the production policy:

- takes `https` only, and no URL carrying credentials in its messages;
- resolves the host itself and refuses it when any address it resolves to is not public
  (loopback, private, link-local, shared, multicast, reserved, unspecified, and IPv4
  addresses embedded in IPv6 — mapped, 6to4, Teredo, NAT64 — judged as the IPv4 they carry);
- then connects to the address it checked, not to the name (no second lookup an attacker's
  DNS could answer differently): the request goes to the IP, with the `Host` header and the
  TLS server name (SNI, and the certificate check) of the original host;
- follows at most `max_redirects` redirects by hand, checking every hop the same way;
- reads at most 6 MiB (Dinero's limit): a larger `Content-Length` is refused before the body,
  a body that grows past it is cut off while streaming;
- wants `Content-Type: application/pdf` and a body that starts with `%PDF-`;
- gives up after 5 s to connect and 15 s in all.

It uses a client of its own per fetch: no proxy from the environment (a proxy would resolve
the name again), no connection pool shared with Dinero's traffic.

Every refusal is a `PdfRefused` whose reason an owner can act on; a host that does not answer
or answers 5xx is `PdfUnavailable` (try again later). Messages name the URL without its
credentials, query or path (a signed URL's secret may sit in any of them): scheme, host and
the file's name only.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit

import httpx

from gateway.orders import MAX_PDF_BYTES

PDF_MAGIC: Final = b"%PDF-"
PDF_TYPE: Final = "application/pdf"
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
_TRANSIENT: Final = frozenset({408, 425, 429})
_NAT64: Final = ipaddress.ip_network("64:ff9b::/96")
_MIB: Final = 1024 * 1024

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]


@dataclass(frozen=True)
class FetchPolicy:
    """Where a PDF may come from. The defaults are production's; tests (and `gateway dev`,
    serving PDFs from the developer's machine) loosen `allow_http` and `allow_loopback`.
    Private addresses are refused under every policy."""

    allow_http: bool = False
    allow_loopback: bool = False
    max_bytes: int = MAX_PDF_BYTES
    max_redirects: int = 3
    connect_timeout: float = 5.0
    total_timeout: float = 15.0


PRODUCTION: Final = FetchPolicy()


@dataclass(frozen=True)
class PdfFile:
    name: str
    content: bytes = field(repr=False)


class PdfRefused(Exception):
    """The PDF cannot be used as given: `reason` says why, for the owner."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PdfUnavailable(Exception):
    """The PDF's host did not deliver it this time (a timeout, a 5xx): try again later."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- fetching --------------------------------------------------------------------------------


async def system_resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (IPv4 and IPv6)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def fetch_pdf(
    url: str, policy: FetchPolicy = PRODUCTION, *, resolve: Resolver = system_resolve
) -> PdfFile:
    """The PDF at `url`, under `policy` (see the module's docstring)."""
    shown = display_url(url)
    timeout = httpx.Timeout(policy.total_timeout, connect=policy.connect_timeout)
    try:
        async with (
            asyncio.timeout(policy.total_timeout),
            httpx.AsyncClient(trust_env=False, follow_redirects=False, timeout=timeout) as client,
        ):
            return await _follow(client, url, policy, resolve)
    except TimeoutError:
        raise PdfUnavailable(
            f"{shown} did not deliver the PDF within {policy.total_timeout:g} seconds"
        ) from None
    except httpx.TimeoutException:
        raise PdfUnavailable(f"{shown} did not answer in time") from None
    except httpx.TransportError as exc:
        raise PdfUnavailable(f"Could not fetch {shown}: {type(exc).__name__}") from None


async def _follow(
    client: httpx.AsyncClient, url: str, policy: FetchPolicy, resolve: Resolver
) -> PdfFile:
    current = _parse(url)
    for hop in range(policy.max_redirects + 1):
        shown = display_url(str(current))
        address = await _checked_address(current, policy, resolve)
        host = current.raw_host.decode("ascii")
        headers = {"Host": _host_header(current), "Accept": PDF_TYPE, "Accept-Encoding": "identity"}
        extensions = {"sni_hostname": host} if current.scheme == "https" else {}
        pinned = current.copy_with(host=str(address))
        async with client.stream("GET", pinned, headers=headers, extensions=extensions) as answer:
            if answer.status_code in _REDIRECTS:
                location = answer.headers.get("location")
                if not location:
                    raise PdfRefused(f"{shown} redirected without saying where to")
                if hop == policy.max_redirects:
                    raise PdfRefused(
                        f"{display_url(url)} redirected more than {policy.max_redirects} times"
                    )
                current = _parse_redirect(current, location, shown)
                continue
            _check_answer(answer, shown, policy)
            content = await _read(answer, shown, policy)
            return PdfFile(_file_name(current), content)
    raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover


def _parse(url: str) -> httpx.URL:
    shown = display_url(url)
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError):
        raise PdfRefused(f"{shown} is not a valid URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.raw_host:
        raise PdfRefused(f"{shown} is not an http(s) URL")
    return parsed


def _parse_redirect(current: httpx.URL, location: str, shown: str) -> httpx.URL:
    try:
        target = current.join(location)
    except (httpx.InvalidURL, ValueError):
        raise PdfRefused(f"{shown} redirected to an invalid URL") from None
    if target.scheme not in ("http", "https") or not target.raw_host:
        raise PdfRefused(f"{shown} redirected to a URL that is not http(s)")
    return target


async def _checked_address(url: httpx.URL, policy: FetchPolicy, resolve: Resolver) -> IpAddress:
    """The address to connect to, once every address the host resolves to has passed."""
    shown = display_url(str(url))
    if url.scheme != "https" and not policy.allow_http:
        raise PdfRefused(f"{shown} is not https: the gateway fetches PDFs over https only")
    host = url.raw_host.decode("ascii")
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        literal: IpAddress | None = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        found = [str(literal)]
    else:
        try:
            found = await resolve(host, port)
        except socket.gaierror as exc:
            if exc.errno == socket.EAI_AGAIN:
                raise PdfUnavailable(f"Could not look up {shown} just now") from None
            raise PdfRefused(f"{shown}: no such host") from None
        except UnicodeError:  # an empty or over-long label ("a..b"): the IDNA codec says no
            raise PdfRefused(f"{shown}: not a valid host name") from None
        if not found:
            raise PdfRefused(f"{shown}: no such host")
    addresses = [ipaddress.ip_address(text.split("%", 1)[0]) for text in found]
    for address in addresses:
        problem = address_problem(address, policy)
        if problem is not None:
            raise PdfRefused(
                f"{shown} points to {problem} ({address}); the gateway fetches PDFs from "
                "public addresses only"
            )
    return addresses[0]


def address_problem(address: IpAddress, policy: FetchPolicy = PRODUCTION) -> str | None:
    """Why the gateway must not connect to `address` (None: it may)."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return address_problem(embedded, policy)
    if address.is_loopback:
        return None if policy.allow_loopback else "a loopback address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_reserved:
        return "a reserved address"
    if address.is_private or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local):
        return "a private address"  # site-local fec0::/10 is deprecated, but private still
    if not address.is_global:
        return "an address that is not public"
    return None


def _embedded_ipv4(address: IpAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _host_header(url: httpx.URL) -> str:
    host = url.raw_host.decode("ascii")
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    return f"{host}:{url.port}" if url.port is not None else host


def _check_answer(answer: httpx.Response, shown: str, policy: FetchPolicy) -> None:
    status = answer.status_code
    if status >= 500 or status in _TRANSIENT:
        raise PdfUnavailable(f"{shown} answered HTTP {status}")
    if status != 200:
        raise PdfRefused(f"{shown} answered HTTP {status}, not the PDF")
    kind = answer.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind != PDF_TYPE:
        raise PdfRefused(
            f"{shown} is {_quoted(kind) if kind else 'of no stated type'}, not a PDF ({PDF_TYPE})"
        )
    encoding = answer.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise PdfRefused(f"{shown} sent the PDF compressed ({_quoted(encoding)}); send it as is")
    declared = answer.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > policy.max_bytes:
        raise PdfRefused(f"{shown} is {_size(int(declared))}, more than {_size(policy.max_bytes)}")


async def _read(answer: httpx.Response, shown: str, policy: FetchPolicy) -> bytes:
    content = bytearray()
    async for chunk in answer.aiter_raw():
        content += chunk
        if len(content) > policy.max_bytes:
            raise PdfRefused(f"{shown} is larger than {_size(policy.max_bytes)}")
        if len(content) >= len(PDF_MAGIC) and not content.startswith(PDF_MAGIC):
            raise PdfRefused(f"{shown} says it is a PDF, but its content is not one")
    if not content.startswith(PDF_MAGIC):
        raise PdfRefused(f"{shown} says it is a PDF, but its content is not one")
    return bytes(content)


def decode_pdf_base64(text: str, policy: FetchPolicy = PRODUCTION) -> PdfFile:
    """The shop's PDF sent inline, with the same limits as a fetched one."""
    if len(text) > (policy.max_bytes + 2) // 3 * 4 + 4:
        raise PdfRefused(f"The invoice PDF is larger than {_size(policy.max_bytes)}")
    try:
        content = base64.b64decode(text, validate=True)
    except ValueError:  # binascii.Error, or a character outside ASCII
        raise PdfRefused("The invoice PDF (pdf_base64) is not valid base64") from None
    if len(content) > policy.max_bytes:
        raise PdfRefused(f"The invoice PDF is larger than {_size(policy.max_bytes)}")
    if not content.startswith(PDF_MAGIC):
        raise PdfRefused("The invoice sent as pdf_base64 is not a PDF")
    return PdfFile("invoice.pdf", content)


# --- naming things without leaking them ------------------------------------------------------


def display_url(url: str) -> str:
    """`url` as messages may show it: scheme, host, port and the last path segment — no
    credentials, query or fragment, and no path (signed URLs keep secrets in any of them)."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "the URL"
    if not parts.scheme or not host:
        return "the URL"
    if ":" in host:
        host = f"[{host}]"
    name = parts.path.rsplit("/", 1)[-1]
    name = name if re.fullmatch(r"[\w.\-]{1,80}", name) else ""
    tail = f"/…/{name}" if name and parts.path.count("/") > 1 else f"/{name}"
    return f"{parts.scheme}://{host}{f':{port}' if port else ''}{tail}"


def _file_name(url: httpx.URL) -> str:
    name = url.path.rsplit("/", 1)[-1]
    if re.fullmatch(r"[\w.\-]{1,100}\.pdf", name, flags=re.IGNORECASE):
        return name
    return "invoice.pdf"


def _quoted(text: str) -> str:
    return repr(text[:60])


def _size(count: int) -> str:
    if count >= _MIB:
        return f"{count / _MIB:.1f} MiB".replace(".0 ", " ")
    return f"{count} bytes"
