"""gRPC channels and stubs to every service, opened inside the running loop.

The channels come from shared.grpc.client, whose interceptor adds the current
caller's bearer token and the request id to every call, so routes only build
requests. Deadlines default to settings.grpc_deadline_seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import grpc
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from microfinance.auth.v1 import auth_pb2_grpc
from microfinance.loan.v1 import loan_pb2_grpc
from microfinance.payment.v1 import payment_pb2_grpc
from microfinance.reporting.v1 import reporting_pb2_grpc
from microfinance.user.v1 import user_pb2_grpc
from shared.config import Settings
from shared.grpc.client import create_channel

SERVICES = ("auth", "user", "loan", "payment", "reporting")


@dataclass
class ServiceClients:
    channels: dict[str, aio.Channel]
    auth: auth_pb2_grpc.AuthServiceStub
    users: user_pb2_grpc.UserServiceStub
    borrowers: user_pb2_grpc.BorrowerServiceStub
    loans: loan_pb2_grpc.LoanServiceStub
    products: loan_pb2_grpc.LoanProductServiceStub
    payments: payment_pb2_grpc.PaymentServiceStub
    reports: reporting_pb2_grpc.ReportingServiceStub

    @classmethod
    def open(cls, settings: Settings) -> ServiceClients:
        channels = {
            name: create_channel(
                getattr(settings, f"{name}_addr"), default_timeout=settings.grpc_deadline_seconds
            )
            for name in SERVICES
        }
        return cls(
            channels=channels,
            auth=auth_pb2_grpc.AuthServiceStub(channels["auth"]),
            users=user_pb2_grpc.UserServiceStub(channels["user"]),
            borrowers=user_pb2_grpc.BorrowerServiceStub(channels["user"]),
            loans=loan_pb2_grpc.LoanServiceStub(channels["loan"]),
            products=loan_pb2_grpc.LoanProductServiceStub(channels["loan"]),
            payments=payment_pb2_grpc.PaymentServiceStub(channels["payment"]),
            reports=reporting_pb2_grpc.ReportingServiceStub(channels["reporting"]),
        )

    async def health(self, deadline_seconds: float) -> dict[str, str]:
        """grpc.health.v1 status of each service ("" = the whole server)."""

        async def check(channel: aio.Channel) -> str:
            stub = health_pb2_grpc.HealthStub(channel)
            try:
                response = await stub.Check(
                    health_pb2.HealthCheckRequest(service=""), timeout=deadline_seconds
                )
            except grpc.RpcError:
                return "UNAVAILABLE"
            name: str = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
            return name

        results = await asyncio.gather(*(check(ch) for ch in self.channels.values()))
        return dict(zip(self.channels, results, strict=True))

    async def close(self) -> None:
        for channel in self.channels.values():
            with contextlib.suppress(Exception):
                await channel.close(None)
