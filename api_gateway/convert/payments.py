"""The collection sheet as CSV (the payment JSON models are read by ``common.to_model``)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from microfinance.common.v1 import common_pb2
from microfinance.payment.v1 import payment_pb2
from shared.money import CURRENCY_EXPONENTS


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
