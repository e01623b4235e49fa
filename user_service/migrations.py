"""user_service indexes and the borrower search mapping, applied by `microfinance migrate`.

The Mongo indexes are applied again at every start; the search index is
created at start too when Elasticsearch answers (and otherwise by the indexer
before its first write).
"""

from __future__ import annotations

import logging

from shared.config import Settings
from shared.events import outbox_indexes, processed_indexes
from shared.mongo import IndexRegistry
from shared.runtime import apply_indexes
from shared.search import SearchUnavailable, create_es_client, ensure_indices
from user_service.adapters.borrower_repository import BORROWER_INDEXES
from user_service.adapters.borrower_search import SEARCH_INDEXES
from user_service.adapters.staff_repository import STAFF_INDEXES

log = logging.getLogger(__name__)

REGISTRY = (
    IndexRegistry(STAFF_INDEXES)
    .merge(IndexRegistry(BORROWER_INDEXES))
    .merge(outbox_indexes())
    .merge(processed_indexes())
)


async def migrate(settings: Settings) -> None:
    await apply_indexes(settings, "user", REGISTRY)
    es = create_es_client(settings.es_url_or_default())
    try:
        await ensure_indices(es, SEARCH_INDEXES, settings.es_index_prefix)
    except SearchUnavailable:
        # Search is secondary: the service creates the index once Elasticsearch answers.
        log.warning(
            "elasticsearch is unreachable; the borrower search index will be created when "
            "user_service starts (then run `microfinance reindex borrowers` if needed)"
        )
    finally:
        await es.close()
