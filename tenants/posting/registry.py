"""Posting's backends by name: a document goes to the backend its row names
(`documents.backend`), whichever the worker has. Built once per worker by a composition
root (`workers.backends`), which decides what each name is."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.db import Pool
from tenants.outbox.models import Document
from tenants.posting.attempt import Attempt, CannotPost
from tenants.posting.backend import Backend
from tenants.posting.outcomes import Result


@dataclass(frozen=True)
class Backends:
    """What `tenants.posting.service.post_document` needs of one backend, for any of them:
    the lease is the worker's, the attempt the document's backend's."""

    named: Mapping[str, Backend]
    pool: Pool
    worker_id: str
    lease_for: timedelta
    backoff_base: timedelta

    def attempt(self, document: Document, now: datetime) -> Attempt:
        backend = self.named.get(document.backend)
        if backend is None:
            return _NoBackend(self, document, now)
        return backend.attempt(document, now)

    async def room(self, name: str, organization_id: int, *, within: float) -> int:
        """How many documents of the organisation, in the named backend, its call budget
        can start on within `within` seconds (none for a backend the worker lacks)."""
        backend = self.named.get(name)
        return 0 if backend is None else await backend.room(organization_id, within=within)


class _NoBackend(Attempt):
    """A row naming a backend this worker was not built with: the owner is told."""

    async def run(self) -> Result:
        raise CannotPost(
            f"No accounting system named {self.doc.backend!r} is configured", "no_backend"
        )
