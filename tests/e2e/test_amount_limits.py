"""Amounts are bounded by MF_MAX_AMOUNT_MINOR (10^12 by default) at the gateway and in each
service, so no stored or reported sum can leave int64: before, two REJECTED payments of
2^63-1 and 1 by one agent made that day's cash summary a 502 for good."""

from __future__ import annotations

import uuid

import grpc
import pytest

from microfinance.common.v1 import common_pb2
from microfinance.loan.v1 import loan_pb2
from microfinance.payment.v1 import payment_pb2, payment_pb2_grpc
from shared.money import DEFAULT_MAX_AMOUNT_MINOR
from tests.e2e.conftest import Login, Stack
from tests.e2e.loan_support import clients, md, product_message
from tests.e2e.payment_support import TODAY, loan_for, portfolio, post
from tests.e2e.test_loans_lifecycle import violations

pytestmark = pytest.mark.e2e

INT64_MAX = 2**63 - 1
TOO_LARGE = (DEFAULT_MAX_AMOUNT_MINOR + 1, INT64_MAX)


def fields_of(response_json: dict[str, object]) -> list[str]:
    error = response_json["error"]
    assert isinstance(error, dict)
    return [f["field"] for f in error["fields"]]


async def test_payments_above_the_maximum_are_refused_and_the_cash_summary_holds(
    stack: Stack, admin: Login
) -> None:
    async with clients(stack) as c:
        p = await portfolio(stack, c, admin)
        loan = await loan_for(c, p)
        agent = p.agent
        for amount in TOO_LARGE:
            r = await post(stack, agent, loan.id, amount)
            assert r.status_code == 422, r.text
            assert fields_of(r.json()) == ["amount.amount_minor"]
        # The probe's pair: 2^63-1 is refused before it is recorded, 1 is a payment.
        assert (await post(stack, agent, loan.id, 1)).status_code == 201
        # The largest allowed amount is over the payoff: recorded as REJECTED.
        assert (await post(stack, agent, loan.id, DEFAULT_MAX_AMOUNT_MINOR)).status_code == 409
        assert (await post(stack, agent, loan.id, DEFAULT_MAX_AMOUNT_MINOR)).status_code == 409

        for who, params in ((agent, {}), (admin, {"agent": agent.staff_id})):
            cash = await stack.client.get(
                "/api/v1/cash-summary",
                params={"date": TODAY.isoformat(), **params},
                headers=who.headers,
            )
            assert cash.status_code == 200, cash.text
            assert cash.json()["rejected_count"] == 2
            assert cash.json()["net_totals"] == [{"amount_minor": 1, "currency": "USD"}]

        # Other systems call payment_service directly: the same refusal.
        async with grpc.aio.insecure_channel(stack.hosts["payment"].address) as channel:
            stub = payment_pb2_grpc.PaymentServiceStub(channel)
            for amount in TOO_LARGE:
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    await stub.PostPayment(
                        payment_pb2.PostPaymentRequest(
                            idempotency_key=uuid.uuid4().hex,
                            loan_id=loan.id,
                            amount=common_pb2.Money(amount_minor=amount, currency="USD"),
                            channel=common_pb2.CASH,
                        ),
                        metadata=md(agent),
                    )
                assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
                assert violations(err.value) == ["amount.amount_minor"]


async def test_loan_amounts_above_the_maximum_are_refused(stack: Stack, admin: Login) -> None:
    too_large = {"amount_minor": DEFAULT_MAX_AMOUNT_MINOR + 1, "currency": "USD"}
    product = {
        "code": f"P-{uuid.uuid4().hex[:8].upper()}",
        "name": "Too large",
        "currency": "USD",
        "principal_min": {"amount_minor": 10_000, "currency": "USD"},
        "principal_max": too_large,
        "installments_min": 4,
        "installments_max": 52,
        "frequency": "WEEKLY",
        "interest_method": "FLAT",
        "amortization": "EQUAL_INSTALLMENTS",
        "annual_rate": "24",
        "fee": {"type": "FIXED", "fixed_amount": too_large},
    }
    r = await stack.client.post("/api/v1/loan-products", json=product, headers=admin.headers)
    assert r.status_code == 422, r.text
    assert sorted(fields_of(r.json())) == [
        "fee.fixed_amount.amount_minor",
        "principal_max.amount_minor",
    ]

    async with clients(stack) as c:
        usd = common_pb2.Money(amount_minor=DEFAULT_MAX_AMOUNT_MINOR + 1, currency="USD")
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await c.products.CreateProduct(
                loan_pb2.CreateProductRequest(product=product_message(principal_max=usd)),
                metadata=md(admin),
            )
        assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert violations(err.value) == ["principal_max.amount_minor"]


async def test_the_cash_summary_survives_amounts_recorded_before_the_limit(
    stack: Stack, admin: Login
) -> None:
    # Payments stored before the limit existed: the aggregation must not overflow on them.
    async with clients(stack) as c:
        p = await portfolio(stack, c, admin)
        loan = await loan_for(c, p)
        agent = p.agent
        assert (await post(stack, agent, loan.id, 100)).status_code == 201
        assert (await post(stack, agent, loan.id, DEFAULT_MAX_AMOUNT_MINOR)).status_code == 409
        payments = stack.infra["payment"].db["payments"]
        rejected = await payments.find_one({"posted_by": agent.staff_id, "status": "REJECTED"})
        assert rejected is not None
        for amount in (INT64_MAX, 1):
            await payments.insert_one(
                {**rejected, "_id": uuid.uuid4().hex, "amount_minor": amount,
                 "idempotency_key": uuid.uuid4().hex}
            )  # fmt: skip
        cash = await stack.client.get("/api/v1/cash-summary", headers=agent.headers)
        assert cash.status_code == 200, cash.text
        assert cash.json()["rejected_count"] == 3
        assert cash.json()["net_totals"] == [{"amount_minor": 100, "currency": "USD"}]


async def test_a_borrower_income_above_the_maximum_is_refused(stack: Stack, admin: Login) -> None:
    from tests.e2e.test_gateway_borrowers import new_borrower

    agent = await stack.ready_staff(admin)
    income = {"amount_minor": DEFAULT_MAX_AMOUNT_MINOR + 1, "currency": "KES"}
    body = new_borrower(employment={"status": "SELF_EMPLOYED", "monthly_income": income})
    r = await stack.client.post("/api/v1/borrowers", json=body, headers=agent.headers)
    assert r.status_code == 422, r.text
    assert fields_of(r.json()) == ["employment.monthly_income.amount_minor"]
