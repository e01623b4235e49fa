"""`microfinance eod`: close business dates through loan_service, showing progress.

The CLI asks loan_service over gRPC (RunEndOfDay), as the loan service itself:
a SERVICE token from auth_service in exchange for the shared service secret
(MF_SERVICE_TOKEN_SECRET, as the services' own background work does). It then
polls GetEndOfDayStatus until the run is done: a rich progress bar per date on
a terminal, one log line per change otherwise.

A failing run is not followed forever: when loan_service gives the run up
(``failed_run``), or when the run keeps failing with no progress for
``stall_seconds``, the CLI stops with the run's last error (``EodFailed``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

import grpc

from microfinance.auth.v1 import auth_pb2, auth_pb2_grpc
from microfinance.loan.v1 import loan_pb2, loan_pb2_grpc
from microfinance_cli.progress import start_bar
from shared.config import Settings
from shared.grpc.client import plain_channel

# The service whose identity the CLI borrows: end of day is loan_service's own work.
ACTING_AS = "loan"


class EodRefused(Exception):
    """loan_service said no (out of order, future date, another run): its message."""


class EodFailed(Exception):
    """The run failed (given up by loan_service, or failing with no progress): its error."""


@dataclass(frozen=True)
class Progress:
    """What one poll says: the date being worked, loans done of total, dates closed, and
    the run's last failure (empty while none) with how many times it failed."""

    current: str
    done: int
    total: int
    last_closed: str
    running: bool
    error: str = ""
    attempts: int = 0


class Reporter(Protocol):
    def update(self, progress: Progress) -> None: ...

    def close(self) -> None: ...


class LogReporter:
    """One line whenever something changed (not a terminal: logs, cron, CI)."""

    def __init__(self, echo: Callable[[str], None]) -> None:
        self._echo = echo
        self._last: tuple[str, int, str, int] | None = None

    def update(self, progress: Progress) -> None:
        key = (progress.current, progress.done, progress.last_closed, progress.attempts)
        if key == self._last:
            return
        self._last = key
        if progress.running and progress.error:
            self._echo(f"end of day failed ({progress.attempts} time(s) so far, retrying): "
                       f"{progress.error}")
        elif progress.running and progress.current:
            self._echo(
                f"end of day {progress.current}: {progress.done}/{progress.total} loans"
                f" (last closed {progress.last_closed or 'none'})"
            )

    def close(self) -> None:
        return None


class RichReporter:
    """A progress bar per business date, on a terminal."""

    def __init__(self) -> None:
        self._progress = start_bar("[bold]{task.description}")
        self._tasks: dict[str, Any] = {}

    def update(self, progress: Progress) -> None:
        for day, task in self._tasks.items():
            if day <= progress.last_closed:
                total = self._progress.tasks[task].total or 0
                self._progress.update(task, completed=total)
        if not progress.current:
            return
        task = self._tasks.get(progress.current)
        if task is None:
            task = self._progress.add_task(f"closing {progress.current}", total=progress.total)
            self._tasks[progress.current] = task
        self._progress.update(task, total=progress.total, completed=progress.done)

    def close(self) -> None:
        self._progress.stop()


async def service_token(settings: Settings, channel: grpc.aio.Channel) -> str:
    secret = settings.service_token_secret
    reply = await auth_pb2_grpc.AuthServiceStub(channel).IssueServiceToken(
        auth_pb2.IssueServiceTokenRequest(
            service=ACTING_AS, secret=secret.get_secret_value() if secret else ""
        ),
        timeout=settings.grpc_deadline_seconds,
    )
    return str(reply.access_token)


def _progress(status: loan_pb2.GetEndOfDayStatusResponse) -> Progress:
    run = status.run if status.HasField("run") else None
    error = run.last_error if run is not None and run.HasField("last_error") else None
    return Progress(
        current=run.current_date if run else "",
        done=int(run.loans_done) if run else 0,
        total=int(run.loans_total) if run else 0,
        last_closed=status.last_closed_date,
        running=run is not None,
        error=error.message if error else "",
        attempts=int(error.attempts) if error else 0,
    )


def _given_up(status: loan_pb2.GetEndOfDayStatusResponse, target: str) -> str | None:
    """The error of the run up to ``target`` if loan_service gave it up."""
    if status.HasField("run") or not status.HasField("failed_run"):
        return None
    failed = status.failed_run
    if failed.target_date != target:
        return None
    return (f"end of day up to {target} failed {failed.last_error.attempts} time(s) and was "
            f"given up: {failed.last_error.message}")


async def run_eod(
    settings: Settings,
    requested: date | None,
    catch_up: bool,
    reporter: Reporter,
    *,
    poll_seconds: float = 0.5,
    stall_seconds: float = 60.0,
) -> loan_pb2.GetEndOfDayStatusResponse:
    """Start (or join) the run and follow it until it is done; EodRefused on a refusal,
    EodFailed when the run was given up, or kept failing with no progress for
    ``stall_seconds``."""
    deadline = settings.grpc_deadline_seconds
    async with (
        plain_channel(settings.auth_addr) as auth_channel,
        plain_channel(settings.loan_addr) as loan_channel,
    ):
        token = await service_token(settings, auth_channel)
        metadata = (("authorization", f"Bearer {token}"),)
        loans = loan_pb2_grpc.LoanServiceStub(loan_channel)
        try:
            started = await loans.RunEndOfDay(
                loan_pb2.RunEndOfDayRequest(
                    business_date=requested.isoformat() if requested else "", catch_up=catch_up
                ),
                metadata=metadata,
                timeout=deadline,
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (
                grpc.StatusCode.FAILED_PRECONDITION,
                grpc.StatusCode.INVALID_ARGUMENT,
            ):
                raise EodRefused(exc.details() or exc.code().name) from None
            raise
        target = started.business_date
        moved = time.monotonic()
        seen: tuple[str, int, str] | None = None
        while True:
            status: loan_pb2.GetEndOfDayStatusResponse = await loans.GetEndOfDayStatus(
                loan_pb2.GetEndOfDayStatusRequest(), metadata=metadata, timeout=deadline
            )
            progress = _progress(status)
            reporter.update(progress)
            if not progress.running and progress.last_closed >= target:
                return status
            given_up = _given_up(status, target)
            if given_up is not None:
                raise EodFailed(given_up)
            now = (progress.current, progress.done, progress.last_closed)
            if now != seen:
                seen, moved = now, time.monotonic()
            elif progress.error and time.monotonic() - moved >= stall_seconds:
                raise EodFailed(
                    f"end of day up to {target} is failing ({progress.attempts} time(s), no "
                    f"progress for {stall_seconds:.0f} s): {progress.error}; loan_service "
                    "retries it until it gives up (`microfinance eod` again then)"
                )
            if not progress.running:
                # The run ended short of the target (another replica's refusal): say so.
                raise EodRefused(
                    f"the run stopped before {target}; last closed date is "
                    f"{progress.last_closed or 'none'}"
                )
            await asyncio.sleep(poll_seconds)
