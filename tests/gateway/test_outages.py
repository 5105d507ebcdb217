import logging

import asyncpg
import pytest
import redis.exceptions

from gateway.outages import Outage, unavailable_service

log = logging.getLogger("tests.outages")


@pytest.mark.parametrize(
    ("error", "service"),
    [
        (redis.exceptions.ConnectionError("Error 111 connecting"), "Redis"),
        (redis.exceptions.TimeoutError("Timeout reading from socket"), "Redis"),
        (ConnectionRefusedError(111, "Connect call failed"), "Postgres"),
        (OSError("Multiple exceptions: [Errno 111] Connect call failed"), "Postgres"),
        (asyncpg.exceptions.ConnectionDoesNotExistError("closed in the middle"), "Postgres"),
        (
            asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
            "Postgres",
        ),
        (asyncpg.exceptions.AdminShutdownError("terminating connection"), "Postgres"),
        (
            # a pooled connection the server cut off while shutting down
            asyncpg.exceptions.InternalClientError("cannot switch to state 15"),
            "Postgres",
        ),
        (asyncpg.exceptions.UniqueViolationError("duplicate key"), None),
        (asyncpg.exceptions.InterfaceError("another operation is in progress"), None),
        (redis.exceptions.ResponseError("WRONGTYPE"), None),
        (ValueError("a bug"), None),
    ],
)
def test_which_errors_mean_a_service_is_away(error: Exception, service: str | None) -> None:
    assert unavailable_service(error) == service


def test_an_outage_is_logged_when_it_starts_and_ends_and_backs_off_to_the_cap(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outage = Outage(log, who="the worker", first=0.5, cap=10.0)
    with caplog.at_level(logging.WARNING, logger=log.name):
        delays = [outage.failed(redis.exceptions.ConnectionError("refused")) for _ in range(8)]
        outage.over()
        outage.over()  # no outage, nothing to say
        again = outage.failed(redis.exceptions.ConnectionError("refused"))
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0]
    assert again == 0.5  # a new outage starts from the first delay
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 3
    assert (
        messages[0]
        == "Redis unavailable to the worker (ConnectionError: refused); retrying until it is back"
    )
    assert messages[1].startswith("Redis is back for the worker after ")
    assert messages[1].endswith("(8 failed tries)")
    assert messages[2].startswith("Redis unavailable")


def test_another_service_failing_meanwhile_is_logged_too(caplog: pytest.LogCaptureFixture) -> None:
    outage = Outage(log, who="jobs")
    with caplog.at_level(logging.WARNING, logger=log.name):
        outage.failed(redis.exceptions.ConnectionError("refused"))
        outage.failed(redis.exceptions.ConnectionError("refused"))
        outage.failed(ConnectionRefusedError(111, "refused"))
    assert [r.getMessage().split(" ", 1)[0] for r in caplog.records] == ["Redis", "Postgres"]
