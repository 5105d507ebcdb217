"""Logging: JSON lines in production, readable lines elsewhere, a request id on every line.

Nothing secret is meant to be logged, and `Secret` prints as `***`; as a second line of
defence every record passes a filter that masks bearer tokens, OAuth token fields and URL
passwords before any handler formats it.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Final

from gateway.settings import Settings

request_id: ContextVar[str] = ContextVar("request_id", default="-")

_MASKS: Final = (
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1***"),
    (
        re.compile(
            r"(?i)((?:access_token|refresh_token|id_token|client_secret|code_verifier|password"
            r"|secret)[\"']?\s*[:=]\s*[\"']?)[^\"'&\s,}]+"
        ),
        r"\1***",
    ),
    (re.compile(r"(://[^:/@\s]+:)[^@/\s]+@"), r"\1***@"),
    # Shop ingest secrets, OAuth codes and single-use links (invite and reset tokens in paths).
    (re.compile(r"whsec_[A-Za-z0-9_-]+"), "whsec_***"),
    (re.compile(r"(?i)(\bcode=)[^&\s]+"), r"\1***"),
    (re.compile(r"(/(?:invite|reset)/)[^/\s?#]+"), r"\1***"),
)


# Every word a mask above needs: a message without one (most lines, such as the access line
# of every request) is passed by one search instead of a substitution per mask.
_SUSPECT: Final = re.compile(
    r"(?i)bearer|token|secret|password|code_verifier|://|whsec_|code=|/invite/|/reset/"
)


def redact(text: str) -> str:
    if not _SUSPECT.search(text):
        return text
    for pattern, replacement in _MASKS:
        text = pattern.sub(replacement, text)
    return text


class _ContextFilter(logging.Filter):
    """Adds the request id and masks secrets in the final message and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: let the handler report it, not the caller
            return True
        # Formatted once: the handler's formatter reads the final text, not the arguments.
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "msg": record.getMessage(),
        }
        if record.exc_text:
            entry["exc"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(settings: Settings, *, process: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_ContextFilter())
    if settings.is_production:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter(
                f"%(asctime)s %(levelname)-7s {process} [%(request_id)s] %(name)s: %(message)s",
                datefmt="%H:%M:%S",
            )
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    # Their own access lines would duplicate ours (and print query strings verbatim).
    logging.getLogger("uvicorn.access").disabled = True
    for noisy in ("httpx", "httpcore", "asyncio", "arq.jobs"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
