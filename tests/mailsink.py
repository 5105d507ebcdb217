"""The sandbox's SMTP sink on a free port, and settings that send to it."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator

from gateway.mail import parse_smtp_url
from gateway.settings import Settings
from sandbox.mailbox import Mailbox, start_smtp


@dataclasses.dataclass
class Sink:
    mailbox: Mailbox
    port: int

    def settings(self, settings: Settings) -> Settings:
        return dataclasses.replace(settings, smtp=parse_smtp_url(f"smtp://127.0.0.1:{self.port}"))


@contextlib.asynccontextmanager
async def mail_sink(port: int = 0) -> AsyncIterator[Sink]:
    mailbox = Mailbox()
    server = await start_smtp(mailbox, "127.0.0.1", port)
    try:
        yield Sink(mailbox, server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()
