"""/api/v1/loans: applications, decisions, disbursement, schedules, ledgers, search.

Agents reach only their own borrowers' loans (loan_service scopes every call
by the token; another agent's loan is a 404). Admins decide, disburse, write
off and waive. Repayments arrive through the payments API, not here.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Body, Query, Response, status

from api_gateway.convert import loans as loan_convert
from api_gateway.convert.common import to_model
from api_gateway.deps import State
from api_gateway.routes import (
    IdFilter,
    IfMatch,
    PageSize,
    PageToken,
    RecordId,
    Router,
    error_responses,
    expected_version,
    tagged,
)
from api_gateway.schemas import loans as loan_schemas
from api_gateway.schemas.common import IsoDate
from api_gateway.security import AdminOnly, AnyStaff
from microfinance.common.v1 import common_pb2
from microfinance.loan.v1 import loan_pb2
from shared.errors import FieldViolation, InvalidArgument
from shared.money import to_proto

router = Router(prefix="/api/v1/loans", tags=["loans"])



@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Apply for a loan for one of the caller's borrowers (admins: any borrower)",
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
async def submit_loan(
    body: loan_schemas.SubmitLoanIn, caller: AnyStaff, state: State, response: Response
) -> loan_schemas.LoanOut:
    result = await state.clients.loans.SubmitLoan(
        loan_pb2.SubmitLoanRequest(
            borrower_id=body.borrower_id,
            product_id=body.product_id,
            principal=loan_convert.money_in(body.principal),
            installments=body.installments,
            purpose=body.purpose,
            note=body.note,
        )
    )
    loan = loan_convert.loan(result.loan)
    response.headers["Location"] = f"/api/v1/loans/{loan.id}"
    return tagged(response, loan)


@router.get(
    "",
    summary="List loans with filters, or search them with q",
    description=(
        "Without `q`: filters and `order_by` (submitted_at, disbursement_date, loan_number, "
        "days_past_due; `desc` allowed). A DPD bound limits the list to ACTIVE loans. "
        "With `q`: ranked search by loan number, borrower name (typos allowed) or status; "
        "only `status` and paging combine with it; 503 while search is down."
    ),
    responses=error_responses(401, 403, 422, 503),
)
async def list_loans(
    caller: AnyStaff,
    state: State,
    q: Annotated[str | None, Query(max_length=200)] = None,
    status_: Annotated[loan_schemas.LoanStatusName | None, Query(alias="status")] = None,
    agent_id: Annotated[
        str | None, Query(max_length=64, description="Admins only; agents see their own")
    ] = None,
    borrower_id: IdFilter = None,
    product_id: IdFilter = None,
    branch_id: IdFilter = None,
    disbursed_from: Annotated[IsoDate | None, Query()] = None,
    disbursed_to: Annotated[IsoDate | None, Query()] = None,
    dpd_min: Annotated[int | None, Query(ge=0, le=100_000)] = None,
    dpd_max: Annotated[int | None, Query(ge=0, le=100_000)] = None,
    page_size: PageSize = 0,
    page_token: PageToken = "",
    order_by: Annotated[str, Query(max_length=200)] = "",
) -> loan_schemas.LoanList:
    status_value = status_.value if status_ else "LOAN_STATUS_UNSPECIFIED"
    if q is not None and q.strip():
        given = {
            "agent_id": agent_id,
            "borrower_id": borrower_id,
            "product_id": product_id,
            "branch_id": branch_id,
            "disbursed_from": disbursed_from,
            "disbursed_to": disbursed_to,
            "dpd_min": dpd_min,
            "dpd_max": dpd_max,
            "order_by": order_by or None,
        }
        clashes = [name for name, value in given.items() if value is not None]
        if clashes:
            raise InvalidArgument.fields(
                [FieldViolation(name, "cannot be combined with q") for name in clashes]
            )
        found = await state.clients.loans.SearchLoans(
            loan_pb2.SearchLoansRequest(
                q=q,
                status=status_value,
                page=common_pb2.PageRequest(page_size=page_size, page_token=page_token),
            )
        )
        return loan_convert.loan_list(found)
    if disbursed_from and disbursed_to and disbursed_to < disbursed_from:
        # Checked here so the 422 names the query parameter, not the gRPC field.
        raise InvalidArgument.field("disbursed_to", "must not be before disbursed_from")
    request = loan_pb2.ListLoansRequest(
        status=status_value,
        agent_id=agent_id or "",
        borrower_id=borrower_id or "",
        product_id=product_id or "",
        branch_id=branch_id or "",
        disbursed=common_pb2.DateRange(
            from_date=loan_convert.iso(disbursed_from), to_date=loan_convert.iso(disbursed_to)
        ),
        page=common_pb2.PageRequest(page_size=page_size, page_token=page_token, order_by=order_by),
    )
    if dpd_min is not None:
        request.dpd_min = dpd_min
    if dpd_max is not None:
        request.dpd_max = dpd_max
    return loan_convert.loan_list(await state.clients.loans.ListLoans(request))


@router.get(
    "/due",
    summary="Loans with installments due or overdue on a date (the collection sheet)",
    responses=error_responses(401, 403, 422, 503),
)
async def loans_due(
    caller: AnyStaff,
    state: State,
    agent_id: Annotated[
        str | None, Query(max_length=64, description="Required for admins; agents: themselves")
    ] = None,
    on: Annotated[IsoDate | None, Query(alias="date", description="Default today")] = None,
    page_size: PageSize = 0,
    page_token: PageToken = "",
) -> loan_schemas.DueLoanList:
    result = await state.clients.loans.GetLoansDue(
        loan_pb2.GetLoansDueRequest(
            agent_id=agent_id or "",
            date=loan_convert.iso(on),
            page=common_pb2.PageRequest(page_size=page_size, page_token=page_token),
        )
    )
    return to_model(loan_schemas.DueLoanList, result)


@router.get(
    "/{loan_id}",
    summary="A loan with its summary (replayed as of the date, default today)",
    responses=error_responses(401, 403, 404, 422, 503),
)
async def get_loan(
    loan_id: RecordId,
    caller: AnyStaff,
    state: State,
    response: Response,
    as_of_date: Annotated[IsoDate | None, Query()] = None,
) -> loan_schemas.LoanOut:
    result = await state.clients.loans.GetLoan(
        loan_pb2.GetLoanRequest(id=loan_id, as_of_date=loan_convert.iso(as_of_date))
    )
    return tagged(response, loan_convert.loan(result.loan))


@router.get(
    "/{loan_id}/schedule",
    summary="The frozen schedule with paid amounts and statuses (a preview before disbursement)",
    responses=error_responses(401, 403, 404, 422, 503),
)
async def get_schedule(
    loan_id: RecordId,
    caller: AnyStaff,
    state: State,
    as_of_date: Annotated[IsoDate | None, Query()] = None,
) -> loan_schemas.ScheduleOut:
    result = await state.clients.loans.GetSchedule(
        loan_pb2.GetScheduleRequest(loan_id=loan_id, as_of_date=loan_convert.iso(as_of_date))
    )
    return to_model(loan_schemas.ScheduleOut, result)


@router.get(
    "/{loan_id}/transactions",
    summary="The ledger in value-date order, reversals included",
    responses=error_responses(401, 403, 404, 422, 503),
)
async def list_transactions(
    loan_id: RecordId,
    caller: AnyStaff,
    state: State,
    page_size: PageSize = 0,
    page_token: PageToken = "",
) -> loan_schemas.TransactionList:
    result = await state.clients.loans.ListTransactions(
        loan_pb2.ListTransactionsRequest(
            loan_id=loan_id,
            page=common_pb2.PageRequest(page_size=page_size, page_token=page_token),
        )
    )
    return to_model(loan_schemas.TransactionList, result)


@router.get(
    "/{loan_id}/payoff-quote",
    summary="The amount that closes the loan on a date (default today)",
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
async def payoff_quote(
    loan_id: RecordId,
    caller: AnyStaff,
    state: State,
    on: Annotated[IsoDate | None, Query(alias="date")] = None,
) -> loan_schemas.PayoffQuoteOut:
    result = await state.clients.loans.GetPayoffQuote(
        loan_pb2.GetPayoffQuoteRequest(loan_id=loan_id, date=loan_convert.iso(on))
    )
    return to_model(loan_schemas.PayoffQuoteOut, result)


@router.post(
    "/{loan_id}/approve",
    summary="SUBMITTED -> APPROVED, by an admin who did not submit it (maker-checker)",
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
async def approve_loan(
    loan_id: RecordId,
    caller: AdminOnly,
    state: State,
    response: Response,
    body: Annotated[loan_schemas.ApproveIn | None, Body()] = None,
    if_match: IfMatch = None,
) -> loan_schemas.LoanOut:
    body = body or loan_schemas.ApproveIn()
    result = await state.clients.loans.ApproveLoan(
        loan_pb2.ApproveLoanRequest(
            id=loan_id,
            note=body.note,
            expected_version=expected_version(if_match, body.expected_version),
        )
    )
    return tagged(response, loan_convert.loan(result.loan))


@router.post(
    "/{loan_id}/reject",
    summary="SUBMITTED or APPROVED -> REJECTED, with a reason",
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
async def reject_loan(
    loan_id: RecordId,
    body: loan_schemas.ReasonIn,
    caller: AdminOnly,
    state: State,
    response: Response,
    if_match: IfMatch = None,
) -> loan_schemas.LoanOut:
    result = await state.clients.loans.RejectLoan(
        loan_pb2.RejectLoanRequest(
            id=loan_id,
            reason=body.reason,
            expected_version=expected_version(if_match, body.expected_version),
        )
    )
    return tagged(response, loan_convert.loan(result.loan))


@router.post(
    "/{loan_id}/withdraw",
    summary="SUBMITTED -> WITHDRAWN, with a reason (the agent, or an admin)",
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
async def withdraw_loan(
    loan_id: RecordId,
    body: loan_schemas.ReasonIn,
    caller: AnyStaff,
    state: State,
    response: Response,
    if_match: IfMatch = None,
) -> loan_schemas.LoanOut:
    result = await state.clients.loans.WithdrawLoan(
        loan_pb2.WithdrawLoanRequest(
            id=loan_id,
            reason=body.reason,
            expected_version=expected_version(if_match, body.expected_version),
        )
    )
    return tagged(response, loan_convert.loan(result.loan))


@router.post(
    "/{loan_id}/disburse",
    summary="APPROVED -> ACTIVE: freezes the schedule; reports the net amount handed out",
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
async def disburse_loan(
    loan_id: RecordId,
    caller: AdminOnly,
    state: State,
    response: Response,
    body: Annotated[loan_schemas.DisburseIn | None, Body()] = None,
    if_match: IfMatch = None,
) -> loan_schemas.DisburseOut:
    body = body or loan_schemas.DisburseIn()
    result = await state.clients.loans.DisburseLoan(
        loan_pb2.DisburseLoanRequest(
            id=loan_id,
            disbursement_date=loan_convert.iso(body.disbursement_date),
            first_repayment_date=loan_convert.iso(body.first_repayment_date),
            note=body.note,
            expected_version=expected_version(if_match, body.expected_version),
        )
    )
    loan = tagged(response, loan_convert.loan(result.loan))
    return to_model(loan_schemas.DisburseOut, result, loan=loan)


@router.post(
    "/{loan_id}/write-off",
    summary="ACTIVE -> WRITTEN_OFF with a reason; later payments are recoveries",
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
async def write_off_loan(
    loan_id: RecordId,
    body: loan_schemas.WriteOffIn,
    caller: AdminOnly,
    state: State,
    response: Response,
    if_match: IfMatch = None,
) -> loan_schemas.WriteOffOut:
    result = await state.clients.loans.WriteOffLoan(
        loan_pb2.WriteOffLoanRequest(
            id=loan_id,
            reason=body.reason,
            write_off_date=loan_convert.iso(body.write_off_date),
            expected_version=expected_version(if_match, body.expected_version),
        )
    )
    loan = tagged(response, loan_convert.loan(result.loan))
    return to_model(loan_schemas.WriteOffOut, result, loan=loan)


@router.post(
    "/{loan_id}/waive",
    summary="Waive penalty and/or interest of one installment, with a reason",
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
async def waive_charges(
    loan_id: RecordId,
    body: loan_schemas.WaiveIn,
    caller: AdminOnly,
    state: State,
    response: Response,
    if_match: IfMatch = None,
) -> loan_schemas.WaiveOut:
    if body.penalty_amount is None and body.interest_amount is None:
        raise InvalidArgument.field("penalty_amount", "a penalty or interest amount is required")
    request = loan_pb2.WaiveChargesRequest(
        loan_id=loan_id,
        installment_number=body.installment_number,
        reason=body.reason,
        value_date=loan_convert.iso(body.value_date),
        expected_version=expected_version(if_match, body.expected_version),
    )
    if body.penalty_amount is not None:
        request.penalty_amount.CopyFrom(to_proto(body.penalty_amount))
    if body.interest_amount is not None:
        request.interest_amount.CopyFrom(to_proto(body.interest_amount))
    result = await state.clients.loans.WaiveCharges(request)
    loan = tagged(response, loan_convert.loan(result.loan))
    return to_model(loan_schemas.WaiveOut, result, loan=loan)
