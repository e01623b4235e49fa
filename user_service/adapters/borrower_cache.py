"""Read-through Redis cache for GetBorrower, on the fail-open shared ``Cache``.

Entries are whole records (scoping is checked after the read, on every call)
and are deleted after every committed write. If Redis is down, reads go to
MongoDB and the deletes are skipped; the TTL bounds how long an entry written
before an outage can outlive a change made during it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.cache import Cache
from user_service.adapters.borrower_repository import from_doc, to_doc
from user_service.domain.borrower import Borrower

KEY_PREFIX = "user:borrower:"
DEFAULT_TTL_SECONDS = 300
_INSTANTS = ("created_at", "updated_at")


def _to_json(borrower: Borrower) -> dict[str, Any]:
    doc = to_doc(borrower)
    for name in _INSTANTS:
        value = doc.get(name)
        doc[name] = value.isoformat() if isinstance(value, datetime) else None
    return doc


def _from_json(doc: dict[str, Any]) -> Borrower:
    for name in _INSTANTS:
        value = doc.get(name)
        doc[name] = datetime.fromisoformat(value) if isinstance(value, str) else None
    return from_doc(doc)


class BorrowerCache:
    def __init__(self, cache: Cache, ttl_seconds: int = DEFAULT_TTL_SECONDS) -> None:
        self._cache = cache
        self._ttl = ttl_seconds
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(borrower_id: str) -> str:
        return f"{KEY_PREFIX}{borrower_id}"

    async def get(self, borrower_id: str) -> Borrower | None:
        raw = await self._cache.get_json(self.key(borrower_id))
        if not isinstance(raw, dict):
            self.misses += 1
            return None
        try:
            borrower = _from_json(raw)
        except (KeyError, TypeError, ValueError):
            # An entry from an older shape is a miss, and goes away.
            await self._cache.delete(self.key(borrower_id))
            self.misses += 1
            return None
        self.hits += 1
        return borrower

    async def put(self, borrower: Borrower) -> None:
        await self._cache.set_json(self.key(borrower.id), _to_json(borrower), self._ttl)

    async def invalidate(self, borrower_id: str) -> None:
        await self._cache.delete(self.key(borrower_id))
