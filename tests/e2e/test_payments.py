"""Repayment posting through the gateway, against the real services and MongoDB:
idempotency under concurrency, refusals, scoping, reversal, receipts and queries."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import timedelta
from functools import partial
from typing import Any

import grpc
import httpx
import pytest

from microfinance.loan.v1 import loan_pb2
from microfinance.payment.v1 import payment_pb2, payment_pb2_grpc
from microfinance.user.v1 import user_pb2
from tests.e2e.conftest import Login, Stack
from tests.e2e.loan_support import clients, md
from tests.e2e.payment_support import (
    TODAY,
    Portfolio,
    body,
    loan_for,
    loan_state,
    loan_transactions,
    portfolio,
    post,
)
from tests.integration.support import eventually

pytestmark = pytest.mark.e2e


def payments_db(stack: Stack):
    return stack.infra["payment"].db


async def _events(db: Any, payment_id: str) -> list[dict[str, Any]]:
    """The payment's events: in its own document (embedded outbox), in order."""
    doc = await db.payments.find_one({"_id": payment_id}, {"outbox": 1})
    return list((doc or {}).get("outbox") or [])


async def _sent(db: Any, payment_id: str, event_id: str) -> bool:
    doc = await db.payments.find_one({"_id": payment_id})
    event = next((e for e in (doc or {}).get("outbox") or [] if e["_id"] == event_id), None)
    return bool(event and event["status"] == "sent")


async def test_post_replay_and_key_reuse(stack: Stack, admin: Login) -> None:
    async with clients(stack) as c:
        p = await portfolio(stack, c, admin)
        loan = await loan_for(c, p, days_ago=7)
        key = f"phone-{uuid.uuid4().hex}"

        first = await post(stack, p.agent, loan.id, 26_000, key=key, note="market day")
        assert first.status_code == 201, first.text
        paid = first.json()
        assert paid["status"] == "POSTED"
        assert paid["receipt_number"].startswith(f"RC-{TODAY.year}-")
        assert paid["loan_number"] == loan.loan_number
        assert paid["borrower_name"] == "Amina Wanjiru"
        assert paid["agent_id"] == p.agent.staff_id
        assert paid["value_date"] == TODAY.isoformat()
        assert paid["allocation"]["interest"]["amount_minor"] == 1_000
        assert paid["allocation"]["principal"]["amount_minor"] == 25_000
        assert paid["allocation"]["total"]["amount_minor"] == 26_000
        assert first.headers["Location"] == f"/api/v1/payments/{paid['id']}"

        again = await post(stack, p.agent, loan.id, 26_000, key=key, note="market day")
        assert again.status_code == 200, again.text
        assert again.headers["Idempotency-Replayed"] == "true"
        assert again.json()["id"] == paid["id"]
        assert again.json()["receipt_number"] == paid["receipt_number"]

        other = await post(stack, p.agent, loan.id, 26_001, key=key)
        assert other.status_code == 409, other.text
        error = other.json()["error"]
        assert error["code"] == "ALREADY_EXISTS"
        assert error["existing_id"] == paid["id"]
        assert "Idempotency-Key" in error["message"]

        # Keys belong to their poster: the admin may use the same string.
        admins = await post(stack, admin, loan.id, 100, key=key)
        assert admins.status_code == 201, admins.text
        assert admins.json()["id"] != paid["id"]

        txns = await loan_transactions(c, admin, loan.id)
        assert [t.payment_id for t in txns if t.type == loan_pb2.REPAYMENT] == [
            paid["id"],
            admins.json()["id"],
        ]


async def test_missing_or_bad_requests_record_nothing(stack: Stack, admin: Login) -> None:
    async with clients(stack) as c:
        p = await portfolio(stack, c, admin)
        loan = await loan_for(c, p, days_ago=7)
        r = await stack.client.post(
            "/api/v1/payments", json=body(loan.id, 100), headers=p.agent.headers
        )
        assert r.status_code == 422
        assert r.json()["error"]["fields"][0]["field"] == "Idempotency-Key"

        future = (TODAY.replace(year=TODAY.year + 1)).isoformat()
        r = await post(stack, p.agent, loan.id, 100, value_date=future)
        assert r.status_code == 422
        assert r.json()["error"]["fields"][0]["field"] == "value_date"
        for bad in ({"channel": "CHEQUE"}, {"amount": {"amount_minor": 0, "currency": "USD"}}):
            r = await stack.client.post(
                "/api/v1/payments",
                json={**body(loan.id, 100), **bad},
                headers={**p.agent.headers, "Idempotency-Key": "x1"},
            )
            assert r.status_code == 422, r.text
        assert await payments_db(stack).payments.count_documents({"loan_id": loan.id}) == 0


async def test_100_concurrent_posts_with_one_key_post_once(stack: Stack, admin: Login) -> None:
    async with clients(stack) as c:
        p = await portfolio(stack, c, admin)
        loan = await loan_for(c, p, days_ago=7)
        key = f"flaky-phone-{uuid.uuid4().hex}"
        replies = await asyncio.gather(
            *(post(stack, p.agent, loan.id, 26_000, key=key) for _ in range(100))
        )
        statuses = Counter(r.status_code for r in replies)
        assert statuses == {201: 1, 200: 99}, statuses
        assert len({r.json()["id"] for r in replies}) == 1
        assert len({r.json()["receipt_number"] for r in replies}) == 1
        payment_id = replies[0].json()["id"]

        db = payments_db(stack)
        assert await db.payments.count_documents({"loan_id": loan.id}) == 1
        assert [e["type"] for e in await _events(db, payment_id)] == ["payment.posted"]
        assert await db.outbox.count_documents({}) == 0  # nothing in the outbox collection
        txns = await loan_transactions(c, admin, loan.id)
        assert [t.payment_id for t in txns if t.type == loan_pb2.REPAYMENT] == [payment_id]
        state = await loan_state(c, admin, loan.id)
        assert state.summary.total_paid.amount_minor == 26_000


async def test_50_concurrent_payments_on_one_loan_all_post(stack: Stack, admin: Login) -> None:
    async with clients(stack) as c:
        p = await portfolio(stack, c, admin)
        # 500,000 over 4 weeks: 4 x 130,000 (125,000 principal + 5,000 interest).
        loan = await loan_for(c, p, principal=500_000, days_ago=7)
        amounts = [1_000 + 37 * i for i in range(50)]  # 95,325 in all
        replies = await asyncio.gather(*(post(stack, p.agent, loan.id, a) for a in amounts))
        assert [r.status_code for r in replies] == [201] * 50, [r.text for r in replies][:3]
        receipts = [r.json()["receipt_number"] for r in replies]
        assert len(set(receipts)) == 50
        assert sum(r.json()["allocation"]["total"]["amount_minor"] for r in replies) == 95_325

        state = await loan_state(c, admin, loan.id)
        s = state.summary
        assert s.total_paid.amount_minor == 95_325
        # Installment 1 (due today) takes interest 5,000 first, then principal.
        assert s.interest_paid.amount_minor == 5_000
        assert s.principal_paid.amount_minor == 90_325
        assert s.outstanding_principal.amount_minor == 500_000 - 90_325
        txns = await loan_transactions(c, admin, loan.id)
        assert sorted(t.payment_id for t in txns if t.type == loan_pb2.REPAYMENT) == sorted(
            r.json()["id"] for r in replies
        )


async def test_loan_refusals_are_rejected_payments(stack: Stack, admin: Login) -> None:
    async with clients(stack) as c:
        p = await portfolio(stack, c, admin)
        loan = await loan_for(c, p, days_ago=7)
        quote = await c.loans.GetPayoffQuote(
            loan_pb2.GetPayoffQuoteRequest(loan_id=loan.id), metadata=md(admin)
        )
        payoff = quote.total.amount_minor
        assert payoff == 101_000  # all principal + this week's interest

        key = f"k-{uuid.uuid4().hex}"
        over = await post(stack, p.agent, loan.id, payoff + 1, key=key)
        assert over.status_code == 409, over.text
        error = over.json()["error"]
        assert error["code"] == "FAILED_PRECONDITION"
        assert "payoff amount of 1010.00 USD" in error["message"]
        assert "is REJECTED" in error["message"]
        # The same request again answers the same way and applies nothing.
        again = await post(stack, p.agent, loan.id, payoff + 1, key=key)
        assert (again.status_code, again.json()["error"]["message"]) == (409, error["message"])
        # One payment.rejected event, with the reason, published through the outbox.
        db = payments_db(stack)
        refused = await db.payments.find_one({"loan_id": loan.id, "idempotency_key": key})
        assert refused is not None
        (event,) = await _events(db, refused["_id"])
        assert event["type"] == "payment.rejected"
        assert event["payload"]["code"] == "FAILED_PRECONDITION"
        assert "payoff amount" in event["payload"]["reason"]
        await eventually(
            lambda: _sent(db, refused["_id"], event["_id"]), what="payment.rejected published"
        )

        wrong_key = f"k-{uuid.uuid4().hex}"
        wrong = await post(stack, p.agent, loan.id, 100, currency="KES", key=wrong_key)
        assert wrong.status_code == 422, wrong.text
        assert "USD" in wrong.json()["error"]["message"]
        # The loan service's refusal names the field, and so does every replay of it.
        assert [f["field"] for f in wrong.json()["error"]["fields"]] == ["amount.currency"]
        again = await post(stack, p.agent, loan.id, 100, currency="KES", key=wrong_key)
        assert again.json()["error"]["fields"] == wrong.json()["error"]["fields"]
        early = (TODAY - timedelta(days=30)).isoformat()
        before = await post(stack, p.agent, loan.id, 100, value_date=early)
        assert before.status_code == 422, before.text
        assert [f["field"] for f in before.json()["error"]["fields"]] == ["value_date"]
        assert "disbursement" in before.json()["error"]["fields"][0]["description"]

        listed = await stack.client.get(
            "/api/v1/payments",
            params={"loan_id": loan.id, "status": "REJECTED"},
            headers=p.agent.headers,
        )
        rejected = listed.json()["payments"]
        codes = {r["rejection_code"] for r in rejected}
        assert codes == {"FAILED_PRECONDITION", "INVALID_ARGUMENT"}
        assert all(r["receipt_number"] == "" for r in rejected)
        receipt = await stack.client.get(
            f"/api/v1/payments/{rejected[0]['id']}/receipt", headers=p.agent.headers
        )
        assert receipt.status_code == 409

        # Exactly the payoff closes the loan.
        closing = await post(stack, p.agent, loan.id, payoff)
        assert closing.status_code == 201, closing.text
        assert closing.json()["loan_closed"] is True
        assert closing.json()["allocation"]["interest_waived"]["amount_minor"] == 3_000
        after = await post(stack, p.agent, loan.id, 100)
        assert after.status_code == 409
        assert "CLOSED" in after.json()["error"]["message"]
        assert (await loan_state(c, admin, loan.id)).status == loan_pb2.CLOSED


async def test_agents_post_only_to_their_own_borrowers(stack: Stack, admin: Login) -> None:
    async with clients(stack) as c:
        p = await portfolio(stack, c, admin)
        loan = await loan_for(c, p, days_ago=7)
        stranger = await stack.ready_staff(admin)

        r = await post(stack, stranger, loan.id, 1_000)
        assert r.status_code == 404, r.text
        assert r.json()["error"]["code"] == "NOT_FOUND"
        assert (await loan_state(c, admin, loan.id)).summary.total_paid.amount_minor == 0
        # Recorded as REJECTED (nothing is deleted), and only its poster sees it.
        mine = await stack.client.get("/api/v1/payments", headers=stranger.headers)
        (rejected,) = mine.json()["payments"]
        assert (rejected["status"], rejected["rejection_code"]) == ("REJECTED", "NOT_FOUND")
        assert rejected["loan_number"] == ""
        assert rejected["borrower_name"] == ""

        own = await post(stack, p.agent, loan.id, 1_000)
        assert own.status_code == 201
        payment_id = own.json()["id"]
        hidden = await stack.client.get(f"/api/v1/payments/{payment_id}", headers=stranger.headers)
        assert hidden.status_code == 404
        receipt = await stack.client.get(
            f"/api/v1/payments/{payment_id}/receipt", headers=stranger.headers
        )
        assert receipt.status_code == 404
        theirs = await stack.client.get(
            "/api/v1/payments",
            params={"agent_id": p.agent.staff_id},  # ignored for agents
            headers=stranger.headers,
        )
        assert [x["id"] for x in theirs.json()["payments"]] == [rejected["id"]]
        by_admin = await stack.client.get(
            "/api/v1/payments", params={"agent_id": p.agent.staff_id}, headers=admin.headers
        )
        assert [x["id"] for x in by_admin.json()["payments"]] == [payment_id]

        # Directly over gRPC the payment service scopes the same way.
        async with grpc.aio.insecure_channel(stack.hosts["payment"].address) as channel:
            stub = payment_pb2_grpc.PaymentServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await stub.GetPayment(
                    payment_pb2.GetPaymentRequest(id=payment_id), metadata=md(stranger)
                )
            assert info.value.code() == grpc.StatusCode.NOT_FOUND


async def test_payments_follow_their_loan_to_a_new_agent(stack: Stack, admin: Login) -> None:
    async with clients(stack) as c:
        p = await portfolio(stack, c, admin)
        loan = await loan_for(c, p, days_ago=7)
        own = await post(stack, p.agent, loan.id, 1_000)
        by_admin = await post(stack, admin, loan.id, 2_000)
        assert (own.status_code, by_admin.status_code) == (201, 201)
        newcomer = await stack.ready_staff(admin)
        await c.borrowers.ReassignBorrower(
            user_pb2.ReassignBorrowerRequest(
                id=loan.borrower_id, new_agent_id=newcomer.staff_id, reason="territory change"
            ),
            metadata=md(admin),
        )

        async def listed(who: Login) -> set[str]:
            r = await stack.client.get(
                "/api/v1/payments", params={"loan_id": loan.id}, headers=who.headers
            )
            assert r.status_code == 200, r.text
            return {x["id"] for x in r.json()["payments"]}

        both = {own.json()["id"], by_admin.json()["id"]}

        async def moved() -> bool:
            return await listed(newcomer) == both

        await eventually(moved, within=20, what="the payments following their loan")
        # The previous agent keeps what they posted themselves, and nothing else.
        assert await listed(p.agent) == {own.json()["id"]}
        hidden = await stack.client.get(
            f"/api/v1/payments/{by_admin.json()['id']}", headers=p.agent.headers
        )
        assert hidden.status_code == 404
        seen = await stack.client.get(
            f"/api/v1/payments/{by_admin.json()['id']}", headers=newcomer.headers
        )
        assert seen.json()["agent_id"] == newcomer.staff_id
        # New payments on the loan are the new agent's from the start.
        later = await post(stack, newcomer, loan.id, 500)
        assert later.status_code == 201, later.text
        assert later.json()["agent_id"] == newcomer.staff_id


async def test_reversal(stack: Stack, admin: Login) -> None:
    async with clients(stack) as c:
        p = await portfolio(stack, c, admin)
        loan = await loan_for(c, p, days_ago=7)
        paid = (await post(stack, p.agent, loan.id, 30_000)).json()
        assert (await loan_state(c, admin, loan.id)).summary.total_paid.amount_minor == 30_000

        url = f"/api/v1/payments/{paid['id']}/reverse"
        denied = await stack.client.post(url, json={"reason": "typo"}, headers=p.agent.headers)
        assert denied.status_code == 403
        no_reason = await stack.client.post(url, json={"reason": ""}, headers=admin.headers)
        assert no_reason.status_code == 422

        done = await stack.client.post(
            url, json={"reason": "posted to the wrong loan"}, headers=admin.headers
        )
        assert done.status_code == 200, done.text
        out = done.json()
        assert out["status"] == "REVERSED"
        assert out["reversal"]["reason"] == "posted to the wrong loan"
        assert out["reversal"]["reversed_by"] == admin.staff_id
        assert out["reversal"]["loan_transaction_id"]
        assert out["receipt_number"] == paid["receipt_number"]
        assert (await loan_state(c, admin, loan.id)).summary.total_paid.amount_minor == 0

        twice = await stack.client.post(url, json={"reason": "again"}, headers=admin.headers)
        assert twice.status_code == 409
        assert "already reversed" in twice.json()["error"]["message"]

        db = payments_db(stack)
        record = await db.reversals.find_one({"payment_id": paid["id"]})
        assert record is not None
        assert record["reason"] == "posted to the wrong loan"
        assert await db.payments.count_documents({"_id": paid["id"]}) == 1  # kept, not deleted
        events = await _events(db, paid["id"])
        assert [e["type"] for e in events] == ["payment.posted", "payment.reversed"]
        reversed_event = next(e for e in events if e["type"] == "payment.reversed")
        assert reversed_event["payload"]["reason"] == "posted to the wrong loan"
        assert reversed_event["payload"]["reversed_by"] == admin.staff_id
        for e in events:
            await eventually(
                partial(_sent, db, paid["id"], e["_id"]), what=f"{e['type']} published"
            )

        receipt = await stack.client.get(
            f"/api/v1/payments/{paid['id']}/receipt", headers=admin.headers
        )
        assert receipt.status_code == 200
        assert "REVERSED" in receipt.text
        assert "posted to the wrong loan" in receipt.text
        missing = await stack.client.post(
            "/api/v1/payments/nope/reverse", json={"reason": "x"}, headers=admin.headers
        )
        assert missing.status_code == 404


async def test_concurrent_reversals_reverse_once(stack: Stack, admin: Login) -> None:
    async with clients(stack) as c:
        p = await portfolio(stack, c, admin)
        loan = await loan_for(c, p, days_ago=7)
        paid = (await post(stack, p.agent, loan.id, 5_000)).json()
        url = f"/api/v1/payments/{paid['id']}/reverse"
        replies = await asyncio.gather(
            *(
                stack.client.post(url, json={"reason": f"dup {i}"}, headers=admin.headers)
                for i in range(5)
            )
        )
        codes = Counter(r.status_code for r in replies)
        assert codes == {200: 1, 409: 4}, codes
        txns = await loan_transactions(c, admin, loan.id)
        assert [t.type for t in txns].count(loan_pb2.REVERSAL) == 1
        assert await payments_db(stack).reversals.count_documents({"payment_id": paid["id"]}) == 1


async def test_external_reference_is_unique_per_channel(stack: Stack, admin: Login) -> None:
    async with clients(stack) as c:
        p = await portfolio(stack, c, admin)
        loan = await loan_for(c, p, days_ago=7)
        ref = f"MM{uuid.uuid4().hex[:10].upper()}"
        first = await post(stack, p.agent, loan.id, 1_000, channel="MOBILE_MONEY",
                           external_reference=ref)
        assert first.status_code == 201
        dup = await post(stack, p.agent, loan.id, 1_000, channel="MOBILE_MONEY",
                         external_reference=ref)
        assert dup.status_code == 409
        assert dup.json()["error"]["existing_id"] == first.json()["id"]
        assert dup.json()["error"]["fields"][0]["field"] == "external_reference"
        bank = await post(stack, p.agent, loan.id, 1_000, channel="BANK_TRANSFER",
                          external_reference=ref)
        assert bank.status_code == 201

        # A REJECTED payment lets go of its reference, so it can be posted correctly.
        ref2 = f"MM{uuid.uuid4().hex[:10].upper()}"
        refused = await post(stack, p.agent, loan.id, 10**7, channel="MOBILE_MONEY",
                             external_reference=ref2)
        assert refused.status_code == 409
        fixed = await post(stack, p.agent, loan.id, 2_000, channel="MOBILE_MONEY",
                           external_reference=ref2)
        assert fixed.status_code == 201, fixed.text

        # Another agent's reference is still refused (it must stay unique), but the refusal
        # does not hand over the id of a payment that agent cannot read.
        stranger = await stack.ready_staff(admin)
        theirs = await loan_for(
            c, Portfolio(stranger, admin, p.product), first_name="Neema", days_ago=7
        )
        taken = await post(stack, stranger, theirs.id, 1_000, channel="MOBILE_MONEY",
                           external_reference=ref)
        assert taken.status_code == 409, taken.text
        assert taken.json()["error"]["fields"][0]["field"] == "external_reference"
        assert taken.json()["error"].get("existing_id") is None
        assert first.json()["id"] not in taken.text


async def test_receipts_and_listing(stack: Stack, admin: Login) -> None:
    async with clients(stack) as c:
        p = await portfolio(stack, c, admin)
        loan = await loan_for(c, p, first_name="Zawadi", last_name="Otieno", days_ago=14)
        yesterday = TODAY.fromordinal(TODAY.toordinal() - 1).isoformat()
        a = (await post(stack, p.agent, loan.id, 26_000, value_date=yesterday)).json()
        b = (
            await post(stack, p.agent, loan.id, 4_000, channel="MOBILE_MONEY",
                       external_reference=f"Q{uuid.uuid4().hex[:8]}")
        ).json()

        html = await stack.client.get(
            f"/api/v1/payments/{b['id']}/receipt", headers=p.agent.headers
        )
        assert html.status_code == 200
        assert html.headers["content-type"].startswith("text/html")
        for text in (b["receipt_number"], "Zawadi Otieno", loan.loan_number, "USD 40.00",
                     "Mobile money", b["external_reference"], "Microfinance Institution"):
            assert text in html.text, text
        csp = html.headers["content-security-policy"]
        assert csp.startswith("default-src 'none'; style-src 'sha256-")
        pdf = await stack.client.get(
            f"/api/v1/payments/{b['id']}/receipt", headers={**p.agent.headers,
                                                           "Accept": "application/pdf"}
        )
        assert pdf.status_code == 200
        assert pdf.content.startswith(b"%PDF-")
        assert f'filename="{b["receipt_number"]}.pdf"' in pdf.headers["content-disposition"]

        got = await stack.client.get(f"/api/v1/payments/{a['id']}", headers=p.agent.headers)
        assert got.json()["value_date"] == yesterday

        def ids(r: httpx.Response) -> list[str]:
            return [x["id"] for x in r.json()["payments"]]

        base = {"loan_id": loan.id}
        h = p.agent.headers
        everything = await stack.client.get("/api/v1/payments", params=base, headers=h)
        assert ids(everything) == [b["id"], a["id"]]  # newest value date first
        assert everything.json()["page"]["total_size"] == 2
        mobile = await stack.client.get(
            "/api/v1/payments", params={**base, "channel": "MOBILE_MONEY"}, headers=h
        )
        assert ids(mobile) == [b["id"]]
        dated = await stack.client.get(
            "/api/v1/payments", params={**base, "from_date": yesterday, "to_date": yesterday},
            headers=h,
        )
        assert ids(dated) == [a["id"]]
        borrower = await stack.client.get(
            "/api/v1/payments", params={"borrower_id": loan.borrower_id}, headers=h
        )
        assert ids(borrower) == [b["id"], a["id"]]
        paged = await stack.client.get(
            "/api/v1/payments", params={**base, "page_size": 1, "order_by": "receipt_number"},
            headers=h,
        )
        assert ids(paged) == [a["id"]]
        nxt = await stack.client.get(
            "/api/v1/payments",
            params={**base, "page_size": 1, "order_by": "receipt_number",
                    "page_token": paged.json()["page"]["next_page_token"]},
            headers=h,
        )
        assert ids(nxt) == [b["id"]]
        assert nxt.json()["page"]["next_page_token"] == ""
        bad = await stack.client.get(
            "/api/v1/payments", params={"order_by": "amount"}, headers=h
        )
        assert bad.status_code == 422


async def test_every_payment_shows_in_total_outstanding(stack: Stack, admin: Login) -> None:
    """The probe's case: fifty payments totalling 6,225, all in the first period, went to its
    interest first; total_paid and the payoff quote moved by 6,225 but total_outstanding did
    not. Now it moves by every cent, and what is due now stays in arrears_amount."""
    async with clients(stack) as c:
        p = await portfolio(stack, c, admin)
        loan = await loan_for(c, p)  # disbursed today: 4 x (25,000 + 1,000), none due yet

        async def summary() -> dict[str, Any]:
            r = await stack.client.get(f"/api/v1/loans/{loan.id}", headers=p.agent.headers)
            assert r.status_code == 200, r.text
            return dict(r.json()["summary"])

        async def quote() -> int:
            r = await stack.client.get(
                f"/api/v1/loans/{loan.id}/payoff-quote", headers=p.agent.headers
            )
            assert r.status_code == 200, r.text
            return int(r.json()["total"]["amount_minor"])

        before, quote_before = await summary(), await quote()
        assert before["total_outstanding"]["amount_minor"] == 104_000
        amounts = [124] * 25 + [125] * 25
        answers = await asyncio.gather(*(post(stack, p.agent, loan.id, a) for a in amounts))
        assert [r.status_code for r in answers] == [201] * 50, [r.text for r in answers]
        after = await summary()

        def moved(name: str) -> int:
            return int(after[name]["amount_minor"]) - int(before[name]["amount_minor"])

        assert moved("total_paid") == 6_225
        assert moved("total_outstanding") == -6_225
        assert await quote() == quote_before - 6_225
        # Nothing is due before the first due date: "due now" stays 0.
        assert after["arrears_amount"]["amount_minor"] == 0
