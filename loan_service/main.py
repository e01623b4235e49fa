"""loan_service process: wiring and start."""

from __future__ import annotations

import contextlib
import logging

from grpc import aio

from loan_service.adapters.borrower_client import GrpcBorrowers
from loan_service.adapters.eod_repository import EodRepository
from loan_service.adapters.loan_repository import LoanRepository
from loan_service.adapters.product_repository import ProductRepository
from loan_service.adapters.search import LoanSearch, SearchBacklogSweeper
from loan_service.consumers import (
    BORROWER_QUEUE,
    BORROWER_ROUTING_KEYS,
    SEARCH_QUEUE,
    SEARCH_ROUTING_KEYS,
    FollowBorrower,
    LoanSearchIndexer,
)
from loan_service.eod_service import EndOfDay, EndOfDayWorker, EodOptions
from loan_service.grpc_api import (
    ACCESS,
    LOAN_SERVICE,
    PRODUCT_SERVICE,
    LoanProductServicer,
    LoanServicer,
)
from loan_service.migrations import REGISTRY
from loan_service.product_service import ProductService
from loan_service.service import LoanService
from microfinance.loan.v1 import loan_pb2_grpc
from shared.config import Settings
from shared.grpc.client import create_channel
from shared.grpc.server import ServiceDefinition
from shared.runtime import Infrastructure, run_service
from shared.search import SearchUnavailable, create_es_client

SERVICE = "loan"
log = logging.getLogger(__name__)


def eod_options(settings: Settings) -> EodOptions:
    pause = settings.eod_test_pause_after_batches
    if pause and settings.env != "test":
        raise RuntimeError("MF_EOD_TEST_PAUSE_AFTER_BATCHES is only allowed with MF_ENV=test")
    return EodOptions(
        batch_size=settings.eod_batch_size,
        concurrency=settings.eod_concurrency,
        lease_seconds=settings.eod_lease_seconds,
        pause_after_batches=pause,
        give_up_after_failures=settings.eod_give_up_after_failures,
    )


async def build(infra: Infrastructure) -> ServiceDefinition:
    await REGISTRY.apply(infra.db)
    settings = infra.settings
    user_channel = create_channel(
        settings.user_addr, default_timeout=settings.grpc_deadline_seconds
    )
    es = create_es_client(settings.es_url_or_default())

    async def close_clients() -> None:
        await user_channel.close(None)
        await es.close()

    infra.closers.append(close_clients)
    search = LoanSearch(es, settings.es_index_prefix)
    with contextlib.suppress(SearchUnavailable):
        # Also done by `microfinance migrate`; search may be down now, writes do not need it.
        await search.ensure_index()
    products = ProductRepository(infra.db)
    loans = LoanService(
        products,
        LoanRepository(infra.db),
        GrpcBorrowers(user_channel),
        infra.in_transaction,
        infra.outbox,
        search=search,
        timezone=settings.business_tz(),
    )
    eod = EndOfDay(
        EodRepository(infra.db),
        infra.in_transaction,
        infra.outbox,
        timezone=settings.business_tz(),
        options=eod_options(settings),
    )
    loans.after_write = eod.rederive
    infra.samples.append(("eod", eod.sample_progress))
    eod_worker = EndOfDayWorker(eod, at=settings.eod_at, timezone=settings.business_tz())
    search_indexer = LoanSearchIndexer(infra.db, search, loans.today)
    # Batched: the loan events waiting together cost one marker find and one transaction.
    indexer = infra.consumer(
        SEARCH_QUEUE, SEARCH_ROUTING_KEYS, search_indexer, batch_handler=search_indexer.batch
    )
    follower = infra.consumer(BORROWER_QUEUE, BORROWER_ROUTING_KEYS, FollowBorrower(loans))
    sweeper = SearchBacklogSweeper(search, infra.db, loans.today)
    product_servicer = LoanProductServicer(
        ProductService(
            products, infra.in_transaction, infra.outbox, timezone=settings.business_tz()
        )
    )
    loan_servicer = LoanServicer(loans, eod)

    def register(server: aio.Server) -> None:
        loan_pb2_grpc.add_LoanProductServiceServicer_to_server(product_servicer, server)
        loan_pb2_grpc.add_LoanServiceServicer_to_server(loan_servicer, server)

    # Search is optional: its outage answers UNAVAILABLE on search only, health stays Mongo's.
    return infra.definition(
        register,
        [PRODUCT_SERVICE, LOAN_SERVICE],
        ACCESS,
        background=[indexer, follower, sweeper, eod_worker],
    )


def main() -> None:
    run_service(SERVICE, build)


if __name__ == "__main__":
    main()
