"""Rebuild the borrower search index from MongoDB (`microfinance reindex borrowers`).

The shared steps (and why it is safe while the service is up) are in shared/reindex.py;
``recreate`` drops the index first, and search answers from a partial index until done.
"""

from __future__ import annotations

from elasticsearch import AsyncElasticsearch

from shared.config import Settings
from shared.mongo import Database
from shared.reindex import ReindexOptions, ReindexResult, rebuild_index, with_stores
from user_service.adapters.borrower_repository import BorrowerRepository
from user_service.adapters.borrower_search import INDEX, BorrowerSearch


async def reindex_borrowers(
    db: Database, es: AsyncElasticsearch, prefix: str, options: ReindexOptions | None = None
) -> ReindexResult:
    repo = BorrowerRepository(db)
    search = BorrowerSearch(es, prefix)
    return await rebuild_index(
        search, INDEX, repo.batches, search.put_many, repo.count, options or ReindexOptions()
    )


async def reindex_from_settings(settings: Settings, options: ReindexOptions) -> ReindexResult:
    return await with_stores(
        settings,
        "user",
        lambda db, es: reindex_borrowers(db, es, settings.es_index_prefix, options),
    )
