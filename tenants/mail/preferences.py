"""Which alerts a user gets by mail, and the unsubscribe links that change it without a login.

Everyone gets every alert until they opt out of a kind. A mail's unsubscribe link carries
the user, the kind and an HMAC of both under `GATEWAY_SECRET_KEY`: unguessable, needing no
row of its own, and good for exactly that user and kind (opting out again is harmless, and
opting back in needs a login). The page it opens asks for one click on a button that posts
the same three values; that post is also what a mail client's one-click unsubscribe sends
(RFC 8058). A forged cross-site post can do no more than the link's owner could, and it
cannot be made without the link.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Final, Literal, TypeGuard, get_args
from urllib.parse import urlencode
from uuid import UUID

from gateway.db import Connection, Pool
from gateway.secret import Secret

Kind = Literal[
    "connection.needs_reconnect",
    "connection.renewal_failing",
    "documents.failed",
    "source.stopped",
]
KINDS: Final[tuple[Kind, ...]] = get_args(Kind)
UNSUBSCRIBE_PATH: Final = "/mail/unsubscribe"
PREFERENCES_PATH: Final = "/account/alerts"


def is_kind(value: object) -> TypeGuard[Kind]:
    return value in KINDS


def token(secret_key: Secret, user_id: UUID, kind: Kind) -> str:
    digest = hmac.new(
        secret_key.reveal().encode(),
        f"mail-unsubscribe\x00{user_id}\x00{kind}".encode(),
        hashlib.sha256,
    ).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def token_ok(secret_key: Secret, user_id: UUID, kind: Kind, given: str) -> bool:
    return hmac.compare_digest(token(secret_key, user_id, kind).encode(), given.encode())


def unsubscribe_url(base_url: str, secret_key: Secret, user_id: UUID, kind: Kind) -> str:
    query = urlencode({"u": str(user_id), "k": kind, "t": token(secret_key, user_id, kind)})
    return f"{base_url}{UNSUBSCRIBE_PATH}?{query}"


async def opted_out(conn: Connection | Pool, user_id: UUID) -> set[Kind]:
    rows = await conn.fetch("SELECT kind FROM mail_opt_outs WHERE user_id = $1", user_id)
    return {row["kind"] for row in rows if is_kind(row["kind"])}


async def set_wanted(conn: Connection | Pool, user_id: UUID, wanted: set[Kind]) -> None:
    """The user gets the `wanted` kinds from now on, and none of the others."""
    unwanted = [kind for kind in KINDS if kind not in wanted]
    await conn.execute(
        "WITH gone AS (DELETE FROM mail_opt_outs WHERE user_id = $1 AND kind <> ALL($2::text[])) "
        "INSERT INTO mail_opt_outs (user_id, kind) SELECT $1, unnest($2::text[]) "
        "ON CONFLICT DO NOTHING",
        user_id,
        unwanted,
    )


async def opt_out(conn: Connection | Pool, user_id: UUID, kind: Kind) -> bool:
    """False when there is no such user (a link for a deleted account)."""
    inserted = await conn.fetchval(
        "INSERT INTO mail_opt_outs (user_id, kind) SELECT id, $2 FROM users WHERE id = $1 "
        "ON CONFLICT DO NOTHING RETURNING true",
        user_id,
        kind,
    )
    if inserted:
        return True
    return bool(await conn.fetchval("SELECT true FROM users WHERE id = $1", user_id))
