"""The Elasticsearch index of borrowers: mapping, documents, queries.

The index holds only what search needs (names, phone and ID keys, scope and
status fields); results are read back from MongoDB, so a hit always shows the
current record. Documents carry the borrower's version as an external version:
an older event that arrives late can never overwrite a newer document.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from elasticsearch import AsyncElasticsearch, ConflictError, NotFoundError

from shared.errors import InvalidArgument
from shared.search import (
    IndexMappingRegistry,
    SearchUnavailable,
    VersionedIndex,
    check_query_length,
    check_window,
    search_errors,
)
from user_service.domain.borrower import Borrower
from user_service.domain.search_keys import (
    fold,
    name_keys,
    phone_keys,
    query_id_key,
    query_phone_keys,
)

log = logging.getLogger(__name__)

INDEX = "borrowers"

SETTINGS: dict[str, Any] = {
    "number_of_shards": 1,
    "analysis": {
        "filter": {
            "name_prefix_grams": {"type": "edge_ngram", "min_gram": 1, "max_gram": 20},
        },
        "analyzer": {
            # "José" and "jose" are one token; used at index and query time.
            "name_folded": {
                "type": "custom",
                "tokenizer": "standard",
                "filter": ["lowercase", "asciifolding"],
            },
            # "Mwa" finds "Mwangi": every prefix of every name token is indexed.
            "name_prefix": {
                "type": "custom",
                "tokenizer": "standard",
                "filter": ["lowercase", "asciifolding", "name_prefix_grams"],
            },
        },
    },
}

MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "borrower_id": {"type": "keyword"},
        "full_name": {
            "type": "text",
            "analyzer": "name_folded",
            "fields": {
                "prefix": {
                    "type": "text",
                    "analyzer": "name_prefix",
                    "search_analyzer": "name_folded",
                }
            },
        },
        # Sounds-like keys (user_service.domain.search_keys.sounds_like).
        "name_keys": {"type": "keyword"},
        # Digits of each phone, with and without the country code.
        "phones": {"type": "keyword"},
        # Identity document numbers without punctuation, upper case.
        "id_numbers": {"type": "keyword"},
        "assigned_agent_id": {"type": "keyword"},
        "branch_id": {"type": "keyword"},
        "account_status": {"type": "keyword"},
        "kyc_status": {"type": "keyword"},
        "created_at": {"type": "date"},
        "version": {"type": "long"},
    },
}

SEARCH_INDEXES = IndexMappingRegistry().add(INDEX, mappings=MAPPINGS, settings=SETTINGS)


def search_document(b: Borrower) -> dict[str, Any]:
    p = b.profile
    phones: list[str] = []
    for number in (p.phone, p.alternate_phone):
        for key in phone_keys(number):
            if key not in phones:
                phones.append(key)
    return {
        "borrower_id": b.id,
        "full_name": p.full_name,
        "name_keys": name_keys([p.first_name, p.middle_name, p.last_name]),
        "phones": phones,
        "id_numbers": sorted({k.partition(":")[2] for k in p.identity_keys}),
        "assigned_agent_id": b.assigned_agent_id,
        "branch_id": b.branch_id,
        "account_status": b.account_status.value,
        "kyc_status": b.kyc_status.value,
        "created_at": b.created_at.isoformat() if b.created_at else None,
        "version": b.version,
    }


def build_query(
    q: str, *, agent_id: str | None, account_status: str | None, phone_region: str | None
) -> dict[str, Any]:
    """Names (typos, accents, prefixes, sounds-like), phones in any format, ID numbers."""
    should: list[dict[str, Any]] = []
    if any(ch.isalpha() for ch in q):
        should.extend(_name_clauses(q))
    phones = query_phone_keys(q, phone_region)
    if phones:
        should.append({"terms": {"phones": phones, "boost": 10}})
    id_key = query_id_key(q)
    if id_key:
        should.append({"term": {"id_numbers": {"value": id_key, "boost": 10}}})
    if not should:
        return {"match_none": {}}
    filters: list[dict[str, Any]] = []
    if agent_id:
        filters.append({"term": {"assigned_agent_id": agent_id}})
    if account_status:
        filters.append({"term": {"account_status": account_status}})
    return {"bool": {"should": should, "minimum_should_match": 1, "filter": filters}}


def _name_clauses(q: str) -> list[dict[str, Any]]:
    # Digits-only queries (phones, ID numbers) skip these: they are the costly part.
    clauses: list[dict[str, Any]] = [
        # All words, each within an edit distance: "Mwangy Jose".
        {
            "multi_match": {
                "query": q,
                "fields": ["full_name"],
                "fuzziness": "AUTO",
                "prefix_length": 1,
                "operator": "and",
                "boost": 4,
            }
        },
        # Prefixes as typed: "Mwa", "jos mwan".
        {"match": {"full_name.prefix": {"query": q, "operator": "and", "boost": 2}}},
        # Any word, fuzzily: partial matches rank below whole ones.
        {"match": {"full_name": {"query": q, "fuzziness": "AUTO", "prefix_length": 1}}},
    ]
    clauses.extend(
        {"term": {"name_keys": {"value": k, "boost": 1.5}}} for k in name_keys([q])
    )
    return clauses


def check_query(q: str) -> str:
    text = " ".join(q.split())
    if not text:
        raise InvalidArgument.field("q", "is required: a name, a phone number or an ID number")
    check_query_length(text)
    if not fold(text).strip() and not any(ch.isdigit() for ch in text):
        # Only symbols: nothing any analyzer would keep.
        raise InvalidArgument.field("q", "has no letters or digits to search for")
    return text


class BorrowerSearch(VersionedIndex):
    """Queries and writes the borrowers index of one prefix (documents versioned by the
    borrower's)."""

    def __init__(
        self, es: AsyncElasticsearch, prefix: str, *, phone_region: str | None = None
    ) -> None:
        super().__init__(es, prefix, INDEX, SEARCH_INDEXES, kind="borrower")
        self._phone_region = phone_region

    async def put(self, borrower: Borrower) -> bool:
        """Index one borrower; False when the index already holds a newer version."""
        await self.ensure_index()
        async with search_errors("borrower indexing"):
            try:
                await self.es.index(
                    index=self.index,
                    id=borrower.id,
                    document=search_document(borrower),
                    version=borrower.version,
                    version_type="external_gte",
                )
            except ConflictError:
                return False
        return True

    async def put_many(self, borrowers: Sequence[Borrower], *, refresh: bool = False) -> int:
        """Bulk index; a document the index holds in a newer version is left alone."""
        documents = [(b.id, search_document(b), b.version) for b in borrowers]
        return await self.put_versioned(documents, refresh=refresh)

    async def search(
        self,
        q: str,
        *,
        agent_id: str | None,
        account_status: str | None,
        offset: int,
        size: int,
    ) -> tuple[list[str], int]:
        """Borrower ids, best match first, and the total number of matches."""
        check_window(offset, size)
        query = build_query(
            q, agent_id=agent_id, account_status=account_status, phone_region=self._phone_region
        )
        async with search_errors("borrower search"):
            try:
                result = await self.es.search(
                    index=self.index,
                    query=query,
                    sort=[{"_score": "desc"}, {"borrower_id": "asc"}],
                    from_=offset,
                    size=size,
                    source=False,
                    track_total_hits=True,
                )
            except NotFoundError as exc:
                raise SearchUnavailable(
                    "borrower search is not set up yet: run `microfinance migrate` and "
                    "`microfinance reindex borrowers`"
                ) from exc
        hits = result["hits"]
        total = hits["total"]["value"] if isinstance(hits["total"], dict) else int(hits["total"])
        return [h["_id"] for h in hits["hits"]], int(total)
