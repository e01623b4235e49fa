"""payment_service process: wiring and start.

Background work: the outbox relay, the recovery loop that settles
payments left PENDING (see payment_service/recovery.py), and the consumer
that moves payments with their loan when its borrower is reassigned.
"""

from __future__ import annotations

import asyncio
import logging

from grpc import aio

from microfinance.payment.v1 import payment_pb2_grpc
from payment_service.adapters.loan_client import LoanClient
from payment_service.adapters.payment_repository import PaymentRepository
from payment_service.adapters.user_client import UserClient
from payment_service.consumers import LOAN_QUEUE, LOAN_ROUTING_KEYS, FollowLoan
from payment_service.domain.receipt import Institution
from payment_service.grpc_api import ACCESS, SERVICE_NAME, PaymentServicer
from payment_service.migrations import REGISTRY
from payment_service.recovery import RecoveryLoop
from payment_service.service import Checkpoint, Options, PaymentService, no_checkpoint
from shared.config import Settings
from shared.grpc.client import create_channel
from shared.grpc.server import ServiceDefinition
from shared.runtime import Infrastructure, run_service, service_identity

SERVICE = "payment"
log = logging.getLogger(__name__)


def test_checkpoint(settings: Settings) -> Checkpoint | None:
    """The crash test's hook: block the posting flow forever at one named point."""
    if not settings.payment_test_pause:
        return None
    if settings.env != "test":
        raise RuntimeError("MF_PAYMENT_TEST_PAUSE is only allowed with MF_ENV=test")
    point = settings.payment_test_pause

    async def pause(name: str) -> None:
        if name == point:
            log.warning("test pause at %s: waiting to be killed", name)
            await asyncio.Event().wait()

    return pause


async def build(infra: Infrastructure) -> ServiceDefinition:
    await REGISTRY.apply(infra.db)
    settings = infra.settings
    deadline = settings.grpc_deadline_seconds
    loan_channel = create_channel(settings.loan_addr, default_timeout=deadline)
    user_channel = create_channel(settings.user_addr, default_timeout=deadline)

    async def close_channels() -> None:
        await loan_channel.close(None)
        await user_channel.close(None)

    infra.closers.append(close_channels)
    checkpoint = test_checkpoint(settings) or no_checkpoint
    identity = service_identity(infra)
    payments = PaymentService(
        PaymentRepository(infra.db, receipt_block=settings.payment_receipt_block),
        LoanClient(loan_channel, identity),
        UserClient(user_channel),
        infra.in_transaction,
        infra.outbox,
        institution=Institution(
            settings.institution_name, settings.institution_address, settings.institution_phone
        ),
        options=Options(
            lease_seconds=settings.payment_lease_seconds,
            retry_max_seconds=settings.payment_retry_max_seconds,
            replay_wait_seconds=settings.payment_replay_wait_seconds,
            scope_grace_seconds=settings.payment_scope_grace_seconds,
        ),
        timezone=settings.business_tz(),
        checkpoint=checkpoint,
    )
    recovery = RecoveryLoop(
        payments,
        identity,
        interval_seconds=settings.payment_recovery_interval_seconds,
        batch=settings.payment_recovery_batch,
    )
    follower = infra.consumer(LOAN_QUEUE, LOAN_ROUTING_KEYS, FollowLoan(payments))
    infra.samples.append(("payment_recovery", payments.sample_recovery_backlog))
    servicer = PaymentServicer(payments)

    def register(server: aio.Server) -> None:
        payment_pb2_grpc.add_PaymentServiceServicer_to_server(servicer, server)

    return infra.definition(register, [SERVICE_NAME], ACCESS, background=[recovery, follower])


def main() -> None:
    run_service(SERVICE, build)


if __name__ == "__main__":
    main()
