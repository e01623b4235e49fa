"""loan_service indexes and ES mappings, applied by `microfinance migrate` (and at start)."""

from __future__ import annotations

import logging

from loan_service.adapters.eod_repository import EOD_INDEXES
from loan_service.adapters.loan_repository import LOAN_INDEXES, LOANS, LoanRepository
from loan_service.adapters.product_repository import PRODUCT_INDEXES
from loan_service.adapters.search import BACKLOG_INDEXES, ES_INDICES
from shared.config import Settings
from shared.events import embedded_outbox_indexes, outbox_indexes, processed_indexes
from shared.mongo import Database, IndexRegistry
from shared.runtime import apply_indexes
from shared.search import create_es_client, ensure_indices

# A loan's own events live in the loan document until sent (embedded outbox, issue 15);
# the outbox collection is still relayed: the end of day's, the borrower moves', the
# products', and events written before the embedded outbox. No data to move: a loan
# stored before simply has no pending embedded event.
REGISTRY = (
    IndexRegistry({**PRODUCT_INDEXES, **LOAN_INDEXES, **BACKLOG_INDEXES, **EOD_INDEXES})
    .merge(outbox_indexes())
    .merge(embedded_outbox_indexes(LOANS))
    .merge(processed_indexes())
)


@REGISTRY.migration("loan-payment-ids")
async def fill_payment_ids(db: Database) -> None:
    """Loans stored before ``payment_ids`` was kept get it (their unique index's key)."""
    filled = await LoanRepository(db).fill_payment_ids()
    logging.getLogger(__name__).info("payment_ids filled in on %d loan(s)", filled)


async def migrate_search(settings: Settings) -> dict[str, str]:
    """Create the loans index (or add new mapping fields to it)."""
    es = create_es_client(settings.es_url_or_default())
    try:
        return await ensure_indices(es, ES_INDICES, settings.es_index_prefix)
    finally:
        await es.close()


async def migrate(settings: Settings) -> None:
    await apply_indexes(settings, "loan", REGISTRY)
    try:
        await migrate_search(settings)
    except Exception as exc:
        # Search is optional for writes; the service's backlog sweeper and reindex catch up.
        logging.getLogger(__name__).warning("loan search index not created: %s", exc)
