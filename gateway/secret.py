"""A value that must never be printed.

`Secret` wraps a string (a token, a password, a key) so that `repr`, `str`, f-strings,
tracebacks with locals and log records show `***`. Code that needs the value asks for it
with `reveal()`, which makes every use easy to find.
"""

from __future__ import annotations

import hmac
from typing import Final

MASK: Final = "***"


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> str | tuple[object, ...]:
        # Pickling would copy the value into places (arq job payloads, caches) we do not audit.
        raise TypeError("Secret values cannot be pickled")
