"""What happened, counted where every process can add to it: Dinero calls, call-budget waits,
token refreshes, ingest answers, and the time from a document's storing to its posting.

The counts live in Redis (one hash per metric, `HINCRBY`/`HINCRBYFLOAT`), not in the memory
of the process that saw the event: any number of web and worker processes, on any number of
hosts, add to the same numbers, and `/metrics` served by any one web process reads the sum.
A restart loses nothing (a web process, which counts every ingest answer, keeps its counts
in a `Tally` and adds them about once a second: it loses at most that second's), and a Redis
that lost its data looks to Prometheus like a counter reset, which `rate()` handles.

Every label takes its values from a fixed set declared with the metric (anything else is
counted as `other`), so no shop, organisation or document id can become a label.
Recording never fails its caller: a Redis that does not answer loses the count, not the job.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Final

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

# The classic text format, which every Prometheus reads (`generate_latest` writes it; the
# library's CONTENT_TYPE_LATEST names a newer version that older servers do not know).
CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
OTHER: Final = "other"
_PREFIX: Final = "gateway:metrics:"
_SEP: Final = "|"


@dataclass(frozen=True)
class Counter:
    """A counter; `name` without Prometheus' `_total`, which exposition adds."""

    name: str
    documentation: str
    labels: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Histogram:
    name: str
    documentation: str
    buckets: tuple[float, ...]
    labels: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


DOCUMENT_KINDS: Final = ("invoice", "credit_note", "voucher", "payment")

DINERO_CALLS: Final = Counter(
    "gateway_dinero_calls",
    "Calls to the Dinero API by outcome: ok (2xx), 4xx, 429, 5xx, or uncertain (no answer).",
    {"outcome": ("ok", "4xx", "429", "5xx", "uncertain")},
)
RATE_BUDGET_WAITS: Final = Counter(
    "gateway_rate_budget_waits",
    "Dinero call slots not free at once: slept (waited for a reserved slot) or refused "
    "(the document was deferred).",
    {"result": ("slept", "refused")},
)
RATE_BUDGET_WAIT_SECONDS: Final = Counter(
    "gateway_rate_budget_wait_seconds",
    "Seconds spent sleeping for a reserved Dinero call slot.",
)
TOKEN_REFRESHES: Final = Counter(
    "gateway_token_refreshes",
    "Visma Connect token refreshes by outcome: ok, invalid_grant (the connection needs "
    "a reconnect), unavailable (try again later) or rejected (any other refusal).",
    {"outcome": ("ok", "invalid_grant", "unavailable", "rejected")},
)
INGEST_REQUESTS: Final = Counter(
    "gateway_ingest_requests",
    "Order deliveries by source (api: the signed ingest API, shopify: its webhooks) and "
    "HTTP status.",
    {
        "source": ("api", "shopify"),
        "status": ("200", "202", "400", "401", "409", "413", "415", "422", "500"),
    },
)
STORED_TO_POSTED: Final = Histogram(
    "gateway_document_stored_to_posted_seconds",
    "Time from a document being stored to its being posted to Dinero.",
    buckets=(1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600),
    labels={"kind": DOCUMENT_KINDS},
)

COUNTERS: Final = (
    DINERO_CALLS,
    RATE_BUDGET_WAITS,
    RATE_BUDGET_WAIT_SECONDS,
    TOKEN_REFRESHES,
    INGEST_REQUESTS,
)
HISTOGRAMS: Final = (STORED_TO_POSTED,)


def dinero_outcome(status: int | None) -> str:
    """The outcome label of a Dinero call that got `status` (None: no answer came)."""
    if status is None:
        return "uncertain"
    if 200 <= status < 300:
        return "ok"
    if status == 429:
        return "429"
    return "4xx" if status < 500 else "5xx"


def _increment(pipe: Pipeline, key: str, field_: str, amount: float) -> None:
    """A counter's increment, exact for whole numbers (`HINCRBY`), else `HINCRBYFLOAT`."""
    if isinstance(amount, int):
        pipe.hincrby(key, field_, amount)
    else:
        pipe.hincrbyfloat(key, field_, amount)


class Tally:
    """Counter increments kept in this process and added to Redis together, one pipeline at
    most every `every` seconds: a hot path (every ingest answer) pays a dict update instead
    of a Redis round trip. The price: a scrape sees another process's counts up to `every`
    seconds late (its own are flushed first), and a process that dies loses at most that
    long's counts. While Redis is away the increments wait here (the label sets are fixed,
    so what waits stays small) and are added once it is back."""

    def __init__(self, redis: Redis, *, every: float = 1.0) -> None:
        self._redis = redis
        self._every = every
        self._pending: dict[tuple[str, str], float] = {}
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    def __repr__(self) -> str:
        return "Tally()"

    def add(self, counter: Counter, field_: str, amount: float) -> None:
        key = (_PREFIX + counter.name, field_)
        self._pending[key] = self._pending.get(key, 0) + amount
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def flush(self) -> None:
        """Adds what is pending to Redis now; on failure keeps it for the next flush."""
        pending, self._pending = self._pending, {}
        if not pending:
            return
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for (key, field_), amount in pending.items():
                    _increment(pipe, key, field_, amount)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            for waiting, amount in pending.items():
                self._pending[waiting] = self._pending.get(waiting, 0) + amount
            if not self._failing:
                log.warning("metrics kept in memory until Redis answers: %s", exc)
            self._failing = True
            return
        if self._failing:
            log.info("metrics added to Redis again")
        self._failing = False

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._every)
            await self.flush()


class Metrics:
    """Records events into Redis (through `tally`, when given), and reads them back for
    `/metrics`."""

    def __init__(self, redis: Redis, tally: Tally | None = None) -> None:
        self._redis = redis
        self._tally = tally

    def __repr__(self) -> str:
        return "Metrics()"

    async def inc(self, counter: Counter, amount: float = 1, **labels: str) -> None:
        field_ = _field(counter.labels, labels)
        if self._tally is not None:
            self._tally.add(counter, field_, amount)
            return
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                _increment(pipe, _PREFIX + counter.name, field_, amount)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("metric %s not recorded: %s", counter.name, exc)

    async def observe(self, histogram: Histogram, value: float, **labels: str) -> None:
        series = _field(histogram.labels, labels)
        bucket = next((b for b in histogram.buckets if value <= b), math.inf)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                key = _PREFIX + histogram.name
                pipe.hincrby(key, f"{series}{_SEP}{_le(bucket)}", 1)
                pipe.hincrby(key, f"{series}{_SEP}count", 1)
                pipe.hincrbyfloat(key, f"{series}{_SEP}sum", value)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("metric %s not recorded: %s", histogram.name, exc)

    async def families(self) -> list[Metric]:
        """Every counter and histogram, each label combination present (zero if never seen),
        as Prometheus metric families (this process's pending counts included)."""
        if self._tally is not None:
            await self._tally.flush()
        async with self._redis.pipeline(transaction=False) as pipe:
            for metric in (*COUNTERS, *HISTOGRAMS):
                pipe.hgetall(_PREFIX + metric.name)
            stored = await pipe.execute()
        counted, observed = stored[: len(COUNTERS)], stored[len(COUNTERS) :]
        families: list[Metric] = [
            _counter_family(c, _decode(raw)) for c, raw in zip(COUNTERS, counted, strict=True)
        ]
        families += [
            _histogram_family(h, _decode(raw)) for h, raw in zip(HISTOGRAMS, observed, strict=True)
        ]
        return families


def exposition(families: Iterable[Metric]) -> bytes:
    """The families in Prometheus' text format (`CONTENT_TYPE`)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed(list(families)))
    return generate_latest(registry)


class _Fixed(Collector):
    """Families gathered beforehand (asynchronously) for one scrape."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


def _field(allowed: Mapping[str, tuple[str, ...]], given: Mapping[str, str]) -> str:
    if set(given) != set(allowed):
        raise ValueError(f"labels {sorted(given)} given, {sorted(allowed)} expected")
    return _SEP.join(
        given[name] if given[name] in values else OTHER for name, values in allowed.items()
    )


def _series(allowed: Mapping[str, tuple[str, ...]]) -> list[tuple[str, ...]]:
    """Every label combination, `other` included, in a stable order."""
    return list(itertools.product(*((*values, OTHER) for values in allowed.values())))


def _decode(raw: Mapping[bytes | str, bytes | str]) -> dict[str, float]:
    def text(value: bytes | str) -> str:
        return value.decode() if isinstance(value, bytes) else value

    return {text(k): float(text(v)) for k, v in raw.items()}


def _counter_family(counter: Counter, values: dict[str, float]) -> CounterMetricFamily:
    family = CounterMetricFamily(counter.name, counter.documentation, labels=list(counter.labels))
    for series in _series(counter.labels):
        value = values.get(_SEP.join(series), 0.0)
        if OTHER in series and not value:
            continue  # `other` only once something was counted there
        family.add_metric(list(series), value)
    return family


def _histogram_family(histogram: Histogram, values: dict[str, float]) -> HistogramMetricFamily:
    family = HistogramMetricFamily(
        histogram.name, histogram.documentation, labels=list(histogram.labels)
    )
    for series in _series(histogram.labels):
        prefix = _SEP.join(series) + _SEP
        if OTHER in series and not values.get(prefix + "count"):
            continue
        cumulative, buckets = 0.0, []
        for bound in (*histogram.buckets, math.inf):
            cumulative += values.get(prefix + _le(bound), 0.0)
            buckets.append((_le(bound), cumulative))
        family.add_metric(list(series), buckets, sum_value=values.get(prefix + "sum", 0.0))
    return family


def _le(bound: float) -> str:
    return "+Inf" if bound == math.inf else repr(float(bound))  # "1.0", as Prometheus writes
