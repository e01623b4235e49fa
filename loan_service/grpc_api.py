"""LoanService and LoanProductService servicers and who may call what."""

from __future__ import annotations

from microfinance.loan.v1 import loan_pb2, loan_pb2_grpc
from shared.grpc.access import ADMIN_ONLY, ANY_STAFF, Access, access_table, merge_tables

LOAN_SERVICE = loan_pb2.DESCRIPTOR.services_by_name["LoanService"].full_name
PRODUCT_SERVICE = loan_pb2.DESCRIPTOR.services_by_name["LoanProductService"].full_name

ACCESS: dict[str, Access] = merge_tables(
    [
        access_table(
            PRODUCT_SERVICE,
            {
                "CreateProduct": ADMIN_ONLY,
                "UpdateProduct": ADMIN_ONLY,
                "DeactivateProduct": ADMIN_ONLY,
                "ActivateProduct": ADMIN_ONLY,
                "GetProduct": ANY_STAFF,
                "ListProducts": ANY_STAFF,
                "PreviewSchedule": ANY_STAFF,
            },
        ),
        access_table(
            LOAN_SERVICE,
            {
                # Agents act on their own borrowers' loans; the use cases scope them.
                "SubmitLoan": ANY_STAFF,
                "GetLoan": ANY_STAFF,
                "ListLoans": ANY_STAFF,
                "SearchLoans": ANY_STAFF,
                "WithdrawLoan": ANY_STAFF,
                "GetSchedule": ANY_STAFF,
                "ListTransactions": ANY_STAFF,
                "GetPayoffQuote": ANY_STAFF,
                "GetLoansDue": ANY_STAFF,
                "ApplyRepayment": ANY_STAFF,
                "ApproveLoan": ADMIN_ONLY,
                "RejectLoan": ADMIN_ONLY,
                "DisburseLoan": ADMIN_ONLY,
                "WriteOffLoan": ADMIN_ONLY,
                "WaiveCharges": ADMIN_ONLY,
                "ReverseRepayment": ADMIN_ONLY,
                "RunEndOfDay": ADMIN_ONLY,
            },
        ),
    ]
)


class LoanProductServicer(loan_pb2_grpc.LoanProductServiceServicer):
    """Loan products; the behaviour arrives with the loans issue."""


class LoanServicer(loan_pb2_grpc.LoanServiceServicer):
    """The loan lifecycle; the behaviour arrives with the loans issue."""
