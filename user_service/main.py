"""user_service process: wiring and start."""

from __future__ import annotations

import logging

from grpc import aio

from microfinance.user.v1 import user_pb2_grpc
from shared.grpc.server import ServiceDefinition
from shared.runtime import Infrastructure, run_service, service_identity
from shared.search import SearchUnavailable, create_es_client
from user_service.adapters.auth_client import GrpcCredentials
from user_service.adapters.borrower_cache import BorrowerCache
from user_service.adapters.borrower_repository import BorrowerRepository
from user_service.adapters.borrower_search import BorrowerSearch
from user_service.adapters.staff_repository import StaffRepository
from user_service.borrower_service import BorrowerService
from user_service.consumers import BorrowerIndexer, search_consumer
from user_service.grpc_api import (
    ACCESS,
    BORROWER_SERVICE,
    USER_SERVICE,
    BorrowerServicer,
    UserServicer,
)
from user_service.migrations import REGISTRY
from user_service.service import StaffService

SERVICE = "user"
log = logging.getLogger(__name__)


async def build(infra: Infrastructure) -> ServiceDefinition:
    await REGISTRY.apply(infra.db)
    settings = infra.settings
    staff = StaffService(
        StaffRepository(infra.db),
        GrpcCredentials(infra.auth_channel(), service_identity(infra)),
        infra.in_transaction,
        infra.outbox,
        phone_region=settings.default_phone_region,
    )
    users = UserServicer(staff)

    # Search is secondary: with Elasticsearch down the service starts and writes,
    # and only search answers UNAVAILABLE.
    es = create_es_client(
        settings.es_url_or_default(), request_timeout=settings.es_request_timeout_seconds
    )

    async def close_es() -> None:
        await es.close()

    infra.closers.append(close_es)
    search = BorrowerSearch(
        es, settings.es_index_prefix, phone_region=settings.default_phone_region
    )
    try:
        await search.ensure_index()
    except SearchUnavailable:
        log.warning("elasticsearch is unavailable; borrower search is down until it answers")
    borrower_repo = BorrowerRepository(infra.db)
    borrower_service = BorrowerService(
        borrower_repo,
        StaffRepository(infra.db),
        BorrowerCache(infra.cache),
        search,
        infra.in_transaction,
        infra.outbox,
        phone_region=settings.default_phone_region,
        timezone=settings.business_tz(),
    )
    borrowers = BorrowerServicer(borrower_service)
    indexer = search_consumer(
        settings, infra.mongo, infra.db, BorrowerIndexer(borrower_repo, search)
    )

    def register(server: aio.Server) -> None:
        user_pb2_grpc.add_UserServiceServicer_to_server(users, server)
        user_pb2_grpc.add_BorrowerServiceServicer_to_server(borrowers, server)

    return infra.definition(
        register, [USER_SERVICE, BORROWER_SERVICE], ACCESS, background=[indexer]
    )


def main() -> None:
    run_service(SERVICE, build)


if __name__ == "__main__":
    main()
