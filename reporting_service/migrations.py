"""reporting_service indexes, applied by `microfinance migrate` (and again at start)."""

from __future__ import annotations

from reporting_service.adapters.read_models import READ_MODEL_INDEXES
from shared.config import Settings
from shared.events import outbox_indexes, processed_indexes
from shared.mongo import IndexRegistry
from shared.runtime import apply_indexes

REGISTRY = IndexRegistry(READ_MODEL_INDEXES).merge(outbox_indexes()).merge(processed_indexes())


async def migrate(settings: Settings) -> None:
    await apply_indexes(settings, "reporting", REGISTRY)
