"""CPU per unary RPC through the shared gRPC runtime, nothing else (issue 15).

One process: a ``GrpcServiceHost`` (the four server interceptors, health, reflection) whose
handler answers at once, and a channel from ``shared.grpc.client.create_channel`` (the
propagating channel, retries) calling it with a staff token, as the gateway and
the services call each other. What it measures is the per-call overhead of our runtime and
of grpc.aio, on both ends, without a database: process CPU time per call (all threads,
grpc's own included) and that of the event loop's thread alone (where our code runs, the
steadier figure for changes to it), at a given number of calls in flight, on the loop
``MF_EVENT_LOOP`` names. Logging goes to /dev/null at the level given (INFO writes the
per-RPC line, as deployed processes do).

    python bench/bench_rpc.py [--calls 4000] [--in-flight 32] [--repeat 3]
        [--log-level WARNING|INFO] [--log-json]

It prints one line per repeat and the best; it asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


async def measure(args: argparse.Namespace) -> list[dict[str, float]]:
    from auth_service.domain.keys import SigningKey
    from auth_service.domain.tokens import Principal, issue_access_token
    from microfinance.auth.v1 import auth_pb2, auth_pb2_grpc
    from shared.grpc.access import ANY_STAFF, access_table
    from shared.grpc.client import create_channel
    from shared.grpc.server import GrpcServiceHost, ServiceDefinition
    from shared.identity import current_caller
    from shared.tokens import JwksKeyCache, TokenVerifier

    key = SigningKey.generate(datetime.now(UTC))
    issuer = "bench-rpc"
    principal = Principal("staff-1", "a@b.org", "AGENT", "BR1", must_change_password=False)
    token = issue_access_token(
        principal, key, issuer=issuer, now=datetime.now(UTC), ttl_seconds=3600
    ).token
    name = auth_pb2.DESCRIPTOR.services_by_name["AuthService"].full_name

    class Echo(auth_pb2_grpc.AuthServiceServicer):
        async def GetPublicKeys(self, request: Any, context: Any) -> Any:  # noqa: N802
            return auth_pb2.GetPublicKeysResponse(current_kid=current_caller().subject)

    async def fetch() -> list[dict[str, Any]]:
        return [key.jwk()]

    definition = ServiceDefinition(
        name="bench",
        register=lambda s: auth_pb2_grpc.add_AuthServiceServicer_to_server(Echo(), s),
        service_names=[name],
        access=access_table(name, {"GetPublicKeys": ANY_STAFF}),
        verifier=TokenVerifier(JwksKeyCache(fetch), issuer=issuer),
    )
    host = GrpcServiceHost(definition, host="127.0.0.1", port=0, grace_seconds=0.5)
    await host.start()
    results: list[dict[str, float]] = []
    try:
        channel = create_channel(host.address, default_timeout=30.0)
        stub = auth_pb2_grpc.AuthServiceStub(channel)
        metadata = (("authorization", f"Bearer {token}"), ("x-request-id", "bench-rpc"))
        request = auth_pb2.GetPublicKeysRequest()

        async def worker(count: int) -> None:
            for _ in range(count):
                reply = await stub.GetPublicKeys(request, metadata=metadata)
                assert reply.current_kid == "staff-1"

        async def run(calls: int) -> tuple[float, float, float]:
            share = [calls // args.in_flight] * args.in_flight
            cpu, thread, wall = time.process_time(), time.thread_time(), time.perf_counter()
            await asyncio.gather(*(worker(n) for n in share if n))
            return (
                time.process_time() - cpu,
                time.thread_time() - thread,
                time.perf_counter() - wall,
            )

        await run(min(500, args.calls))  # warm up: connection, token cache, code paths
        for _ in range(args.repeat):
            cpu, thread, wall = await run(args.calls)
            results.append(
                {
                    "cpu_us_per_call": round(cpu / args.calls * 1e6, 1),
                    "loop_thread_us_per_call": round(thread / args.calls * 1e6, 1),
                    "calls_per_s": round(args.calls / wall, 1),
                }
            )
        await channel.close(None)
    finally:
        await host.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=4000)
    parser.add_argument("--in-flight", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--log-level", default="WARNING")
    parser.add_argument("--log-json", action="store_true")
    args = parser.parse_args()

    from shared import eventloop
    from shared.config import Settings
    from shared.logging import configure_logging

    configure_logging("bench", args.log_level, args.log_json)
    root = logging.getLogger()
    # The configured handler, pointed at /dev/null: formatting and redaction still run.
    devnull = open(  # noqa: SIM115 - held for the process's life
        "/dev/null", "w", encoding="utf-8"
    )
    for handler in root.handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(devnull)
    loop = Settings().event_loop
    results = eventloop.run(measure(args), loop)
    for row in results:
        print(json.dumps(row))
    best = min(r["cpu_us_per_call"] for r in results)
    best_thread = min(r["loop_thread_us_per_call"] for r in results)
    print(
        json.dumps(
            {
                "loop": loop,
                "log_level": args.log_level,
                "in_flight": args.in_flight,
                "calls": args.calls,
                "best_cpu_us_per_call": best,
                "best_loop_thread_us_per_call": best_thread,
            }
        )
    )


if __name__ == "__main__":
    main()
