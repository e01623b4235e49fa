"""auth_service indexes, applied by `microfinance migrate` (and again at start)."""

from __future__ import annotations

from shared.mongo import IndexRegistry

from auth_service.adapters.repository import INDEXES
from shared.config import Settings
from shared.runtime import apply_indexes

REGISTRY = IndexRegistry(INDEXES)


async def migrate(settings: Settings) -> None:
    await apply_indexes(settings, "auth", REGISTRY)
