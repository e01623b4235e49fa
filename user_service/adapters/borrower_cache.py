"""Read-through Redis cache for GetBorrower, on the fail-open shared ``Cache``.

Entries are whole records (scoping is checked after the read, on every call),
stored with the record's version. After every committed write the entry is
replaced by a tombstone carrying the new version, and a cache fill is refused
when the tombstone or the entry holds a newer version. So a read that missed,
loaded the old version from MongoDB and writes it back after a concurrent
update has committed cannot leave the old version cached (a plain delete
would: the late write lands after it). If Redis is down, reads go to MongoDB
and the tombstones are skipped; the TTL bounds how long an entry written
before an outage can outlive a change made during it.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from shared.cache import Cache, CacheCounter
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
        self._lookups = CacheCounter("borrower")

    @staticmethod
    def key(borrower_id: str) -> str:
        return f"{KEY_PREFIX}{borrower_id}"

    async def get(self, borrower_id: str) -> Borrower | None:
        found = await self._cache.get_versioned(self.key(borrower_id))
        if found is None:
            self.misses += 1
            self._lookups.miss()
            return None
        try:
            raw = json.loads(found[1])
            borrower = _from_json(raw)
            if borrower.version != found[0]:
                raise ValueError("entry version does not match its record")
        except (KeyError, TypeError, ValueError, AttributeError):
            # An entry from an older shape is a miss, and goes away.
            await self._cache.delete(self.key(borrower_id))
            self.misses += 1
            self._lookups.miss()
            return None
        self.hits += 1
        self._lookups.hit()
        return borrower

    async def put(self, borrower: Borrower) -> bool:
        """Cache a record read from MongoDB; False when a newer version is known (or no Redis)."""
        data = json.dumps(_to_json(borrower), separators=(",", ":"))
        return await self._cache.set_if_newer(
            self.key(borrower.id), data, borrower.version, self._ttl
        )

    async def invalidate(self, borrower_id: str, version: int) -> None:
        """After ``version`` is committed: nothing older is served or cached again.

        The tombstone lives as long as an entry would, far longer than any read in flight.
        """
        await self._cache.invalidate_below(self.key(borrower_id), version, self._ttl)
