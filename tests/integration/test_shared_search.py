from __future__ import annotations

import asyncio
import time

import grpc
import pytest

from microfinance_cli.backends import free_port
from shared.errors import Unavailable
from shared.grpc.status import status_code_for
from shared.search import (
    IndexMappingRegistry,
    SearchUnavailable,
    bulk_index,
    create_es_client,
    ensure_indices,
    es_ping,
    index_name,
    search_errors,
)

pytestmark = pytest.mark.integration

BORROWERS = IndexMappingRegistry().add(
    "borrowers",
    settings={
        "number_of_shards": 1,
        "analysis": {
            "analyzer": {
                "folded": {
                    "type": "custom",
                    "tokenizer": "standard",
                    "filter": ["lowercase", "asciifolding"],
                }
            }
        },
    },
    mappings={
        "properties": {
            "full_name": {"type": "text", "analyzer": "folded"},
            "branch_id": {"type": "keyword"},
            "agent_id": {"type": "keyword"},
        }
    },
)


async def test_ensure_indices_is_idempotent(es_client, es_prefix) -> None:
    physical = index_name(es_prefix, "borrowers")
    assert physical == f"{es_prefix}-borrowers"
    assert await ensure_indices(es_client, BORROWERS, es_prefix) == {physical: "created"}
    assert await ensure_indices(es_client, BORROWERS, es_prefix) == {physical: "updated"}
    mapping = (await es_client.indices.get_mapping(index=physical)).body
    props = mapping[physical]["mappings"]["properties"]
    assert props["branch_id"]["type"] == "keyword"
    assert props["full_name"]["type"] == "text"


async def test_new_fields_are_added_to_an_existing_index(es_client, es_prefix) -> None:
    await ensure_indices(es_client, BORROWERS, es_prefix)
    grown = IndexMappingRegistry().add(
        "borrowers",
        mappings={
            "properties": {
                "full_name": {"type": "text", "analyzer": "folded"},
                "branch_id": {"type": "keyword"},
                "agent_id": {"type": "keyword"},
                "phone": {"type": "keyword"},
            }
        },
    )
    await ensure_indices(es_client, grown, es_prefix)
    physical = index_name(es_prefix, "borrowers")
    props = (await es_client.indices.get_mapping(index=physical)).body[physical]["mappings"][
        "properties"
    ]
    assert props["phone"]["type"] == "keyword"


async def test_bulk_index_then_search(es_client, es_prefix) -> None:
    await ensure_indices(es_client, BORROWERS, es_prefix)
    physical = index_name(es_prefix, "borrowers")
    count = await bulk_index(
        es_client,
        physical,
        [
            ("b1", {"full_name": "José Mwangi", "branch_id": "nairobi", "agent_id": "a1"}),
            ("b2", {"full_name": "Amina Okafor", "branch_id": "lagos", "agent_id": "a2"}),
        ],
        refresh=True,
    )
    assert count == 2
    result = await es_client.search(
        index=physical,
        query={
            "bool": {
                "must": {"match": {"full_name": "jose"}},
                "filter": {"term": {"branch_id": "nairobi"}},
            }
        },
    )
    assert [hit["_id"] for hit in result["hits"]["hits"]] == ["b1"]


async def test_search_unavailable_when_elasticsearch_is_unreachable() -> None:
    es = create_es_client(f"http://127.0.0.1:{free_port()}", request_timeout=1.0)
    try:
        assert await es_ping(es) is False
        with pytest.raises(SearchUnavailable) as raised:
            await ensure_indices(es, BORROWERS, "any")
        assert isinstance(raised.value, Unavailable)
        assert status_code_for(raised.value) == grpc.StatusCode.UNAVAILABLE
        with pytest.raises(SearchUnavailable):
            await bulk_index(es, "any-borrowers", [("x", {"full_name": "x"})])

        async def search() -> None:
            async with search_errors("borrower search"):
                await es.search(index="any-borrowers", query={"match_all": {}})

        with pytest.raises(SearchUnavailable, match="borrower search"):
            await search()
    finally:
        await es.close()


async def test_a_cluster_that_does_not_answer_is_unavailable_after_the_request_timeout() -> None:
    """A hung node (accepts, never answers) costs the caller the timeout, then a 503."""

    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client gives up and closes
        writer.close()

    server = await asyncio.start_server(hang, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    es = create_es_client(f"http://127.0.0.1:{port}", request_timeout=0.5)
    try:

        async def search() -> None:
            async with search_errors("borrower search"):
                await es.search(index="any-borrowers", query={"match_all": {}})

        started = time.monotonic()
        with pytest.raises(SearchUnavailable, match="borrower search"):
            await search()
        took = time.monotonic() - started
        # One try only (retry_on_timeout is off): not two timeouts' worth of waiting.
        assert 0.4 <= took < 1.0, took
    finally:
        await es.close()
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("status", [503, 429])
async def test_a_cluster_answering_with_an_error_status_is_unavailable(status: int) -> None:
    """A 503 (no shards available) or 429 (rejected) is an outage, not an internal error."""
    body = b'{"error":{"type":"x","reason":"no shards"},"status":%d}' % status

    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 %d Error\r\nContent-Type: application/json\r\n"
            b"X-Elastic-Product: Elasticsearch\r\nContent-Length: %d\r\n\r\n%s"
            % (status, len(body), body)
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(refuse, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    es = create_es_client(f"http://127.0.0.1:{port}", request_timeout=2.0, max_retries=0)
    try:
        with pytest.raises(SearchUnavailable, match="borrower search"):
            async with search_errors("borrower search"):
                await es.search(index="any-borrowers", query={"match_all": {}})
    finally:
        await es.close()
        server.close()
        await server.wait_closed()


async def test_client_errors_are_not_outages(es_client, es_prefix) -> None:
    from elasticsearch import NotFoundError

    async def search_missing_index() -> None:
        async with search_errors():
            await es_client.search(index=f"{es_prefix}-nope", query={"match_all": {}})

    with pytest.raises(NotFoundError):
        await search_missing_index()
