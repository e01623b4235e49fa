"""Rebuild the borrower search index from MongoDB (`microfinance reindex borrowers`).

MongoDB is the truth and the index a copy of it. In place (the default) every
borrower is written with its version as the external version, so it can run
while the service is up: whatever the consumer indexes meanwhile is never set
back. ``recreate`` drops the index first (for a mapping change Elasticsearch
cannot apply in place); search answers from a partial index until it is done.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from elasticsearch import AsyncElasticsearch

from shared.config import Settings
from shared.mongo import Database, create_mongo_client
from shared.runtime import database_name
from shared.search import create_es_client, delete_indices
from user_service.adapters.borrower_repository import BorrowerRepository
from user_service.adapters.borrower_search import INDEX, BorrowerSearch

Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class ReindexResult:
    index: str
    total: int
    indexed: int


async def reindex_borrowers(
    db: Database,
    es: AsyncElasticsearch,
    prefix: str,
    *,
    recreate: bool = False,
    batch_size: int = 500,
    on_total: Callable[[int], None] | None = None,
    on_progress: Progress | None = None,
) -> ReindexResult:
    """Index every borrower; ``on_progress`` gets the count done after each batch."""
    repo = BorrowerRepository(db)
    search = BorrowerSearch(es, prefix)
    if recreate:
        await delete_indices(es, prefix, [INDEX])
    await search.ensure_index()
    total = await repo.count()
    if on_total is not None:
        on_total(total)
    done = indexed = 0
    async for batch in repo.batches(batch_size):
        indexed += await search.put_many(batch)
        done += len(batch)
        if on_progress is not None:
            on_progress(len(batch))
    await search.refresh()
    return ReindexResult(index=search.index, total=max(total, done), indexed=indexed)


async def reindex_from_settings(
    settings: Settings,
    *,
    recreate: bool = False,
    on_total: Callable[[int], None] | None = None,
    on_progress: Progress | None = None,
) -> ReindexResult:
    mongo = create_mongo_client(settings.mongo_url_or_default(), app_name="mf-reindex")
    es = create_es_client(settings.es_url_or_default(), request_timeout=30.0)
    try:
        return await reindex_borrowers(
            mongo[database_name(settings, "user")],
            es,
            settings.es_index_prefix,
            recreate=recreate,
            on_total=on_total,
            on_progress=on_progress,
        )
    finally:
        await es.close()
        await mongo.close()
