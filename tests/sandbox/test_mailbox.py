"""The sandbox's mail sink: real SMTP in, a page and JSON out, links clickable, the mail's
own text never able to inject markup into the page."""

from __future__ import annotations

import httpx

from gateway.localservices import free_port
from gateway.mail import Mail, parse_smtp_url, send
from sandbox.app import create_sandbox_app
from sandbox.mailbox import Mailbox
from tests.live import serve


async def test_mail_sent_over_smtp_is_listed_with_its_links() -> None:
    mailbox = Mailbox()
    port = free_port()
    app = create_sandbox_app(mail=mailbox, smtp_address=("127.0.0.1", port))
    async with serve(app, lifespan="on") as url, httpx.AsyncClient() as http:
        await send(
            parse_smtp_url(f"smtp://127.0.0.1:{port}"),
            Mail(
                recipient="owner@example.com",
                subject="Reconnect <Sokkeriet>",
                text="Reconnect: http://127.0.0.1:8000/shops/1/dinero/connect?a=1&b=2\n<script>",
                html="<p>Reconnect</p>",
            ),
            sender="gateway@localhost",
        )
        page = await http.get(f"{url}/_sandbox/mail")
        assert page.status_code == 200
        assert "Reconnect &lt;Sokkeriet&gt;" in page.text and "<script>" not in page.text
        assert '<a href="http://127.0.0.1:8000/shops/1/dinero/connect?a=1&amp;b=2">' in page.text
        [mail] = (await http.get(f"{url}/_sandbox/mail.json")).json()
        assert mail["to"] == ["owner@example.com"] and mail["from"] == "gateway@localhost"
        assert mail["links"] == ["http://127.0.0.1:8000/shops/1/dinero/connect?a=1&b=2"]
        shown = await http.get(f"{url}/_sandbox/mail/{mail['id']}.html")
        assert shown.text.strip() == "<p>Reconnect</p>"
        assert shown.headers["content-security-policy"].startswith("sandbox")

        assert (await http.post(f"{url}/_sandbox/mail/clear")).status_code == 200
        assert (await http.get(f"{url}/_sandbox/mail.json")).json() == []
