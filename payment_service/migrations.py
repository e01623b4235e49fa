"""payment_service indexes, applied by `microfinance migrate` (and again at start)."""

from __future__ import annotations

from payment_service.adapters.payment_repository import PAYMENT_INDEXES
from shared.config import Settings
from shared.events import outbox_indexes
from shared.mongo import IndexRegistry
from shared.runtime import apply_indexes

REGISTRY = IndexRegistry(PAYMENT_INDEXES).merge(outbox_indexes())


async def migrate(settings: Settings) -> None:
    await apply_indexes(settings, "payment", REGISTRY)
