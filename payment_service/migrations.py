"""payment_service indexes, applied by `microfinance migrate` (and again at start)."""

from __future__ import annotations

from payment_service.adapters.payment_repository import PAYMENT_INDEXES, PAYMENTS
from shared.config import Settings
from shared.events import embedded_outbox_indexes, outbox_indexes
from shared.mongo import IndexRegistry
from shared.runtime import apply_indexes

# A payment's events live in the payment document (embedded outbox); the outbox
# collection is still relayed (events written before the embedded outbox).
REGISTRY = (
    IndexRegistry(PAYMENT_INDEXES)
    .merge(outbox_indexes())
    .merge(embedded_outbox_indexes(PAYMENTS))
)


async def migrate(settings: Settings) -> None:
    await apply_indexes(settings, "payment", REGISTRY)
