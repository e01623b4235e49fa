"""reporting_service process: wiring and start.

Background work: the outbox relay, and the consumer that builds the read
models from every loan.*, payment.*, borrower.* and eod.* event (one queue,
in queue order, so the event log keeps the order they came in; the events
waiting together are projected as one batch).
"""

from __future__ import annotations

from microfinance.reporting.v1 import reporting_pb2_grpc
from reporting_service.adapters.read_models import ReadModels
from reporting_service.consumers import QUEUE, ROUTING_KEYS, Project
from reporting_service.grpc_api import ACCESS, SERVICE_NAME, ReportingServicer
from reporting_service.migrations import REGISTRY
from reporting_service.service import Options, ReportingService
from shared.grpc.server import ServiceDefinition
from shared.runtime import Infrastructure, run_service

SERVICE = "reporting"


async def build(infra: Infrastructure) -> ServiceDefinition:
    await REGISTRY.apply(infra.db)
    settings = infra.settings
    models = ReadModels(infra.db)
    await models.upgrade_totals()
    reports = ReportingService(
        models,
        infra.cache,
        settings.business_tz(),
        Options(
            long_ttl=settings.report_cache_closed_seconds,
            short_ttl=settings.report_cache_open_seconds,
        ),
    )
    project = Project(reports)
    # Batched: the events waiting together are projected in one transaction, a few round
    # trips for them all (Project.batch); one at a time when the queue is quiet. One replica
    # at a time (single active consumer): the event log keeps the queue's order, and two
    # replicas would only collide on the same documents (the arrival counter, the day's flows).
    projector = infra.consumer(
        QUEUE, ROUTING_KEYS, project, batch_handler=project.batch, single_active=True
    )
    servicer = ReportingServicer(reports)
    return infra.definition(
        lambda server: reporting_pb2_grpc.add_ReportingServiceServicer_to_server(servicer, server),
        [SERVICE_NAME],
        ACCESS,
        background=[projector],
    )


def main() -> None:
    run_service(SERVICE, build)


if __name__ == "__main__":
    main()
