"""Payment protobuf messages to the JSON models of the HTTP API, and the CSV export."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from api_gateway.convert.common import audit, instant, money
from api_gateway.schemas import payments as ps
from microfinance.common.v1 import common_pb2
from microfinance.loan.v1 import loan_pb2
from microfinance.payment.v1 import payment_pb2
from shared.money import CURRENCY_EXPONENTS


def channel_name(value: int) -> ps.ChannelName | None:
    if not value:
        return None
    return ps.ChannelName(common_pb2.Channel.Name(value))


def status_name(value: int) -> ps.PaymentStatusName | None:
    if not value:
        return None
    return ps.PaymentStatusName(payment_pb2.PaymentStatus.Name(value))


def allocation(a: loan_pb2.Allocation) -> ps.AllocationOut:
    return ps.AllocationOut(
        penalty=money(a.penalty),
        fee=money(a.fee),
        interest=money(a.interest),
        principal=money(a.principal),
        recovery=money(a.recovery),
        total=money(a.total),
        interest_waived=money(a.interest_waived),
        installments=[
            ps.InstallmentSplitOut(
                installment_number=i.installment_number,
                penalty=money(i.penalty),
                fee=money(i.fee),
                interest=money(i.interest),
                principal=money(i.principal),
            )
            for i in a.installments
        ],
    )


def payment(p: payment_pb2.Payment) -> ps.PaymentOut:
    return ps.PaymentOut(
        id=p.id,
        receipt_number=p.receipt_number,
        idempotency_key=p.idempotency_key,
        loan_id=p.loan_id,
        loan_number=p.loan_number,
        borrower_id=p.borrower_id,
        borrower_name=p.borrower_name,
        agent_id=p.agent_id,
        branch_id=p.branch_id,
        amount=money(p.amount),
        value_date=p.value_date,
        channel=channel_name(p.channel),
        external_reference=p.external_reference,
        note=p.note,
        status=status_name(p.status),
        allocation=allocation(p.allocation) if p.HasField("allocation") else None,
        loan_transaction_id=p.loan_transaction_id,
        recovery=p.recovery,
        loan_closed=p.loan_closed,
        rejection_reason=p.rejection_reason,
        rejection_code=p.rejection_code,
        reversal=(
            ps.ReversalOut(
                reason=p.reversal.reason,
                reversed_by=p.reversal.reversed_by,
                reversed_at=instant(p.reversal, "reversed_at"),
                loan_transaction_id=p.reversal.loan_transaction_id,
            )
            if p.HasField("reversal")
            else None
        ),
        posted_by=p.posted_by,
        posted_at=instant(p, "posted_at"),
        audit=audit(p.audit),
        version=p.version,
    )


def collection_sheet(r: payment_pb2.GetCollectionSheetResponse) -> ps.CollectionSheetOut:
    return ps.CollectionSheetOut(
        agent_id=r.agent_id,
        date=r.date,
        rows=[
            ps.CollectionSheetRowOut(
                borrower_id=row.borrower_id,
                borrower_name=row.borrower_name,
                phone=row.phone,
                loan_id=row.loan_id,
                loan_number=row.loan_number,
                oldest_due_date=row.oldest_due_date,
                amount_due=money(row.amount_due),
                arrears_amount=money(row.arrears_amount),
                total_due=money(row.total_due),
                days_past_due=row.days_past_due,
                collected_amount=money(row.collected_amount),
            )
            for row in r.rows
        ],
        totals=[
            ps.CollectionSheetTotalsOut(
                currency=t.currency,
                expected=money(t.expected),
                collected=money(t.collected),
                collection_rate=t.collection_rate,
                loan_count=t.loan_count,
            )
            for t in r.totals
        ],
    )


def cash_summary(r: payment_pb2.GetCashSummaryResponse) -> ps.CashSummaryOut:
    return ps.CashSummaryOut(
        agent_id=r.agent_id,
        date=r.date,
        channels=[
            ps.ChannelTotalOut(
                channel=channel_name(c.channel),
                posted_amount=money(c.posted_amount),
                posted_count=c.posted_count,
                reversed_amount=money(c.reversed_amount),
                reversed_count=c.reversed_count,
                net_amount=money(c.net_amount),
            )
            for c in r.channels
        ],
        net_totals=[money(m) for m in r.net_totals],
        rejected_count=r.rejected_count,
        pending_count=r.pending_count,
    )


def major(value: common_pb2.Money) -> str:
    """Exact amount in major units for spreadsheets: 123450 KES cents -> "1234.50"."""
    digits = CURRENCY_EXPONENTS.get(value.currency, 0)
    return f"{Decimal(value.amount_minor).scaleb(-digits):.{digits}f}"


def _text(value: str) -> str:
    # Spreadsheets run cells that start like a formula: keep names and phones inert
    # (an E.164 phone number is plain digits and stays as it is).
    if value[:1] == "+" and value[1:].isdigit():
        return value
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


CSV_COLUMNS = (
    "borrower_name",
    "phone",
    "loan_number",
    "oldest_due_date",
    "days_past_due",
    "currency",
    "amount_due",
    "arrears_amount",
    "total_due",
    "collected_amount",
    "borrower_id",
    "loan_id",
)


def collection_sheet_csv(r: payment_pb2.GetCollectionSheetResponse) -> str:
    """One line per row, then one TOTAL line per currency (expected, collected, rate)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in r.rows:
        writer.writerow(
            [
                _text(row.borrower_name),
                _text(row.phone),
                row.loan_number,
                row.oldest_due_date,
                row.days_past_due,
                row.total_due.currency,
                major(row.amount_due),
                major(row.arrears_amount),
                major(row.total_due),
                major(row.collected_amount),
                row.borrower_id,
                row.loan_id,
            ]
        )
    writer.writerow([])
    writer.writerow(["total", "currency", "loans", "expected", "collected", "collection_rate"])
    for t in r.totals:
        writer.writerow(
            [
                "TOTAL",
                t.currency,
                t.loan_count,
                major(t.expected),
                major(t.collected),
                t.collection_rate,
            ]
        )
    return out.getvalue()
