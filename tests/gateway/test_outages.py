import logging

import asyncpg
import pytest
import redis.exceptions

from gateway.outages import Outage, outage_error, unavailable_service

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


def test_an_error_raised_while_handling_an_outage_is_that_outage() -> None:
    """A rollback on a connection the server cut off fails with the driver's state error;
    what matters is the connection error it was handling (or was raised from)."""
    cut_off = asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed")
    try:
        try:
            raise cut_off
        except asyncpg.exceptions.ConnectionDoesNotExistError:
            raise asyncpg.exceptions.InterfaceError("another operation is in progress")  # noqa: B904
    except asyncpg.exceptions.InterfaceError as during:
        assert unavailable_service(during) == "Postgres"
        assert outage_error(during) is cut_off
    wrapped = RuntimeError("interrupted")
    wrapped.__cause__ = redis.exceptions.ConnectionError("Error 111")
    assert unavailable_service(wrapped) == "Redis"
    assert unavailable_service(RuntimeError("a bug")) is None


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
