"""WooCommerce's webhook signature: `X-WC-Webhook-Signature` is the base64 HMAC-SHA256 of the
raw body, keyed with the webhook's own secret (`WC_Webhook::generate_signature`)."""

from __future__ import annotations

import base64
import hashlib
import hmac

from gateway.secret import Secret


def sign(body: bytes, secret: Secret) -> str:
    digest = hmac.new(secret.reveal().encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def is_authentic(body: bytes, header: str | None, secrets: list[Secret]) -> bool:
    """Whether `header` is the signature of `body` under one of `secrets` (constant time)."""
    if not header:
        return False
    given = header.strip().encode()
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(sign(body, secret).encode(), given)
    return matched
