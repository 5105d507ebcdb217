"""A mail server that delivers nowhere: what the gateway "sent", to read in a browser.

`gateway sandbox --smtp-port P` (and so `gateway dev`) listens for SMTP on P and keeps every
message it accepts in memory; `GET /_sandbox/mail` lists them newest first (recipient,
subject, the text body with its links clickable, and the HTML body on a page of its own),
`GET /_sandbox/mail.json` gives the same as JSON for tests and scripts, and
`POST /_sandbox/mail/clear` empties the box. aiosmtpd speaks SMTP (the same library the
Python world tests mail with); the sink accepts any sender and recipient and no login.
"""

from __future__ import annotations

import asyncio
import html
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, Final

from aiosmtpd.smtp import SMTP, Envelope, Session
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

_LINK: Final = re.compile(r"https?://[^\s<>\"']+")
KEEP: Final = 500  # messages; older ones are dropped


@dataclass(frozen=True)
class Received:
    id: int
    sender: str
    recipients: tuple[str, ...]
    subject: str
    text: str
    html: str
    headers: dict[str, str]
    received_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "from": self.sender,
            "to": list(self.recipients),
            "subject": self.subject,
            "text": self.text,
            "html": self.html,
            "headers": self.headers,
            "received_at": self.received_at.isoformat(),
            "links": links(self.text),
        }


def links(text: str) -> list[str]:
    return _LINK.findall(text)


@dataclass
class Mailbox:
    messages: list[Received] = field(default_factory=list)
    # Replies to give instead of accepting, one per message, e.g. "451 4.3.0 try later".
    refusals: list[str] = field(default_factory=list)
    _next_id: int = 1

    def deliver(self, sender: str, recipients: list[str], data: bytes) -> Received:
        parsed = message_from_bytes(data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        text_part = parsed.get_body(preferencelist=("plain",))
        html_part = parsed.get_body(preferencelist=("html",))
        message = Received(
            id=self._next_id,
            sender=sender,
            recipients=tuple(recipients),
            subject=str(parsed.get("Subject", "")),
            text=text_part.get_content() if text_part is not None else "",
            html=html_part.get_content() if html_part is not None else "",
            headers={name: str(value) for name, value in parsed.items()},
            received_at=datetime.now(UTC),
        )
        self._next_id += 1
        self.messages.append(message)
        del self.messages[:-KEEP]
        return message

    def clear(self) -> None:
        self.messages.clear()


class _Handler:
    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox

    # aiosmtpd's name for the hook that receives a message.
    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.mailbox.refusals:
            return self.mailbox.refusals.pop(0)
        content = envelope.original_content or b""
        self.mailbox.deliver(envelope.mail_from or "", list(envelope.rcpt_tos), content)
        return "250 Message accepted for delivery"


async def start_smtp(mailbox: Mailbox, host: str, port: int) -> asyncio.Server:
    """Listens for SMTP on `host`:`port` (0: a free port) in the running event loop."""
    loop = asyncio.get_running_loop()
    handler = _Handler(mailbox)
    return await loop.create_server(
        lambda: SMTP(handler, hostname="sandbox.localhost", ident="gateway sandbox mail sink"),
        host,
        port,
    )


def _mailbox(request: Request) -> Mailbox:
    mailbox: Mailbox = request.app.state.mailbox
    return mailbox


async def page(request: Request) -> Response:
    items = []
    for message in reversed(_mailbox(request).messages):
        body = _LINK.sub(
            lambda m: f'<a href="{m[0]}">{m[0]}</a>', html.escape(message.text, quote=False)
        )
        items.append(
            f'<article class="mail" id="mail-{message.id}">'
            f"<h2>{html.escape(message.subject)}</h2>"
            f"<p><b>To</b> {html.escape(', '.join(message.recipients))} · "
            f"<b>From</b> {html.escape(message.sender)} · "
            f"{message.received_at:%Y-%m-%d %H:%M:%S} UTC · "
            f'<a href="/_sandbox/mail/{message.id}.html">HTML version</a></p>'
            f"<pre>{body}</pre></article>"
        )
    content = "".join(items) or "<p>No mail yet.</p>"
    return HTMLResponse(
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<title>Sent mail (sandbox)</title>"
        "<style>body{font-family:sans-serif;max-width:60rem;margin:2rem auto}"
        "article{border-top:1px solid #ccc;padding:.5rem 0}"
        "pre{white-space:pre-wrap}</style></head><body>"
        f"<h1>Sent mail ({len(_mailbox(request).messages)})</h1>"
        "<p>What the gateway sent, as the sandbox's mail server received it. "
        "Nothing here left this machine.</p>"
        f"{content}</body></html>"
    )


async def html_version(request: Request) -> Response:
    wanted = request.path_params["mail_id"]
    for message in _mailbox(request).messages:
        if message.id == wanted:
            # Shown as sent, in a sandboxed document of its own: no scripts, no forms.
            return HTMLResponse(
                message.html, headers={"Content-Security-Policy": "sandbox allow-popups"}
            )
    return Response("no such mail", status_code=404)


async def as_json(request: Request) -> Response:
    return JSONResponse([m.as_json() for m in _mailbox(request).messages])


async def clear(request: Request) -> Response:
    _mailbox(request).clear()
    return JSONResponse({"cleared": True})


def routes() -> list[Route]:
    return [
        Route("/_sandbox/mail", page, methods=["GET"]),
        Route("/_sandbox/mail.json", as_json, methods=["GET"]),
        Route("/_sandbox/mail/clear", clear, methods=["POST"]),
        Route("/_sandbox/mail/{mail_id:int}.html", html_version, methods=["GET"]),
    ]
