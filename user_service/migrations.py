"""user_service indexes, applied by `microfinance migrate` (and again at start)."""

from __future__ import annotations

from shared.config import Settings
from shared.events import outbox_indexes
from shared.mongo import IndexRegistry
from shared.runtime import apply_indexes
from user_service.adapters.staff_repository import STAFF_INDEXES

REGISTRY = IndexRegistry(STAFF_INDEXES).merge(outbox_indexes())


async def migrate(settings: Settings) -> None:
    await apply_indexes(settings, "user", REGISTRY)
