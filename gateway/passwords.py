"""Password hashing with scrypt from the standard library.

Parameters follow OWASP's scrypt recommendation (N=2^16, r=8, p=2: 64 MiB, ~0.4 s here)
and are stored in the hash, so they can be raised later and old hashes still verify;
`needs_rehash` tells the login code when to upgrade one. Hashing is CPU-bound: async
callers run it in a thread.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class Cost:
    n: int
    r: int
    p: int


DEFAULT_COST: Final = Cost(n=2**16, r=8, p=2)
MIN_LENGTH: Final = 10
MAX_LENGTH: Final = 1024


class PasswordPolicyError(ValueError):
    pass


def check_policy(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise PasswordPolicyError(f"the password must have at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise PasswordPolicyError(f"the password must have at most {MAX_LENGTH} characters")


def hash_password(password: str, *, cost: Cost = DEFAULT_COST) -> str:
    salt = os.urandom(16)
    digest = _scrypt(password, salt, cost)
    return f"scrypt${cost.n}${cost.r}${cost.p}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str | None) -> bool:
    """Constant-time check; False for a missing or malformed hash (never raises)."""
    if not stored or len(password) > MAX_LENGTH:
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = _scrypt(password, base64.b64decode(salt), Cost(int(n), int(r), int(p)))
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


def needs_rehash(stored: str, *, cost: Cost = DEFAULT_COST) -> bool:
    return not stored.startswith(f"scrypt${cost.n}${cost.r}${cost.p}$")


def _scrypt(password: str, salt: bytes, cost: Cost) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=cost.n, r=cost.r, p=cost.p, maxmem=2**28, dklen=32
    )


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()
