"""The serving processes' event loop (shared/eventloop.py): uvloop unless MF_EVENT_LOOP says
asyncio, and the gRPC runtime (server, interceptors, health, client channel) working on it."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from shared import eventloop
from shared.config import Settings

pytestmark = pytest.mark.integration
T = TypeVar("T")
REPO = Path(__file__).resolve().parents[2]


def in_thread(body: Callable[[], T]) -> T:
    """Run ``body`` in a thread of its own: the test session's loop stays untouched."""
    result: list[T] = []
    thread = threading.Thread(target=lambda: result.append(body()))
    thread.start()
    thread.join(timeout=30)
    assert result, "the loop did not finish"
    return result[0]


async def loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_uvloop_by_default_and_the_standard_loop_on_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MF_EVENT_LOOP", raising=False)
    assert Settings().event_loop == "uvloop"
    monkeypatch.setenv("MF_EVENT_LOOP", "asyncio")
    assert Settings().event_loop == "asyncio"
    assert in_thread(lambda: eventloop.run(loop_module(), "uvloop")).startswith("uvloop")
    assert in_thread(lambda: eventloop.run(loop_module(), "asyncio")).startswith("asyncio")
    assert eventloop.uvicorn_loop("uvloop") == "uvloop"
    assert eventloop.uvicorn_loop("asyncio") == "asyncio"


# A service host on the loop MF_EVENT_LOOP names, in a process of its own (grpc.aio binds
# to the first loop that uses it), called over a real channel through every interceptor.
SCRIPT = """
import asyncio, json, sys
import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from microfinance.auth.v1 import auth_pb2, auth_pb2_grpc
from shared import eventloop
from shared.config import Settings
from shared.grpc.access import PUBLIC, access_table
from shared.grpc.server import GrpcServiceHost, ServiceDefinition
from shared.logging import request_id_var
from shared.tokens import JwksKeyCache, TokenVerifier

NAME = auth_pb2.DESCRIPTOR.services_by_name["AuthService"].full_name

class Probe(auth_pb2_grpc.AuthServiceServicer):
    async def Login(self, request, context):
        return auth_pb2.LoginResponse(token_type=request_id_var.get())

async def fetch():
    return []

async def main():
    definition = ServiceDefinition(
        name="probe",
        register=lambda s: auth_pb2_grpc.add_AuthServiceServicer_to_server(Probe(), s),
        service_names=[NAME],
        access=access_table(NAME, {"Login": PUBLIC}),
        verifier=TokenVerifier(JwksKeyCache(fetch), issuer="x"),
    )
    host = GrpcServiceHost(definition, host="127.0.0.1", port=0, grace_seconds=0.5)
    await host.start()
    try:
        async with grpc.aio.insecure_channel(host.address) as channel:
            stub = auth_pb2_grpc.AuthServiceStub(channel)
            logins = await asyncio.gather(*(
                stub.Login(auth_pb2.LoginRequest(), metadata=(("x-request-id", f"r{i}"),))
                for i in range(20)
            ))
            try:
                await stub.Logout(auth_pb2.LogoutRequest())
                refused = "OK"
            except grpc.aio.AioRpcError as err:
                refused = err.code().name
            health = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=NAME)
            )
    finally:
        await host.stop()
    return {
        "loop": type(asyncio.get_running_loop()).__module__,
        "ids": [r.token_type for r in logins],
        "refused": refused,
        "health": health_pb2.HealthCheckResponse.ServingStatus.Name(health.status),
    }

print(json.dumps(eventloop.run(main(), Settings().event_loop)))
"""


@pytest.mark.parametrize("choice", ["uvloop", "asyncio"])
def test_grpc_services_run_on_either_loop(choice: str, tmp_path: Path) -> None:
    env: dict[str, Any] = {"PATH": "/usr/bin:/bin", "MF_EVENT_LOOP": choice, "MF_ENV": "test"}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["loop"].startswith(choice)
    assert answer["ids"] == [f"r{i}" for i in range(20)]
    assert answer["refused"] == "PERMISSION_DENIED"
    assert answer["health"] == "SERVING"
