"""Loan and loan product protobuf messages to the JSON models, and back."""

from __future__ import annotations

from datetime import date
from typing import Any

from api_gateway.convert.common import M, page_info, to_model
from api_gateway.schemas import loans as ls
from api_gateway.schemas.common import MoneyIn
from microfinance.common.v1 import common_pb2
from microfinance.loan.v1 import loan_pb2
from shared.money import to_proto


def money_in(value: MoneyIn | None) -> common_pb2.Money | None:
    return to_proto(value) if value is not None else None


def iso(value: date | None) -> str:
    return value.isoformat() if value is not None else ""


# ------------------------------------------------------------------ products


def _fee_in(value: ls.FeeIn | ls.PenaltyIn | None) -> dict[str, Any] | None:
    if value is None:
        return None
    out: dict[str, Any] = {"type": value.type.value, "percent": value.percent or ""}
    if value.fixed_amount is not None:
        out["fixed_amount"] = money_in(value.fixed_amount)
    return out


def product_in(body: ls.ProductIn | ls.ProductPatch) -> loan_pb2.LoanProduct:
    """The fields given (None is "not given", except fee/late_penalty in a patch)."""
    msg = loan_pb2.LoanProduct(
        code=body.code or "",
        name=body.name or "",
        description=body.description or "",
        currency=body.currency or "",
        principal_min=money_in(body.principal_min),
        principal_max=money_in(body.principal_max),
        installments_min=body.installments_min or 0,
        installments_max=body.installments_max or 0,
        frequency=body.frequency.value if body.frequency else "REPAYMENT_FREQUENCY_UNSPECIFIED",
        interest_method=body.interest_method.value
        if body.interest_method
        else "INTEREST_METHOD_UNSPECIFIED",
        amortization=body.amortization.value if body.amortization else "AMORTIZATION_UNSPECIFIED",
        annual_rate=body.annual_rate or "",
        principal_grace_installments=body.principal_grace_installments or 0,
        rounding_multiple_minor=body.rounding_multiple_minor or 0,
        max_active_loans_per_borrower=body.max_active_loans_per_borrower or 0,
    )
    fee = _fee_in(body.fee)
    if fee is not None:
        msg.fee.CopyFrom(loan_pb2.FeeTerms(**fee))
    penalty = _fee_in(body.late_penalty)
    if penalty is not None and body.late_penalty is not None:
        msg.late_penalty.CopyFrom(
            loan_pb2.PenaltyTerms(**penalty, grace_days=body.late_penalty.grace_days)
        )
    return msg


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
