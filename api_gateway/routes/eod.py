"""/api/v1/eod: close business dates (end of day) and follow the run. Admins run it;
any staff member reads the last closed date (agents see nothing more)."""

from __future__ import annotations

from fastapi import Response, status

from api_gateway.convert.common import to_model
from api_gateway.deps import State
from api_gateway.routes import Router, error_responses
from api_gateway.schemas import eod as schemas
from api_gateway.security import AdminOnly, AnyStaff
from microfinance.loan.v1 import loan_pb2

router = Router(prefix="/api/v1/eod", tags=["end of day"])


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Close business dates up to a date (starts or joins the run; returns at once)",
    responses={
        200: {"model": schemas.RunEndOfDayOut, "description": "The date was already closed"},
        202: {"model": schemas.RunEndOfDayOut, "description": "The run is open; follow GET"},
        **error_responses(401, 403, 409, 422, 503),
    },
)
async def run_end_of_day(
    body: schemas.RunEndOfDayIn, caller: AdminOnly, state: State, response: Response
) -> schemas.RunEndOfDayOut:
    result = await state.clients.loans.RunEndOfDay(
        loan_pb2.RunEndOfDayRequest(
            business_date=body.date.isoformat() if body.date else "", catch_up=body.catch_up
        )
    )
    if result.already_run:
        response.status_code = status.HTTP_200_OK
    return to_model(schemas.RunEndOfDayOut, result)


@router.get(
    "",
    summary="The last closed date, the run in progress and the last date's figures",
    responses=error_responses(401, 403, 503),
)
async def end_of_day_status(caller: AnyStaff, state: State) -> schemas.EndOfDayStatusOut:
    result = await state.clients.loans.GetEndOfDayStatus(loan_pb2.GetEndOfDayStatusRequest())
    return to_model(schemas.EndOfDayStatusOut, result)
