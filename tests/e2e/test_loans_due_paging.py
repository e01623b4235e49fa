"""GetLoansDue paging: full pages across the 500 cap, nothing lost or repeated.

An agent's collection sheet can hold more loans than one page. The candidates
come from stored figures and each is replayed as of the date; a candidate with
nothing due is skipped, and that must neither shorten a page nor end the
listing early. Pages are keyset pages, so loans settled between two pages do
not shift the rest.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest

from microfinance.common.v1 import common_pb2
from microfinance.loan.v1 import loan_pb2
from tests.e2e.conftest import Login, Stack
from tests.e2e.loan_support import (
    Clients,
    active_loan,
    clients,
    make_borrower,
    make_product,
    md,
    pay,
)

pytestmark = pytest.mark.e2e

TODAY = datetime.now(UTC).date()
INSTALLMENT = 8_795  # 1000.00 USD over 12 weeks, flat 24% (see loan_support)
DUE = 520  # more than one page of the 500 cap
SKIPPED = 12  # candidates whose replay shows nothing due


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


@pytest.fixture(scope="module")
async def portfolio(
    stack: Stack, c: Clients, agent: Login, boss: Login
) -> tuple[set[str], dict[str, str]]:
    """DUE loans with arrears plus SKIPPED paid-up ones that still look due in the
    stored figures, named so the skipped ones sit at page boundaries.

    Returns the ids expected on today's sheet and every clone's borrower name.
    """
    borrower = await make_borrower(c, agent, boss, first_name="Zawadi", last_name="Kamau")
    product = await make_product(c, boss, max_active_loans_per_borrower=10)
    start = TODAY - timedelta(days=16)  # installments 1 and 2 are overdue
    late = await active_loan(c, agent, boss, borrower, product.id, disbursed_on=start)
    paid = await active_loan(c, agent, boss, borrower, product.id, disbursed_on=start)
    await pay(c, agent, paid.id, 2 * INSTALLMENT, TODAY)
    loans = stack.infra["loan"].db["loans"]
    late_doc = await loans.find_one({"_id": late.id})
    paid_doc = await loans.find_one({"_id": paid.id})
    assert late_doc is not None
    assert paid_doc is not None
    # Clones carry none of the originals' events still waiting in them (their embedded
    # outbox): those are the originals' to publish, once.
    for original in (late_doc, paid_doc):
        original.pop("outbox", None)
        original.pop("outbox_next", None)
    tag = uuid.uuid4().hex[:6].upper()
    docs: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    # Skipped candidates right after positions 6, 7, 13, 499, 500 and so on: where a page
    # of 7 or of 500 ends, and inside pages too.
    skip_after = {6, 7, 13, 250, 498, 499, 500, 501, 505, 510, 511, 519}
    assert len(skip_after) == SKIPPED
    for i in range(DUE):
        doc = dict(late_doc, _id=f"due-{tag}-{i:04d}", loan_number=f"LN-{tag}-{i:06d}")
        doc["borrower_name"] = f"Borrower {i:04d}"
        docs.append(doc)
        names[doc["_id"]] = doc["borrower_name"]
        if i in skip_after:
            ghost = dict(paid_doc, _id=f"paid-{tag}-{i:04d}", loan_number=f"LN-{tag}-{i:06d}X")
            ghost["borrower_name"] = f"Borrower {i:04d}~"
            # Stored figures as before the repayment: a candidate the replay rejects.
            ghost["arrears_since"] = late_doc["arrears_since"]
            # Each clone holds a payment id of its own: the loans' payment ids are unique.
            ghost["transactions"] = [
                {**t, "payment_id": f"{t['payment_id']}-{i:04d}"} if t.get("payment_id") else t
                for t in paid_doc["transactions"]
            ]
            if paid_doc.get("payment_ids"):
                ghost["payment_ids"] = [f"{p}-{i:04d}" for p in paid_doc["payment_ids"]]
            docs.append(ghost)
    await loans.insert_many(docs)
    # The real late loan ("Zawadi Kamau") sorts after every clone.
    return {late.id} | {d["_id"] for d in docs if d["_id"].startswith("due-")}, names


async def all_pages(
    c: Clients, who: Login, size: int, **fields: Any
) -> list[list[loan_pb2.DueLoan]]:
    pages: list[list[loan_pb2.DueLoan]] = []
    token = ""
    while True:
        reply: loan_pb2.GetLoansDueResponse = await c.loans.GetLoansDue(
            loan_pb2.GetLoansDueRequest(
                page=common_pb2.PageRequest(page_size=size, page_token=token), **fields
            ),
            metadata=md(who),
        )
        pages.append(list(reply.loans))
        token = reply.page.next_page_token
        if not token:
            return pages
        assert len(pages) < 1000, "paging does not end"


@pytest.mark.parametrize("size", [500, 7])
async def test_every_page_is_full_and_no_loan_is_lost_or_repeated(
    c: Clients, agent: Login, portfolio: tuple[set[str], dict[str, str]], size: int
) -> None:
    expected, _ = portfolio
    pages = await all_pages(c, agent, size)
    assert all(len(page) == size for page in pages[:-1])
    assert 0 < len(pages[-1]) <= size
    ids = [row.loan_id for page in pages for row in page]
    assert len(ids) == len(set(ids)) == DUE + 1
    assert set(ids) == expected
    # Sheet order: borrower name, then loan number.
    keys = [(row.borrower_name, row.loan_number) for page in pages for row in page]
    assert keys == sorted(keys)
    assert all(row.days_past_due == 9 for page in pages for row in page)
    assert all(list(row.installment_numbers) == [1, 2] for page in pages for row in page)


async def test_an_admin_pages_the_same_sheet(
    c: Clients, boss: Login, agent: Login, portfolio: tuple[set[str], dict[str, str]]
) -> None:
    expected, _ = portfolio
    first: loan_pb2.GetLoansDueResponse = await c.loans.GetLoansDue(
        loan_pb2.GetLoansDueRequest(
            agent_id=agent.staff_id, page=common_pb2.PageRequest(page_size=500)
        ),
        metadata=md(boss),
    )
    assert len(first.loans) == 500
    assert first.page.next_page_token
    # The stored figures count the skipped candidates too: an upper bound, never short.
    assert DUE + 1 <= first.page.total_size <= DUE + 1 + SKIPPED
    pages = await all_pages(c, boss, 500, agent_id=agent.staff_id)
    assert {row.loan_id for page in pages for row in page} == expected


async def test_loans_settled_between_pages_shift_nothing(
    stack: Stack, c: Clients, agent: Login, portfolio: tuple[set[str], dict[str, str]]
) -> None:
    expected, _ = portfolio
    loans = stack.infra["loan"].db["loans"]
    first: loan_pb2.GetLoansDueResponse = await c.loans.GetLoansDue(
        loan_pb2.GetLoansDueRequest(page=common_pb2.PageRequest(page_size=100)),
        metadata=md(agent),
    )
    seen = [row.loan_id for row in first.loans]
    assert len(seen) == 100
    # Three loans of the first page leave the sheet (as if paid up) before page two.
    gone = seen[:3]
    await loans.update_many({"_id": {"$in": gone}}, {"$set": {"status": "CLOSED"}})
    try:
        token = first.page.next_page_token
        rest: list[str] = []
        while token:
            reply: loan_pb2.GetLoansDueResponse = await c.loans.GetLoansDue(
                loan_pb2.GetLoansDueRequest(
                    page=common_pb2.PageRequest(page_size=100, page_token=token)
                ),
                metadata=md(agent),
            )
            rest.extend(row.loan_id for row in reply.loans)
            token = reply.page.next_page_token
        assert not set(rest) & set(seen)
        assert set(rest) == expected - set(seen)
    finally:
        await loans.update_many({"_id": {"$in": gone}}, {"$set": {"status": "ACTIVE"}})


async def test_a_bad_page_token_is_invalid_argument(c: Clients, agent: Login) -> None:
    for token in ("not-a-token", "eyJvIjogNX0"):  # garbage; an offset token of ListLoans
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await c.loans.GetLoansDue(
                loan_pb2.GetLoansDueRequest(page=common_pb2.PageRequest(page_token=token)),
                metadata=md(agent),
            )
        assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert "page.page_token" in (err.value.details() or "")


async def test_a_past_date_lists_loans_paid_since(c: Clients, boss: Login, stack: Stack) -> None:
    """The sheet of a past day shows what was due that day, even if paid since."""
    agent = await stack.ready_staff(boss)
    borrower = await make_borrower(c, agent, boss, first_name="Neema", last_name="Achieng")
    product = await make_product(c, boss, max_active_loans_per_borrower=10)
    start = TODAY - timedelta(days=16)
    loan = await active_loan(c, agent, boss, borrower, product.id, disbursed_on=start)
    first_due = start + timedelta(days=7)
    await pay(c, agent, loan.id, 2 * INSTALLMENT, TODAY)
    today = await c.loans.GetLoansDue(loan_pb2.GetLoansDueRequest(), metadata=md(agent))
    assert [row.loan_id for row in today.loans] == []
    then: loan_pb2.GetLoansDueResponse = await c.loans.GetLoansDue(
        loan_pb2.GetLoansDueRequest(date=first_due.isoformat()), metadata=md(agent)
    )
    assert [row.loan_id for row in then.loans] == [loan.id]
    row = then.loans[0]
    assert row.amount_due.amount_minor == INSTALLMENT
    assert row.arrears_amount.amount_minor == 0
    assert list(row.installment_numbers) == [1]
    # Before anything fell due there is nothing to collect.
    before: loan_pb2.GetLoansDueResponse = await c.loans.GetLoansDue(
        loan_pb2.GetLoansDueRequest(date=(first_due - timedelta(days=1)).isoformat()),
        metadata=md(agent),
    )
    assert list(before.loans) == []
