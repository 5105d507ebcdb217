"""A platform's order written as the canonical ingest body, parsed by
`gateway.orders.parse_event`, with every problem told in the platform's own JSON pointers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gateway.orders import Event, FieldError, InconsistentOrder, InvalidEvent, parse_event
from gateway.platforms.reading import Reader

# (canonical pointer, the platform's pointer it was read from)
Pointers = list[tuple[str, str]]


def parsed(body: dict[str, Any], pointers: Pointers, reader: Reader) -> Event:
    """`body` parsed as an ingest event, its problems told in the platform's pointers. The
    mapping's own problems come first; when there are some, a total that does not add up is
    their consequence and not repeated."""
    try:
        event = parse_event(body)
    except InconsistentOrder as exc:
        raise_if(reader.errors)
        raise InconsistentOrder(translated(exc.errors, pointers)) from None
    except InvalidEvent as exc:
        raise InvalidEvent([*reader.errors, *translated(exc.errors, pointers)]) from None
    raise_if(reader.errors)
    return event


def translated(errors: Iterable[FieldError], pointers: Pointers) -> list[FieldError]:
    """Each error at the platform field its canonical pointer came from (longest match)."""
    ordered = sorted(pointers, key=lambda pair: len(pair[0]), reverse=True)
    result: list[FieldError] = []
    for error in errors:
        pointer = error.pointer
        for ours, theirs in ordered:
            if pointer == ours or pointer.startswith(f"{ours}/"):
                pointer = theirs + pointer[len(ours) :] if pointer != ours else theirs
                break
        if FieldError(pointer, error.message) not in result:
            result.append(FieldError(pointer, error.message))
    return result


def raise_if(errors: list[FieldError]) -> None:
    if errors:
        raise InvalidEvent(errors)
