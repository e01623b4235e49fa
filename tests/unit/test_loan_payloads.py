"""Every loan.* event carries exactly the fields docs/loans.md lists for it.

Other services build on these payloads, so a field added, renamed or dropped
in ``loan_service/payloads.py`` without the table changing fails here.
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from loan_service import payloads
from loan_service.domain import ledger
from loan_service.domain.lifecycle import LoanAction
from loan_service.domain.loan import Loan
from tests.unit.test_loan_records import TERMS, disbursed_loan

ROOT = Path(__file__).resolve().parents[2]
LOANS_DOC = (ROOT / "docs/loans.md").read_text()
PAID_ON = date(2026, 3, 5)


def _names(text: str) -> set[str]:
    # Parenthesised remarks name other things (`on_behalf_of`), not fields.
    return set(re.findall(r"`([a-z_.]+)`", re.sub(r"\([^)]*\)", "", text)))


def common_fields() -> set[str]:
    found = re.search(r"carries the loan as written:(.*?); and then:", LOANS_DOC, re.S)
    assert found is not None, "docs/loans.md no longer lists the common loan payload"
    return _names(found.group(1))


def documented() -> dict[str, set[str]]:
    """Event type -> the fields of its payload, per the table in docs/loans.md."""
    table: dict[str, set[str]] = {}
    for line in LOANS_DOC.splitlines():
        if not line.startswith("| `loan."):
            continue
        _, events, fields, _ = line.split("|")
        kinds = [k if k.startswith("loan.") else f"loan.product{k}" for k in _names(events)]
        for kind in kinds:
            table[kind] = _names(fields)
    return table


def fields_of(kind: str) -> set[str]:
    table = documented()
    assert kind in table, f"{kind} has no row in docs/loans.md"
    if kind.startswith("loan.product_"):
        return table[kind]
    if kind in ("loan.reassigned", "loan.borrower_updated"):
        return table[kind]
    return common_fields() | table[kind]


@pytest.fixture(scope="module")
def loan() -> Loan:
    return disbursed_loan()


def events(loan: Loan) -> list[payloads.LoanEvent]:
    """One of every loan event, built from real ledger results."""
    assert loan.schedule is not None
    schedule, txns = loan.schedule, loan.transactions
    quote = ledger.quote_payoff(TERMS, schedule, txns, PAID_ON)
    paid = ledger.apply_repayment(
        TERMS,
        schedule,
        txns,
        payment_id="pay-1",
        amount=quote.total,
        value_date=PAID_ON,
        business_date=PAID_ON,
        actor="a1",
    )
    reversed_ = ledger.reverse_repayment(
        TERMS,
        schedule,
        paid.transactions,
        payment_id="pay-1",
        reason="bounced",
        actor="admin",
        business_date=PAID_ON,
    )
    waived = ledger.waive_charges(
        TERMS,
        schedule,
        txns,
        installment_number=1,
        penalty_amount=0,
        interest_amount=100,
        reason="hardship",
        actor="admin",
        value_date=PAID_ON,
        business_date=PAID_ON,
    )
    written = ledger.write_off(
        TERMS, schedule, txns, reason="moved away", actor="admin", business_date=PAID_ON
    )
    target = ledger.find_payment(paid.transactions, "pay-1")
    assert target is not None
    return [
        payloads.submitted("a1"),
        payloads.approved("admin", "ok"),
        payloads.rejected("admin", "too risky", "SUBMITTED"),
        payloads.withdrawn("a1", "changed mind"),
        payloads.disbursed("admin", txns[0].id, schedule),
        payloads.repayment_applied(
            "pay-1",
            paid.transaction,
            paid.allocation,
            channel="CASH",
            recovery=False,
            backdated=False,
            applied_by="a1",
            relayed_by=None,
        ),
        *payloads.closing(LoanAction.CLOSE, paid.state, "repayment"),
        payloads.repayment_reversed(
            "pay-1",
            reversed_.transaction,
            target,
            reason="bounced",
            reversed_by="admin",
            relayed_by="payment-service",
        ),
        *payloads.closing(LoanAction.REOPEN, reversed_.state, "reversal"),
        payloads.waived(waived.transaction, 1, reason="hardship", by="admin"),
        payloads.written_off("admin", "moved away", written.transaction, 5),
        payloads.penalty_charged(paid.transaction, "USD"),
        payloads.bucket_changed("loan.overdue", "2026-03-20", "current", "1-30", 11, 2_600),
        payloads.bucket_changed("loan.arrears_cleared", "2026-03-21", "1-30", "current", 0, 0),
        payloads.borrower_followed(
            loan.id, True, borrower_id="b1", agent_id="a2", branch_id="BR-01", full_name="A W"
        ),
        payloads.borrower_followed(
            loan.id, False, borrower_id="b1", agent_id="a1", branch_id="BR-02", full_name="A W"
        ),
    ]


def test_each_loan_event_carries_the_documented_fields(loan: Loan) -> None:
    built = events(loan)
    for kind, extra in built:
        payload = extra
        if kind not in ("loan.reassigned", "loan.borrower_updated"):
            payload = {**payloads.loan_payload(loan), **extra}
        assert set(payload) == fields_of(kind), kind
        json.dumps(payload)  # JSON values only: the outbox stores it as a document
    # Every event the table lists is built above (products apart).
    loan_kinds = {k for k in documented() if not k.startswith("loan.product_")}
    assert {kind for kind, _ in built} == loan_kinds


def test_product_events_carry_the_documented_fields(loan: Loan) -> None:
    payload: dict[str, Any] = payloads.product_payload(loan.product)
    for kind in ("created", "updated", "deactivated", "activated"):
        assert set(payload) == fields_of(f"loan.product_{kind}")
    json.dumps(payload)


def test_repayment_allocation_carries_each_part(loan: Loan) -> None:
    _, extra = events(loan)[5]
    assert set(extra["allocation"]) == {
        "penalty",
        "fee",
        "interest",
        "principal",
        "recovery",
        "interest_waived",
    }
