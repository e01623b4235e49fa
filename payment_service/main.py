"""payment_service process: wiring and start."""

from __future__ import annotations

from microfinance.payment.v1 import payment_pb2_grpc
from payment_service.grpc_api import ACCESS, SERVICE_NAME, PaymentServicer
from shared.grpc.server import ServiceDefinition
from shared.runtime import Infrastructure, remote_verifier, run_service

SERVICE = "payment"


async def build(infra: Infrastructure) -> ServiceDefinition:
    servicer = PaymentServicer()
    return ServiceDefinition(
        name="payment_service",
        register=lambda server: payment_pb2_grpc.add_PaymentServiceServicer_to_server(
            servicer, server
        ),
        service_names=[SERVICE_NAME],
        access=ACCESS,
        verifier=remote_verifier(infra),
        health_checks={"mongo": infra.mongo_healthy},
        background=[infra.relay],
    )


def main() -> None:
    run_service(SERVICE, build)


if __name__ == "__main__":
    main()
