"""End-of-day protobuf messages to the JSON models of /api/v1/eod."""

from __future__ import annotations

from api_gateway.convert.common import to_model
from api_gateway.schemas import eod as schemas
from microfinance.loan.v1 import loan_pb2


def run(value: loan_pb2.EndOfDayRun) -> schemas.EndOfDayRunOut:
    return to_model(schemas.EndOfDayRunOut, value)


def figures(value: loan_pb2.EndOfDayDate) -> schemas.EndOfDayDateOut:
    return to_model(schemas.EndOfDayDateOut, value)


def status(value: loan_pb2.GetEndOfDayStatusResponse) -> schemas.EndOfDayStatusOut:
    return to_model(schemas.EndOfDayStatusOut, value)


def started(value: loan_pb2.RunEndOfDayResponse) -> schemas.RunEndOfDayOut:
    return to_model(schemas.RunEndOfDayOut, value)
