"""A channel to a list of addresses spreads its calls over all of them (round_robin)."""

from __future__ import annotations

from typing import Any

from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from shared.grpc.client import create_channel


class _Counting(health_pb2_grpc.HealthServicer):  # type: ignore[misc]  # untyped stubs
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    async def Check(self, request: Any, context: Any) -> Any:
        self.calls += 1
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)


async def _server() -> tuple[aio.Server, _Counting, int]:
    server = aio.server()
    servicer = _Counting()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, servicer, port


async def test_calls_are_spread_over_every_address_of_a_list() -> None:
    started = [await _server() for _ in range(2)]
    try:
        addr = ",".join(f"127.0.0.1:{port}" for _, _, port in started)
        async with create_channel(addr) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            for _ in range(40):
                await stub.Check(health_pb2.HealthCheckRequest(), wait_for_ready=True)
        counts = [servicer.calls for _, servicer, _ in started]
        assert sum(counts) == 40
        # round_robin: each ready address takes its turn (the first calls may all go to the
        # one connected first, so not exactly 20 each).
        assert min(counts) >= 10, counts
    finally:
        for server, _, _ in started:
            await server.stop(None)
