"""Health probes: grpc.health.v1 for the services, GET /healthz for the gateway."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from microfinance_cli.services import ServiceDef
from shared.config import Settings, split_addresses
from shared.grpc.client import channel_target

SERVING = "SERVING"
NOT_SERVING = "NOT_SERVING"
UNREACHABLE = "UNREACHABLE"


@dataclass(frozen=True)
class Probe:
    name: str
    target: str  # host:port or URL
    status: str  # SERVING, NOT_SERVING, SERVICE_UNKNOWN, UNKNOWN or UNREACHABLE
    detail: str = ""

    @property
    def serving(self) -> bool:
        return self.status == SERVING


def local_host(host: str) -> str:
    """A wildcard bind address is not something to connect to; use loopback instead."""
    return "127.0.0.1" if host in ("", "0.0.0.0", "::", "[::]") else host


def gateway_url(settings: Settings) -> str:
    return f"http://{local_host(settings.gateway_host)}:{settings.gateway_port}"


@dataclass(frozen=True)
class Endpoint:
    """One process to probe: a service's address (one replica), or a gateway's URL."""

    name: str  # the service's name, or name.N for the Nth address of a list (loan.2)
    kind: Literal["grpc", "http"]
    target: str  # host:port (or a gRPC target URI), or the /healthz URL


def replica_name(name: str, index: int, count: int) -> str:
    """``loan`` when it is the only one, ``loan.2`` for the second of several."""
    return name if count == 1 else f"{name}.{index}"


def target_for(svc: ServiceDef, settings: Settings) -> str:
    if svc.kind == "http":
        return f"{gateway_url(settings)}/healthz"
    return svc.grpc_addr(settings)


def endpoints_of(svc: ServiceDef, settings: Settings) -> list[Endpoint]:
    """Every address of ``svc`` (each entry of a list on its own); the gateway's one URL."""
    if svc.kind == "http":
        return [Endpoint(svc.name, "http", target_for(svc, settings))]
    addrs = split_addresses(svc.grpc_addr(settings))
    return [
        Endpoint(replica_name(svc.name, i, len(addrs)), "grpc", addr)
        for i, addr in enumerate(addrs, start=1)
    ]


def endpoints(services: Sequence[ServiceDef], settings: Settings) -> list[Endpoint]:
    return [e for svc in services for e in endpoints_of(svc, settings)]


async def probe_grpc(name: str, addr: str, rpc_timeout: float = 3.0, service: str = "") -> Probe:
    """Asks grpc.health.v1 Check; `service=""` is the server's overall status."""
    async with grpc.aio.insecure_channel(channel_target(addr)) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            request = health_pb2.HealthCheckRequest(service=service)
            reply = await stub.Check(request, timeout=rpc_timeout)
        except grpc.aio.AioRpcError as exc:
            status = UNREACHABLE if exc.code() == grpc.StatusCode.UNAVAILABLE else exc.code().name
            return Probe(name, addr, status, exc.details() or "")
    status_name = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    return Probe(name, addr, str(status_name))


async def probe_http(name: str, url: str, rpc_timeout: float = 3.0) -> Probe:
    try:
        async with httpx.AsyncClient(timeout=rpc_timeout) as client:
            response = await client.get(url)
    except httpx.HTTPError as exc:
        return Probe(name, url, UNREACHABLE, str(exc) or type(exc).__name__)
    if response.status_code == 200:
        return Probe(name, url, SERVING)
    return Probe(name, url, NOT_SERVING, f"HTTP {response.status_code}: {response.text[:200]}")


async def probe_endpoint(endpoint: Endpoint, rpc_timeout: float = 3.0) -> Probe:
    if endpoint.kind == "http":
        return await probe_http(endpoint.name, endpoint.target, rpc_timeout)
    return await probe_grpc(endpoint.name, endpoint.target, rpc_timeout)


async def probe(svc: ServiceDef, settings: Settings, rpc_timeout: float = 3.0) -> list[Probe]:
    """One probe per address of ``svc`` (several for a list of replicas)."""
    return await probe_endpoints(endpoints_of(svc, settings), rpc_timeout)


async def probe_endpoints(found: Sequence[Endpoint], rpc_timeout: float = 3.0) -> list[Probe]:
    return list(await asyncio.gather(*(probe_endpoint(e, rpc_timeout) for e in found)))


async def probe_all(
    services: Sequence[ServiceDef], settings: Settings, rpc_timeout: float = 3.0
) -> list[Probe]:
    return await probe_endpoints(endpoints(services, settings), rpc_timeout)


async def wait_until_serving(
    services: Sequence[ServiceDef],
    settings: Settings,
    deadline_seconds: float,
    on_ready: Callable[[Probe], None] | None = None,
) -> list[Probe]:
    """Polls every address of every service until all report SERVING; raises TimeoutError
    naming the laggards."""
    return await wait_until_endpoints_serving(
        endpoints(services, settings), deadline_seconds, on_ready
    )


async def wait_until_endpoints_serving(
    found: Sequence[Endpoint],
    deadline_seconds: float,
    on_ready: Callable[[Probe], None] | None = None,
) -> list[Probe]:
    """Polls every endpoint until all report SERVING; raises TimeoutError naming the laggards."""
    deadline = time.monotonic() + deadline_seconds
    waiting = list(found)
    ready: list[Probe] = []
    last: dict[Endpoint, Probe] = {}
    interval = 0.1
    while waiting:
        results = await probe_endpoints(waiting, rpc_timeout=min(2.0, deadline_seconds))
        still: list[Endpoint] = []
        for endpoint, result in zip(waiting, results, strict=True):
            last[endpoint] = result
            if result.serving:
                ready.append(result)
                if on_ready is not None:
                    on_ready(result)
            else:
                still.append(endpoint)
        waiting = still
        if not waiting:
            break
        if time.monotonic() >= deadline:
            lagging = ", ".join(
                f"{e.name} ({last[e].status} at {last[e].target})" for e in waiting
            )
            raise TimeoutError(f"not SERVING after {deadline_seconds:.0f}s: {lagging}")
        await asyncio.sleep(interval)  # a poll interval, bounded by the deadline above
        interval = min(interval * 2, 1.0)
    return ready
