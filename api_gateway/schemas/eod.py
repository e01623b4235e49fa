"""JSON bodies of /api/v1/eod: closing business dates and following the run.

Same conventions as the other schemas: dates ``YYYY-MM-DD``, money
``{"amount_minor", "currency"}``, instants ISO 8601.
"""

from __future__ import annotations

import datetime as dt

from pydantic import Field, StrictBool

from api_gateway.schemas.common import IsoDate, Money, RequestBody, ResponseBody


class RunEndOfDayIn(RequestBody):
    date: IsoDate | None = Field(
        default=None,
        description="Business date to close; default today in the institution's time zone. "
        "Never in the future.",
    )
    catch_up: StrictBool = Field(
        default=False,
        description="Close every date missing since the last closed one, in order, up to `date`.",
    )


class EndOfDayErrorOut(ResponseBody):
    message: str = Field(description="What failed (the exception's type and message).")
    at: dt.datetime | None = Field(description="When it last failed.")
    attempts: int = Field(description="How many times the run failed so far.")


class EndOfDayRunOut(ResponseBody):
    target_date: str = Field(description="The last date the run closes.")
    dates: list[str] = Field(description="Every date the run closes, oldest first.")
    catch_up: bool
    current_date: str | None = Field(description="The date being worked now.")
    loans_total: int = Field(description="Loans of current_date.")
    loans_done: int = Field(description="Of those, done so far.")
    started_at: dt.datetime | None
    requested_by: str
    last_error: EndOfDayErrorOut | None = Field(
        default=None,
        description="The run's last failure; the worker retries it until it is given up.",
    )
    failed_at: dt.datetime | None = Field(
        default=None, description="When the run was given up (failed_run only)."
    )


class EndOfDayDateOut(ResponseBody):
    business_date: str
    loans_processed: int
    snapshot_rows: int
    penalties_charged: int
    installments_marked_overdue: int
    penalty_totals: list[Money] = Field(description="Penalties charged, one entry per currency.")
    closed_at: dt.datetime | None


class EndOfDayStatusOut(ResponseBody):
    last_closed_date: str | None = Field(description="None until a date was closed.")
    run: EndOfDayRunOut | None = Field(description="The run in progress (admins only).")
    last_closed: EndOfDayDateOut | None = Field(
        description="The last closed date's figures (admins only)."
    )
    failed_run: EndOfDayRunOut | None = Field(
        default=None,
        description="The last run given up after repeated failures, with its last_error; "
        "cleared when the next run opens (admins only).",
    )


class RunEndOfDayOut(ResponseBody):
    business_date: str = Field(description="The date asked for (the run's last date).")
    already_run: bool = Field(description="The date was already closed; nothing ran.")
    last_closed_date: str | None
    run: EndOfDayRunOut | None = Field(description="The run closing up to business_date.")
