"""Elasticsearch client, the index-mapping registry and error mapping.

Search is a secondary index rebuilt from MongoDB: when Elasticsearch is down,
writes still succeed and search answers UNAVAILABLE (``SearchUnavailable``).
Each service declares its indices by logical name; the physical name is
``f"{prefix}-{name}"`` so tests and deployments can share a cluster.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from elastic_transport import AiohttpHttpNode, ConnectionTimeout, HttpHeaders, TransportError
from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport._node import NodeApiResponse
from elastic_transport.client_utils import DEFAULT, DefaultType
from elasticsearch import ApiError, AsyncElasticsearch, BadRequestError, NotFoundError
from elasticsearch.helpers import async_bulk

from shared.errors import InvalidArgument, Unavailable

log = logging.getLogger(__name__)


class SearchUnavailable(Unavailable):
    """Elasticsearch cannot be reached; the caller answers UNAVAILABLE (HTTP 503)."""

    def __init__(self, message: str = "search is temporarily unavailable") -> None:
        super().__init__(message)


class _Compat8Node(AiohttpHttpNode):
    """Asks for the 8.x REST API, which Elasticsearch 8 and 9 both serve.

    The 9.x Python client otherwise sends ``compatible-with=9``, which an
    8.x server rejects with HTTP 400.
    """

    async def perform_request(  # type: ignore[override]
        self,
        method: str,
        target: str,
        body: bytes | None = None,
        headers: HttpHeaders | None = None,
        request_timeout: DefaultType | float | None = DEFAULT,
    ) -> NodeApiResponse:
        if headers is not None:
            headers = headers.copy()
            for name in ("accept", "content-type"):
                value = headers.get(name)
                if value and "compatible-with=9" in value:
                    headers[name] = value.replace("compatible-with=9", "compatible-with=8")
        return await super().perform_request(
            method, target, body=body, headers=headers, request_timeout=request_timeout
        )


def create_es_client(
    url: str,
    *,
    request_timeout: float = 5.0,
    max_retries: int = 1,
    **options: Any,
) -> AsyncElasticsearch:
    """An async client; create it inside the running loop. It connects lazily."""
    return AsyncElasticsearch(
        url,
        request_timeout=request_timeout,
        max_retries=max_retries,
        retry_on_timeout=False,
        node_class=_Compat8Node,
        **options,
    )


@asynccontextmanager
async def search_errors(what: str = "search") -> AsyncIterator[None]:
    """Turn "Elasticsearch is not there" into ``SearchUnavailable``; other errors pass."""
    try:
        yield
    except (TransportConnectionError, ConnectionTimeout) as exc:
        raise SearchUnavailable(f"{what} is temporarily unavailable") from exc
    except ApiError as exc:
        # The cluster answered with an error (ApiError is not a TransportError): 5xx (no
        # shards available) and 429 (rejected under load) are outages; 4xx are not.
        if exc.meta.status >= 500 or exc.meta.status == 429:
            raise SearchUnavailable(f"{what} is temporarily unavailable") from exc
        raise
    except TransportError as exc:
        # 5xx from the cluster (e.g. no shards available) is an outage too.
        status = getattr(exc, "status_code", None) or getattr(
            getattr(exc, "meta", None), "status", None
        )
        if isinstance(status, int) and status >= 500:
            raise SearchUnavailable(f"{what} is temporarily unavailable") from exc
        raise


async def es_ping(es: AsyncElasticsearch) -> bool:
    try:
        return bool(await es.ping())
    except TransportError:
        return False


# --------------------------------------------------------------- registry --
@dataclass(frozen=True)
class IndexSpec:
    name: str
    mappings: dict[str, Any]
    settings: dict[str, Any] = field(default_factory=dict)


class IndexMappingRegistry:
    """Logical index name -> settings and mappings, declared once per service."""

    def __init__(self, specs: Iterable[IndexSpec] = ()) -> None:
        self._specs: dict[str, IndexSpec] = {}
        for spec in specs:
            self.add(spec.name, mappings=spec.mappings, settings=spec.settings)

    def add(
        self,
        name: str,
        *,
        mappings: Mapping[str, Any],
        settings: Mapping[str, Any] | None = None,
    ) -> IndexMappingRegistry:
        if name in self._specs:
            raise ValueError(f"index {name!r} is declared twice")
        self._specs[name] = IndexSpec(name, dict(mappings), dict(settings or {}))
        return self

    def __iter__(self) -> Any:
        return iter(self._specs.values())

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def spec(self, name: str) -> IndexSpec:
        return self._specs[name]

    @property
    def names(self) -> list[str]:
        return list(self._specs)

    @staticmethod
    def physical_name(prefix: str, name: str) -> str:
        return f"{prefix}-{name}" if prefix else name


def index_name(prefix: str, name: str) -> str:
    return IndexMappingRegistry.physical_name(prefix, name)


async def ensure_indices(
    es: AsyncElasticsearch, registry: IndexMappingRegistry, prefix: str
) -> dict[str, str]:
    """Create missing indices and add new mapping fields to existing ones.

    Idempotent. Returns ``{physical name: "created" | "updated"}``. A mapping
    change Elasticsearch cannot apply in place (a field's type) raises with a
    hint to reindex.
    """
    outcome: dict[str, str] = {}
    async with search_errors("elasticsearch"):
        for spec in registry:
            physical = index_name(prefix, spec.name)
            if await es.indices.exists(index=physical):
                try:
                    await es.indices.put_mapping(index=physical, **spec.mappings)
                except BadRequestError as exc:
                    raise RuntimeError(
                        f"the mapping of {physical} changed incompatibly; reindex it "
                        f"(microfinance reindex): {exc}"
                    ) from exc
                outcome[physical] = "updated"
                continue
            try:
                await es.indices.create(
                    index=physical, mappings=spec.mappings, settings=spec.settings or None
                )
                outcome[physical] = "created"
            except BadRequestError as exc:
                # Two processes migrating at once: the other one created it.
                if getattr(exc, "error", "") != "resource_already_exists_exception":
                    raise
                outcome[physical] = "updated"
    return outcome


async def delete_indices(es: AsyncElasticsearch, prefix: str, names: Iterable[str]) -> None:
    """Drop the prefix's indices (tests, and a reindex from scratch)."""
    async with search_errors("elasticsearch"):
        for name in names:
            with suppress(NotFoundError):
                await es.indices.delete(index=index_name(prefix, name))


# The longest search text a query takes, and Elasticsearch's default index.max_result_window.
MAX_QUERY = 200
MAX_WINDOW = 10_000


def check_query_length(text: str) -> None:
    """Refuse a search text (``q``) longer than a query takes."""
    if len(text) > MAX_QUERY:
        raise InvalidArgument.field("q", f"must be at most {MAX_QUERY} characters")


def check_window(offset: int, size: int) -> None:
    """Refuse a page of search results beyond the ones Elasticsearch returns."""
    if offset + size > MAX_WINDOW:
        raise InvalidArgument.field(
            "page.page_token", f"search results stop at {MAX_WINDOW}; narrow the query"
        )


def _bulk_status(error: Any) -> Any:
    """The HTTP status of one bulk item error (``{"index": {"status": 409, ...}}``)."""
    item: Any = next(iter(error.values()), {}) if isinstance(error, dict) else {}
    return item.get("status") if isinstance(item, dict) else None


async def bulk_index_versioned(
    es: AsyncElasticsearch,
    index: str,
    documents: Iterable[tuple[str, Mapping[str, Any], int]],
    *,
    kind: str,
    refresh: bool = False,
) -> int:
    """Index ``(id, document, version)`` triples with external versions; returns how many.

    A document the index holds in a newer version is left alone (its 409 is no failure);
    any other per-document failure raises, naming the ``kind`` of record.
    """
    actions = [
        {
            "_op_type": "index",
            "_index": index,
            "_id": doc_id,
            "_source": source,
            "version": version,
            "version_type": "external_gte",
        }
        for doc_id, source, version in documents
    ]
    async with search_errors(f"{kind} indexing"):
        ok, errors = await async_bulk(
            es, actions, chunk_size=500, refresh=refresh, raise_on_error=False, stats_only=False
        )
    failures = [
        e for e in (errors if isinstance(errors, list) else []) if _bulk_status(e) != 409
    ]
    if failures:
        raise RuntimeError(f"indexing {kind}s failed for some documents: {failures[:3]}")
    return int(ok)


class VersionedIndex:
    """One search index of one prefix, of records that carry their version.

    The index is created with its mapping on first use (once per process). Documents carry
    the record's version as an external version, so a late event, a backlog sweeper and a
    reindex can run side by side: an older state never overwrites a newer one.
    """

    def __init__(
        self,
        es: AsyncElasticsearch,
        prefix: str,
        name: str,
        registry: IndexMappingRegistry,
        *,
        kind: str,
    ) -> None:
        self.es = es
        self.prefix = prefix
        self.index = index_name(prefix, name)
        self._registry = registry
        # What the index holds ("loan"), for errors.
        self._kind = kind
        self._ensured = False

    async def ensure_index(self) -> None:
        """Create the index with its mapping (once per process); raises SearchUnavailable."""
        if not self._ensured:
            await ensure_indices(self.es, self._registry, self.prefix)
            self._ensured = True

    async def refresh(self) -> None:
        async with search_errors(f"{self._kind} search"):
            await self.es.indices.refresh(index=self.index)

    async def put_versioned(
        self, documents: Iterable[tuple[str, Mapping[str, Any], int]], *, refresh: bool = False
    ) -> int:
        """Index ``(id, document, version)`` triples; see ``bulk_index_versioned``."""
        return await bulk_index_versioned(
            self.es, self.index, documents, kind=self._kind, refresh=refresh
        )


async def bulk_index(
    es: AsyncElasticsearch,
    index: str,
    documents: Iterable[tuple[str, Mapping[str, Any]]],
    *,
    refresh: bool | str = False,
    chunk_size: int = 500,
) -> int:
    """Index ``(id, document)`` pairs into the physical ``index``; returns how many.

    Any per-document failure raises (with the first few reasons), so a
    reindex never silently skips records.
    """
    actions = (
        {"_op_type": "index", "_index": index, "_id": doc_id, "_source": dict(source)}
        for doc_id, source in documents
    )
    async with search_errors("elasticsearch"):
        ok, errors = await async_bulk(
            es, actions, chunk_size=chunk_size, refresh=refresh, raise_on_error=False,
            stats_only=False,
        )
    if errors:
        sample = errors[:3] if isinstance(errors, list) else errors
        raise RuntimeError(f"bulk indexing into {index} failed for some documents: {sample}")
    return int(ok)


__all__ = [
    "MAX_QUERY",
    "MAX_WINDOW",
    "IndexMappingRegistry",
    "IndexSpec",
    "SearchUnavailable",
    "VersionedIndex",
    "bulk_index",
    "bulk_index_versioned",
    "check_query_length",
    "check_window",
    "create_es_client",
    "delete_indices",
    "ensure_indices",
    "es_ping",
    "index_name",
    "search_errors",
]
