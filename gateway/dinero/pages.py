"""Dinero's lists: bare arrays, `{"Collection": [...], "Pagination": {...}}` answers and pages,
and the query parameters that page, filter and narrow them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Final, Generic, Self, TypeVar

from gateway.dinero.jsonmoney import ObjectReader, ParseError
from gateway.dinero.transport import Params

MAX_PAGE_SIZE: Final = 1000

T = TypeVar("T")


def parse_list(data: object, parse: Callable[[object], T]) -> list[T]:
    """A top-level JSON array of read models."""
    if not isinstance(data, list):
        raise ParseError(f"expected a list, got {type(data).__name__}")
    return [parse(item) for item in data]


def parse_collection(data: object, parse: Callable[[object], T]) -> list[T]:
    """The items of a `{"Collection": [...], "Pagination": {...}}` answer."""
    return [parse(item) for item in ObjectReader(data).items("Collection")]


def parse_page(data: object, parse: Callable[[object], T]) -> Page[T]:
    f = ObjectReader(data)
    return Page(
        items=tuple(parse(item) for item in f.items("Collection")),
        pagination=Pagination.from_json(f.value("Pagination")),
    )


def list_of(parse: Callable[[object], T]) -> Callable[[object], list[T]]:
    """`parse_list` with its item parser bound, as `Transport._call` takes it."""
    return partial(parse_list, parse=parse)


@dataclass(frozen=True, kw_only=True)
class Pagination:
    page: int
    page_size: int
    result: int
    result_without_filter: int | None

    @classmethod
    def from_json(cls, data: object) -> Self:
        f = ObjectReader(data)
        return cls(
            page=f.integer("Page"),
            page_size=f.integer("PageSize"),
            result=f.integer("Result"),
            result_without_filter=f.integer_or_none("ResultWithoutFilter"),
        )


@dataclass(frozen=True, kw_only=True)
class Page(Generic[T]):
    """One page of a list (`{"Collection": [...], "Pagination": {...}}`)."""

    items: tuple[T, ...]
    pagination: Pagination


def page_params(page: int, page_size: int) -> Params:
    if page < 0 or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page must be >= 0 and the page size 1-{MAX_PAGE_SIZE}")
    return {"page": page, "pageSize": page_size}


def list_params(
    *,
    page: int,
    page_size: int,
    fields: Sequence[str],
    status_filter: Sequence[str] = (),
    query_filter: str | None,
    changes_since: dt.datetime | None,
) -> Params:
    """The query of a paged list: the page, the `fields` to answer with, and those of the
    filters that are given."""
    params = page_params(page, page_size) | {"fields": ",".join(fields)}
    if status_filter:
        params["statusFilter"] = ",".join(status_filter)
    if query_filter is not None:
        params["queryFilter"] = query_filter
    if changes_since is not None:
        params["changesSince"] = _utc_text(changes_since)
    return params


def _utc_text(moment: dt.datetime) -> str:
    """Dinero's `changesSince` format, `YYYY-MM-DDTHH:mm:ssZ`, in UTC."""
    if moment.tzinfo is None:
        raise ValueError("changes_since must be timezone-aware")
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
