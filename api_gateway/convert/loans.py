"""Loan and loan product protobuf messages to the JSON models, and back."""

from __future__ import annotations

from datetime import date

from api_gateway.convert.common import M, page_info, to_model
from api_gateway.schemas import loans as ls
from api_gateway.schemas.common import MoneyIn
from microfinance.common.v1 import common_pb2
from microfinance.loan.v1 import loan_pb2
from shared.money import to_proto
from shared.protos import message_of


def money_in(value: MoneyIn | None) -> common_pb2.Money | None:
    return to_proto(value) if value is not None else None


def iso(value: date | None) -> str:
    return value.isoformat() if value is not None else ""


# ------------------------------------------------------------------ products


def product_in(body: ls.ProductIn | ls.ProductPatch) -> loan_pb2.LoanProduct:
    """The fields given (None is "not given", except fee/late_penalty in a patch)."""
    fee, penalty = body.fee, body.late_penalty
    return message_of(
        loan_pb2.LoanProduct,
        body,
        fee=message_of(loan_pb2.FeeTerms, fee) if fee is not None else None,
        late_penalty=message_of(loan_pb2.PenaltyTerms, penalty) if penalty is not None else None,
    )


def _terms(value: loan_pb2.LoanProduct, field: str, model: type[M]) -> M | None:
    """A product's fee or late-penalty terms, None when it has none (or no type)."""
    terms = getattr(value, field)
    return to_model(model, terms) if value.HasField(field) and terms.type else None


def product(value: loan_pb2.LoanProduct) -> ls.ProductOut:
    return to_model(
        ls.ProductOut,
        value,
        fee=_terms(value, "fee", ls.FeeOut),
        late_penalty=_terms(value, "late_penalty", ls.PenaltyOut),
    )


# ------------------------------------------------------------------ loans


def loan(value: loan_pb2.Loan) -> ls.LoanOut:
    return to_model(ls.LoanOut, value, product=product(value.product))


def loan_list(value: loan_pb2.ListLoansResponse | loan_pb2.SearchLoansResponse) -> ls.LoanList:
    return ls.LoanList(loans=[loan(x) for x in value.loans], page=page_info(value.page))
