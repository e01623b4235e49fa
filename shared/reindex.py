"""What every search rebuild shares (`microfinance reindex <target>`).

MongoDB is the truth and an index a copy of it. A service names its index and
hands over its records in batches; ``rebuild_index`` drops the index first when
asked (for a mapping change Elasticsearch cannot apply in place), makes sure it
exists, writes the batches with progress, and refreshes it. Written in place,
each record carries its version as the external version, so a rebuild can run
while the service is up: whatever its consumer indexes meanwhile is never set back.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from elasticsearch import AsyncElasticsearch

from shared.config import Settings
from shared.mongo import Database, create_mongo_client
from shared.runtime import database_name
from shared.search import create_es_client, delete_indices

T = TypeVar("T")
R = TypeVar("R")

Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class ReindexOptions:
    # Drop the index first (after a mapping change it cannot take in place).
    recreate: bool = False
    batch_size: int = 500
    on_total: Progress | None = None
    # Called with the count done after each batch.
    on_progress: Progress | None = None


@dataclass(frozen=True, slots=True)
class ReindexResult:
    index: str
    total: int
    indexed: int


class SearchIndex(Protocol):
    @property
    def es(self) -> AsyncElasticsearch: ...

    @property
    def prefix(self) -> str: ...

    @property
    def index(self) -> str: ...

    async def ensure_index(self) -> None: ...

    async def refresh(self) -> None: ...


async def rebuild_index(
    search: SearchIndex,
    name: str,
    batches: Callable[[int], AsyncIterable[Sequence[T]]],
    put: Callable[[Sequence[T]], Awaitable[int]],
    count: Callable[[], Awaitable[int]],
    options: ReindexOptions,
) -> ReindexResult:
    """Write every batch of ``batches(options.batch_size)`` with ``put``."""
    if options.recreate:
        await delete_indices(search.es, search.prefix, [name])
    await search.ensure_index()
    total = await count()
    if options.on_total is not None:
        options.on_total(total)
    done = indexed = 0
    async for batch in batches(options.batch_size):
        indexed += await put(batch)
        done += len(batch)
        if options.on_progress is not None:
            options.on_progress(len(batch))
    await search.refresh()
    return ReindexResult(index=search.index, total=max(total, done), indexed=indexed)


async def with_stores(
    settings: Settings,
    service: str,
    run: Callable[[Database, AsyncElasticsearch], Awaitable[R]],
) -> R:
    """Runs ``run`` with ``service``'s database and an Elasticsearch client, then closes both."""
    mongo = create_mongo_client(settings.mongo_url_or_default(), app_name="mf-reindex")
    es = create_es_client(settings.es_url_or_default(), request_timeout=30.0)
    try:
        return await run(mongo[database_name(settings, service)], es)
    finally:
        await es.close()
        await mongo.close()


__all__ = [
    "Progress",
    "ReindexOptions",
    "ReindexResult",
    "SearchIndex",
    "rebuild_index",
    "with_stores",
]
