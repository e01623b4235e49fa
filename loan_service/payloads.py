"""What each ``loan.*`` event carries: JSON values only, amounts in minor units, dates ISO.

Other services build on these fields (the table in docs/loans.md), so they
change only by adding. A loan event's payload is ``loan_payload`` (added at
commit) plus the fields one of the functions below gives it; each returns the
event type with those fields.
"""

from __future__ import annotations

from typing import Any

from loan_service.adapters.product_repository import terms_to_doc
from loan_service.adapters.search import loan_labels
from loan_service.domain.ledger import Allocation, LoanState, Transaction
from loan_service.domain.lifecycle import LoanAction
from loan_service.domain.loan import Loan, LoanProduct
from loan_service.domain.schedule import Schedule
from shared.allocation import allocation_totals

# (event type, the fields it adds to the loan's common payload)
LoanEvent = tuple[str, dict[str, Any]]


def product_payload(product: LoanProduct) -> dict[str, Any]:
    """The whole payload of every ``loan.product_*`` event."""
    return {
        "product_id": product.id,
        "code": product.code,
        "name": product.name,
        "active": product.active,
        "terms": terms_to_doc(product.terms),
        "version": product.version,
    }


def loan_payload(loan: Loan) -> dict[str, Any]:
    """Common part of every loan.* event (JSON values only; amounts in minor units)."""
    facts = loan.facts
    return {
        "loan_id": loan.id,
        **loan_labels(loan),
        "installments": loan.installments,
        "disbursement_date": loan.disbursement_date.isoformat() if loan.disbursement_date else None,
        "outstanding_principal": facts.outstanding_principal,
        "total_outstanding": facts.total_outstanding,
        "days_past_due": facts.days_past_due,
        "as_of": facts.as_of.isoformat() if facts.as_of else None,
        "version": loan.version,
    }


def installment_split(allocation: Allocation, schedule: Schedule | None) -> list[dict[str, Any]]:
    """What a repayment paid to each installment, with the installment's due date."""
    due = {r.number: r.due_date.isoformat() for r in schedule.rows} if schedule else {}
    return [
        {
            "number": part.installment_number,
            "due_date": due.get(part.installment_number),
            "principal": part.principal,
            "interest": part.interest,
            "fee": part.fee,
            "penalty": part.penalty,
        }
        for part in allocation.installments
    ]


# ------------------------------------------------------------------ lifecycle


def submitted(by: str) -> LoanEvent:
    return "loan.submitted", {"submitted_by": by}


def approved(by: str, note: str) -> LoanEvent:
    return "loan.approved", {"approved_by": by, "note": note}


def rejected(by: str, reason: str, from_status: str) -> LoanEvent:
    return "loan.rejected", {"rejected_by": by, "reason": reason, "from_status": from_status}


def withdrawn(by: str, reason: str) -> LoanEvent:
    return "loan.withdrawn", {"withdrawn_by": by, "reason": reason}


def disbursed(by: str, transaction_id: str, schedule: Schedule) -> LoanEvent:
    return "loan.disbursed", {
        "disbursed_by": by,
        "transaction_id": transaction_id,
        "first_repayment_date": schedule.first_repayment_date.isoformat(),
        "maturity_date": schedule.maturity_date.isoformat(),
        "upfront_fee": schedule.upfront_fee,
        "net_disbursed": schedule.net_disbursed,
        "total_interest": schedule.total_interest,
        "total_repayable": schedule.total_repayable,
        "effective_apr": schedule.effective_apr,
        # Each installment's due date and amounts: reporting's collection efficiency.
        "schedule": [
            {
                "number": r.number,
                "due_date": r.due_date.isoformat(),
                "principal": r.principal,
                "interest": r.interest,
                "fee": r.fee,
            }
            for r in schedule.rows
        ],
    }


def written_off(by: str, reason: str, transaction: Transaction, amount: int) -> LoanEvent:
    return "loan.written_off", {
        "written_off_by": by,
        "reason": reason,
        "write_off_date": transaction.value_date.isoformat(),
        "written_off_amount": amount,
        "transaction_id": transaction.id,
    }


def closing(action: LoanAction | None, state: LoanState, via: str) -> list[LoanEvent]:
    """``loan.closed`` or ``loan.reopened`` when a replay moved the loan, else nothing."""
    if action is LoanAction.CLOSE:
        closed_on = state.closed_date.isoformat() if state.closed_date else None
        return [("loan.closed", {"closed_date": closed_on, "via": via})]
    if action is LoanAction.REOPEN:
        return [("loan.reopened", {"via": via})]
    return []


# ------------------------------------------------------------------ ledger entries


def repayment_applied(
    payment_id: str,
    txn: Transaction,
    allocation: Allocation,
    *,
    channel: str,
    recovery: bool,
    backdated: bool,
    applied_by: str,
    relayed_by: str | None,
    schedule: Schedule | None = None,
) -> LoanEvent:
    return "loan.repayment_applied", {
        "payment_id": payment_id,
        "transaction_id": txn.id,
        "amount": txn.amount,
        "value_date": txn.value_date.isoformat(),
        "channel": channel,
        "recovery": recovery,
        "backdated": backdated,
        "allocation": allocation_totals(allocation),
        "installment_split": installment_split(allocation, schedule),
        "applied_by": applied_by,
        "relayed_by": relayed_by,
    }


def repayment_reversed(
    payment_id: str,
    reversal: Transaction,
    target: Transaction,
    *,
    reason: str,
    reversed_by: str,
    relayed_by: str | None,
) -> LoanEvent:
    return "loan.repayment_reversed", {
        "payment_id": payment_id,
        "transaction_id": reversal.id,
        "reversed_transaction_id": target.id,
        "amount": target.amount,
        "value_date": target.value_date.isoformat(),
        "reason": reason,
        "reversed_by": reversed_by,
        "relayed_by": relayed_by,
    }


def waived(txn: Transaction, installment_number: int, *, reason: str, by: str) -> LoanEvent:
    return "loan.waived", {
        "transaction_id": txn.id,
        "installment_number": installment_number,
        "penalty_amount": txn.penalty_amount,
        "interest_amount": txn.interest_amount,
        "value_date": txn.value_date.isoformat(),
        "reason": reason,
        "waived_by": by,
    }


# ------------------------------------------------------------------ borrower changes


def borrower_followed(
    loan_id: str, moved: bool, *, borrower_id: str, agent_id: str, branch_id: str, full_name: str
) -> LoanEvent:
    """``loan.reassigned`` when the agent changed, else ``loan.borrower_updated``; the
    whole payload (the loan is not re-read)."""
    return "loan.reassigned" if moved else "loan.borrower_updated", {
        "loan_id": loan_id,
        "borrower_id": borrower_id,
        "agent_id": agent_id,
        "branch_id": branch_id,
        "borrower_name": full_name,
    }


# ------------------------------------------------------------------ end of day


def penalty_charged(txn: Transaction, currency: str) -> LoanEvent:
    """A late penalty end of day charged (a PENALTY transaction on the loan)."""
    return "loan.penalty_charged", {
        "transaction_id": txn.id,
        "installment_number": txn.installment_number,
        "amount": txn.amount,
        "currency": currency,
        "value_date": txn.value_date.isoformat(),
    }


def bucket_changed(
    event: str,
    business_date: str,
    previous_bucket: str,
    bucket: str,
    days_past_due: int,
    arrears_amount: int,
) -> LoanEvent:
    """``loan.overdue`` (a new arrears bucket) or ``loan.arrears_cleared`` (current again)."""
    return event, {
        "business_date": business_date,
        "previous_bucket": previous_bucket,
        "bucket": bucket,
        "days_past_due": days_past_due,
        "arrears_amount": arrears_amount,
    }


# At most this many rows per ``loan.snapshots`` event (docs/reporting contract).
SNAPSHOT_CHUNK = 500


def snapshot_chunks(business_date: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The whole payloads of the ``loan.snapshots`` events carrying ``rows``."""
    clean = [{k: v for k, v in row.items() if k != "_id"} for row in rows]
    return [
        {"business_date": business_date, "rows": clean[i : i + SNAPSHOT_CHUNK]}
        for i in range(0, len(clean), SNAPSHOT_CHUNK)
    ]


def date_closed(figures: dict[str, Any]) -> dict[str, Any]:
    """The whole payload of ``eod.date_closed``."""
    closed_at = figures.get("closed_at")
    return {
        "business_date": str(figures["_id"]),
        "snapshot_rows": int(figures.get("snapshot_rows", 0)),
        "loans_processed": int(figures.get("loans_processed", 0)),
        "penalties_charged": int(figures.get("penalties_charged", 0)),
        "closed_at": closed_at.isoformat() if closed_at is not None else None,
    }
