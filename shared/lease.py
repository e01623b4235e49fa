"""A named lease in MongoDB: one process at a time does a piece of background work.

The lease is one document ``{_id: name, owner, until}``. Taking it is one
``find_one_and_update`` that matches only when this owner holds it or it has run out, with
``upsert``: a live lease of another owner makes the upsert collide on ``_id``
(DuplicateKeyError), which is the answer "not yours". A holder renews it only once a fifth
of it has gone by, so holding costs one write per few seconds, not one per pass; a holder
that dies (or stops answering) loses it ``seconds`` after its last renewal.
"""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError, PyMongoError

from shared.clock import utcnow


def default_owner() -> str:
    """This process, unique across hosts and restarts."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease:
    def __init__(
        self,
        collection: AsyncCollection[dict[str, Any]],
        name: str,
        *,
        seconds: float,
        owner: str | None = None,
    ) -> None:
        self.collection = collection
        self.name = name
        self.seconds = seconds
        self.owner = owner or default_owner()
        # End of the lease this process last took (None: not held).
        self.held_until: datetime | None = None

    @property
    def held(self) -> bool:
        return self.held_until is not None

    async def hold(self) -> bool:
        """Take or renew the lease; False when another owner holds a live one. Raises what
        MongoDB raises (then the lease counts as not held)."""
        now = utcnow()
        held = self.held_until
        if held is not None and held - now > timedelta(seconds=self.seconds * 0.8):
            return True
        until = now + timedelta(seconds=self.seconds)
        try:
            await self.collection.find_one_and_update(
                {"_id": self.name, "$or": [{"owner": self.owner}, {"until": {"$lt": now}}]},
                {"$set": {"owner": self.owner, "until": until}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            self.held_until = None
            return False  # another owner holds a live lease
        except BaseException:
            self.held_until = None
            raise
        self.held_until = until
        return True

    async def release(self) -> None:
        """Give it up now (a stopping process), so another need not wait it out."""
        self.held_until = None
        with contextlib.suppress(PyMongoError):
            await self.collection.update_one(
                {"_id": self.name, "owner": self.owner},
                {"$set": {"until": datetime(1970, 1, 1, tzinfo=UTC)}},
            )
