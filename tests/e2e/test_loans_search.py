"""Loan search: Elasticsearch outages, the indexing backlog, reindex, borrower reassignment.

The outage is simulated by pointing a second search adapter at a port where
nothing listens (the shared Elasticsearch keeps running for other tests).
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from elasticsearch import NotFoundError

from loan_service.adapters.loan_repository import LoanRepository
from loan_service.adapters.product_repository import ProductRepository
from loan_service.adapters.search import LoanSearch, SearchBacklog, SearchBacklogSweeper
from loan_service.consumers import LoanSearchIndexer
from loan_service.reindex import reindex_loans
from loan_service.service import LoanService
from microfinance.loan.v1 import loan_pb2
from microfinance.user.v1 import user_pb2
from shared.events import Event, IdempotentConsumer
from shared.identity import Caller, Role
from shared.mongo import create_mongo_client, transaction
from shared.paging import Page
from shared.reindex import ReindexOptions
from shared.runtime import database_name
from shared.search import SearchUnavailable, create_es_client
from tests.e2e.conftest import Login, Stack
from tests.e2e.loan_support import (
    Clients,
    active_loan,
    clients,
    make_borrower,
    make_product,
    md,
    pay,
    submit,
)
from tests.integration.support import eventually

pytestmark = pytest.mark.e2e

TODAY = datetime.now(UTC).date()
NOWHERE = "http://127.0.0.1:1"


@pytest.fixture(scope="module")
async def c(stack: Stack) -> AsyncIterator[Clients]:
    async with clients(stack) as stubs:
        yield stubs


@pytest.fixture(scope="module")
async def boss(stack: Stack) -> Login:
    return await stack.admin_login()


@pytest.fixture(scope="module")
async def agent(stack: Stack, boss: Login) -> Login:
    return await stack.ready_staff(boss)


@pytest.fixture
async def dead_search(stack: Stack) -> AsyncIterator[LoanSearch]:
    es = create_es_client(NOWHERE, request_timeout=1.0)
    try:
        yield LoanSearch(es, stack.settings.es_index_prefix)
    finally:
        await es.close()


async def test_with_search_down_writes_succeed_and_search_is_unavailable(
    stack: Stack, c: Clients, boss: Login, agent: Login, dead_search: LoanSearch
) -> None:
    infra = stack.infra["loan"]
    service = LoanService(
        ProductRepository(infra.db),
        LoanRepository(infra.db),
        borrowers=None,  # type: ignore[arg-type]  # approval never asks for the borrower
        transactions=infra.in_transaction,
        events=infra.outbox,
        search=dead_search,
    )
    borrower = await make_borrower(c, agent, boss, first_name="Rehema")
    product = await make_product(c, boss)
    loan = await submit(c, agent, borrower, product.id)
    admin = Caller(subject=boss.staff_id, role=Role.ADMIN)
    approved = await service.approve(admin, loan.id)
    assert approved.loan.status.value == "APPROVED"
    with pytest.raises(SearchUnavailable):
        await service.search(admin, "Rehema", None, Page(0, 10, []))

    # The indexer parks the loan in the backlog instead of losing it...
    indexer = LoanSearchIndexer(infra.db, dead_search, lambda: TODAY)
    async with transaction(infra.mongo) as session:
        await indexer(Event("loan.approved", loan.id, {}), session)
    backlog = SearchBacklog(infra.db)
    assert loan.id in await backlog.take(1000)
    # A batch parks its loans (each once, only those that exist) in one write.
    other = await submit(c, agent, await make_borrower(c, agent, boss, first_name="Baraka"),
                         product.id)
    async with transaction(infra.mongo) as session:
        await indexer.batch(
            [
                Event("loan.submitted", other.id, {}),
                Event("loan.product_updated", product.id, {}),
                Event("loan.approved", loan.id, {}),
                Event("loan.approved", "no-such-loan", {}),
                Event("loan.updated", other.id, {}),
            ],
            session,
        )
    parked = await backlog.take(1000)
    assert {loan.id, other.id} <= set(parked)
    assert "no-such-loan" not in parked
    assert product.id not in parked

    # ...and the sweeper indexes it once search answers again.
    live = LoanSearch(create_es_client(stack.settings.es_url_or_default()), dead_search.prefix)
    try:
        sweeper = SearchBacklogSweeper(live, infra.db, lambda: TODAY)
        assert await sweeper.sweep() >= 1
        assert loan.id not in await backlog.take(1000)
        await live.refresh()
        ids, _ = await live.search(q=loan.loan_number, status=None, agent_id=None, offset=0, size=5)
        assert ids[:1] == [loan.id]
    finally:
        await live.es.close()


async def test_the_index_holds_the_latest_loan_after_a_burst_of_writes(
    stack: Stack, c: Clients, boss: Login, agent: Login
) -> None:
    """Repayments while the indexer is stopped: its queue keeps their events, which then
    arrive together and are indexed in batches; the index ends at the loan's last version."""
    (indexer,) = [
        task for task in stack.hosts["loan"].definition.background
        if isinstance(task, IdempotentConsumer) and task.queue_name.endswith(".loan-search")
    ]
    assert indexer.batching
    borrower = await make_borrower(c, agent, boss, first_name="Neema")
    product = await make_product(c, boss)
    loan = await active_loan(
        c, agent, boss, borrower, product.id, disbursed_on=TODAY - timedelta(days=10)
    )
    es = create_es_client(stack.settings.es_url_or_default())
    search = LoanSearch(es, stack.settings.es_index_prefix)
    batches = indexer.batches
    await indexer.stop()
    try:
        for i in range(8):
            await pay(c, agent, loan.id, 500 + i, TODAY)
        current = await c.loans.GetLoan(loan_pb2.GetLoanRequest(id=loan.id), metadata=md(boss))
        version = current.loan.version
        outstanding = current.loan.summary.total_outstanding.amount_minor
    finally:
        await indexer.start()
    try:

        async def indexed() -> dict[str, Any] | None:
            try:
                doc = await es.get(index=search.index, id=loan.id)
            except NotFoundError:
                return None
            source: dict[str, Any] = doc["_source"]
            return source if source["version"] == version else None

        source = await eventually(indexed, within=30, what="the loan's last version indexed")
        assert source["total_outstanding"] == outstanding
        assert indexer.batches > batches  # the waiting events went in batches
    finally:
        await es.close()


async def test_reindex_rebuilds_the_index_from_mongodb(
    stack: Stack, c: Clients, boss: Login, agent: Login
) -> None:
    borrower = await make_borrower(c, agent, boss, first_name="Tumaini")
    product = await make_product(c, boss)
    loan = await submit(c, agent, borrower, product.id)
    settings = stack.settings
    env = {
        **os.environ,
        "MF_MONGO_URL": settings.mongo_url or "",
        "MF_MONGO_DB": settings.mongo_db,
        "MF_ES_URL": settings.es_url or "",
        "MF_ES_INDEX_PREFIX": settings.es_index_prefix,
    }
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "microfinance_cli", "reindex", "loans", "--recreate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert re.search(rf"{settings.es_index_prefix}-loans: (\d+) of \1 loans indexed", done.stdout)
    es = create_es_client(settings.es_url_or_default())
    try:
        ids, total = await LoanSearch(es, settings.es_index_prefix).search(
            q=loan.loan_number, status=None, agent_id=agent.staff_id, offset=0, size=5
        )
        assert ids[:1] == [loan.id]
        assert total >= 1
    finally:
        await es.close()


async def test_reindex_recomputes_stored_figures_of_loans_stored_under_an_older_definition(
    stack: Stack, c: Clients, boss: Login, agent: Login
) -> None:
    """A loan last written before total_outstanding counted interest not yet due keeps the
    old figure in MongoDB and the index until its next write; the reindex recomputes it."""
    borrower = await make_borrower(c, agent, boss, first_name="Zawadi")
    product = await make_product(c, boss)
    loan = await active_loan(
        c, agent, boss, borrower, product.id, disbursed_on=TODAY - timedelta(days=10)
    )
    await pay(c, agent, loan.id, 1_500, TODAY)
    current = await c.loans.GetLoan(loan_pb2.GetLoanRequest(id=loan.id), metadata=md(boss))
    expected = current.loan.summary.total_outstanding.amount_minor
    interest_not_due = current.loan.summary.outstanding_interest.amount_minor
    assert interest_not_due > 0
    settings = stack.settings
    mongo = create_mongo_client(settings.mongo_url_or_default(), app_name="mf-test")
    es = create_es_client(settings.es_url_or_default())
    try:
        loans = mongo[database_name(settings, "loan")]["loans"]
        before = await loans.find_one({"_id": loan.id})
        assert before is not None
        assert before["total_outstanding"] == expected
        # What the older definition stored: the interest not yet due left out.
        stale = expected - interest_not_due
        await loans.update_one({"_id": loan.id}, {"$set": {"total_outstanding": stale}})
        search = LoanSearch(es, settings.es_index_prefix)
        stored = await LoanRepository(mongo[database_name(settings, "loan")]).get(loan.id)
        assert stored.facts.total_outstanding == stale
        await search.put([stored], TODAY)
        index = search.index

        async def indexed_total() -> int:
            doc = await es.get(index=index, id=loan.id)
            return int(doc["_source"]["total_outstanding"])

        assert await indexed_total() == stale

        await reindex_loans(
            mongo[database_name(settings, "loan")],
            es,
            settings.es_index_prefix,
            ReindexOptions(),
            today=TODAY,
        )

        after = await loans.find_one({"_id": loan.id})
        assert after is not None
        assert after["total_outstanding"] == expected
        # Derived figures only: the loan's version (and so any writer's pin) is untouched.
        assert after["version"] == before["version"]
        assert await indexed_total() == expected
    finally:
        await es.close()
        await mongo.close()


async def test_a_reassigned_borrowers_loans_follow_the_new_agent(
    stack: Stack, c: Clients, boss: Login, agent: Login
) -> None:
    newcomer = await stack.ready_staff(boss)
    borrower = await make_borrower(c, agent, boss, first_name="Upendo")
    product = await make_product(c, boss)
    loan = await submit(c, agent, borrower, product.id)
    await c.borrowers.ReassignBorrower(
        user_pb2.ReassignBorrowerRequest(
            id=borrower, new_agent_id=newcomer.staff_id, reason="territory change"
        ),
        metadata=md(boss),
    )

    async def moved() -> bool:
        reply = await c.loans.ListLoans(
            loan_pb2.ListLoansRequest(borrower_id=borrower), metadata=md(newcomer)
        )
        return [x.id for x in reply.loans] == [loan.id]

    await eventually(moved, within=20, what="the loan following its borrower")
    mine = await c.loans.GetLoan(loan_pb2.GetLoanRequest(id=loan.id), metadata=md(newcomer))
    assert mine.loan.agent_id == newcomer.staff_id
    gone = await c.loans.ListLoans(
        loan_pb2.ListLoansRequest(borrower_id=borrower), metadata=md(agent)
    )
    assert list(gone.loans) == []

    # The borrower's first version (assigned to the old agent), redelivered late or
    # handled by a slower replica, must not hand the loan back.
    infra = stack.infra["loan"]
    service = LoanService(
        ProductRepository(infra.db),
        LoanRepository(infra.db),
        borrowers=None,  # type: ignore[arg-type]  # following never asks for a borrower
        transactions=infra.in_transaction,
        events=infra.outbox,
    )
    async with transaction(infra.mongo) as session:
        changed = await service.follow_borrower(
            borrower, agent_id=agent.staff_id, branch_id="", full_name="", session=session,
            version=1,
        )
    assert changed == 0
    still = await c.loans.GetLoan(loan_pb2.GetLoanRequest(id=loan.id), metadata=md(newcomer))
    assert still.loan.agent_id == newcomer.staff_id
