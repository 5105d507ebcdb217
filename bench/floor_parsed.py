"""The group-commit floor plus the one piece of work the ingest contract cannot skip: reading
the body as an order event and checking every field and every VAT rate, so that a bad event
gets its 422 listing them all before anything is stored (`to_event`, the signed API's own
parse and check). Run by `bench.ingest` as the contender "floor parsed": the gap between it
and "floor batched" is what that promise costs, and the gap between the gateway and it is
what the gateway adds (the shop's settings, three rows instead of one, the receipt, the job).

An ASGI app wrapping the floor's (`FLOOR`: its file): a POST's body is read, parsed and
checked, then handed on to the floor unchanged. The floor checks the signature after the
parse here, where the gateway checks it before; for CPU per event the order does not matter.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Awaitable, Callable
from typing import Any

from tenants.sources.signed_api import Refused, to_event

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_spec = importlib.util.spec_from_file_location("ingest_floor", os.environ["FLOOR"])
assert _spec is not None and _spec.loader is not None
floor = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(floor)


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http" or scope["method"] != "POST":
        await floor.app(scope, receive, send)
        return
    chunks, more = [], True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(chunks)
    try:
        to_event(body, production=True)
    except Refused:
        await floor._respond(send, 422, b'{"error":"invalid"}')
        return
    replay = [{"type": "http.request", "body": body, "more_body": False}]

    async def again() -> Message:
        return replay.pop() if replay else await receive()

    await floor.app(scope, again, send)
