"""The recovery loop: settles payments (and reversals) left unfinished.

Every few seconds it takes the lease on each PENDING payment or requested
reversal whose lease has run out (its request failed to reach the loan
service, or the process that held it died) and drives it again, as this
service with its own SERVICE token. Re-driving is safe because the loan
service is idempotent on the payment id, and settling is a compare-and-set
on the PENDING state: a payment is applied and posted exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid

import grpc

from payment_service.service import PaymentService
from shared.background import BackgroundLoop
from shared.logging import request_id_var
from shared.service_identity import ServiceIdentity

log = logging.getLogger(__name__)


class RecoveryLoop(BackgroundLoop):
    task_name = "payment-recovery"

    def __init__(
        self,
        payments: PaymentService,
        identity: ServiceIdentity,
        *,
        interval_seconds: float = 2.0,
        batch: int = 100,
    ) -> None:
        self._payments = payments
        self._identity = identity
        self._interval = interval_seconds
        self._batch = batch
        self.runs = 0
        super().__init__()

    async def run_once(self) -> int:
        token = request_id_var.set(f"recovery-{uuid.uuid4().hex[:12]}")
        try:
            async with self._identity.acting():
                return await self._payments.recover_due(self._batch)
        finally:
            request_id_var.reset(token)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            due = 0
            try:
                due = await self.run_once()
            except grpc.aio.AioRpcError as exc:
                # auth_service not up yet (start-up) or down: one line, and the next tick.
                log.warning(
                    "payment recovery pass skipped: %s (%s)", exc.code().name, exc.details()
                )
            except Exception:
                # MongoDB down, or anything unexpected: try again on the next tick.
                log.warning("payment recovery pass failed", exc_info=True)
            self.runs += 1
            if due >= self._batch:
                continue  # more waiting: go again at once
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self._interval)
