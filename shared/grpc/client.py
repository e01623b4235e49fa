"""Client channels to other services, with deadlines, retries, identity propagation and
round-robin balancing over every replica of the service.

An address setting (``MF_<NAME>_ADDR``) is one ``host:port``, a comma-separated list of
them, or any gRPC target URI (``dns:///loan:50053``, ``ipv4:10.0.0.5:50053,10.0.0.6:50053``):
``channel_target`` turns it into the target the channel is made with. Every channel uses the
``round_robin`` policy, so calls spread over all the addresses the target resolves to (a
DNS name's A records, or the list), and a replica that stops answering is skipped until it
is back.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import time
from contextvars import ContextVar
from typing import Any

import grpc
from grpc import aio

from shared import tracing
from shared.config import TARGET_SCHEMES, split_addresses
from shared.identity import caller_var
from shared.logging import request_id_var

# Retries only UNAVAILABLE: the request never reached a handler, so it is safe.
# round_robin: one connection per address, each call to the next ready one (gRPC's default,
# pick_first, would send everything to the first address that answers).
_SERVICE_CONFIG = json.dumps(
    {
        "loadBalancingConfig": [{"round_robin": {}}],
        "methodConfig": [
            {
                "name": [{}],
                "retryPolicy": {
                    "maxAttempts": 4,
                    "initialBackoff": "0.05s",
                    "maxBackoff": "1s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            }
        ]
    }
)


# When the call this process is serving must be answered (``time.monotonic()``), set by the
# server interceptor; None outside a call. A call made while serving it ends before it,
# with room left to answer (deadline propagation), so a chain of services and an outage
# behind it still answer the first caller inside its deadline.
call_deadline_var: ContextVar[float | None] = ContextVar("call_deadline", default=None)


def headroom(seconds_left: float) -> float:
    """Of the time left before a deadline, what to keep for answering once a nested wait
    (a call to another service, a database operation) has failed."""
    # A fifth: the answer crosses a loaded event loop or two before the caller has it.
    return max(0.2, seconds_left * 0.2)


def bounded_timeout(timeout: float) -> float:
    """``timeout``, cut so that it ends before the served call's deadline (with headroom)."""
    deadline = call_deadline_var.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    return max(0.01, min(timeout, left - headroom(left)))


def outgoing_metadata(extra: tuple[tuple[str, str], ...] = ()) -> tuple[tuple[str, str], ...]:
    """The caller's bearer token and the request id, to pass on to the next service; with
    tracing on, the current trace context (``traceparent``) too."""
    metadata: list[tuple[str, str]] = list(extra)
    keys = {k for k, _ in extra}
    caller = caller_var.get()
    if caller is not None and caller.token and "authorization" not in keys:
        metadata.append(("authorization", f"Bearer {caller.token}"))
    rid = request_id_var.get()
    if rid and "x-request-id" not in keys:
        metadata.append(("x-request-id", rid))
    if tracing.enabled and tracing.TRACEPARENT not in keys:
        metadata.extend(tracing.carrier().items())
    return tuple(metadata)


class _PropagatingUnaryUnary:
    """A unary-unary method of a channel that adds the default deadline (cut to the served
    call's, ``bounded_timeout``), the caller's token, the request id and (tracing on) the
    trace context to every call.

    What a client interceptor would do, without one: grpc.aio runs each intercepted call in
    a task of its own, wrapped in an ``InterceptedUnaryUnaryCall``, which cost about a tenth
    of the CPU of a call between our processes (docs/performance.md).
    """

    __slots__ = ("_call", "_timeout")

    def __init__(self, call: aio.UnaryUnaryMultiCallable[Any, Any], default_timeout: float) -> None:
        self._call = call
        self._timeout = default_timeout

    def __call__(
        self,
        request: Any,
        timeout: float | None = None,
        metadata: Any = None,
        credentials: grpc.CallCredentials | None = None,
        wait_for_ready: bool | None = None,
        compression: grpc.Compression | None = None,
    ) -> Any:
        given = tuple((str(k), str(v)) for k, v in metadata) if metadata else ()
        return self._call(
            request,
            timeout=bounded_timeout(self._timeout if timeout is None else timeout),
            metadata=outgoing_metadata(given),
            credentials=credentials,
            wait_for_ready=wait_for_ready,
            compression=compression,
        )


class PropagatingChannel(aio.Channel):
    """An ``aio.Channel`` whose unary-unary methods propagate identity and apply a default
    deadline (``_PropagatingUnaryUnary``); everything else is the channel's own."""

    def __init__(self, channel: aio.Channel, default_timeout: float) -> None:
        self._channel = channel
        self._timeout = default_timeout

    async def __aenter__(self) -> PropagatingChannel:
        return self

    async def __aexit__(self, *exc_info: Any) -> bool | None:
        await self._channel.close(None)
        return None

    async def close(self, grace: float | None = None) -> None:
        await self._channel.close(grace)

    def get_state(self, try_to_connect: bool = False) -> grpc.ChannelConnectivity:
        return self._channel.get_state(try_to_connect)

    async def wait_for_state_change(self, last_observed_state: grpc.ChannelConnectivity) -> None:
        await self._channel.wait_for_state_change(last_observed_state)

    async def channel_ready(self) -> None:
        await self._channel.channel_ready()

    def unary_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return _PropagatingUnaryUnary(
            self._channel.unary_unary(method, *args, **kwargs), self._timeout
        )

    def unary_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self._channel.unary_stream(method, *args, **kwargs)

    def stream_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self._channel.stream_unary(method, *args, **kwargs)

    def stream_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self._channel.stream_stream(method, *args, **kwargs)


def _host_port(entry: str) -> tuple[str, str]:
    host, sep, port = entry.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"{entry!r} is not host:port")
    return host.removeprefix("[").removesuffix("]"), port


def _ip_of(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The host's IP: itself if literal, else its first address (IPv4 first)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    infos.sort(key=lambda info: info[0] != socket.AF_INET)
    if not infos:
        raise ValueError(f"{host!r} does not resolve")
    return ipaddress.ip_address(infos[0][4][0])


def channel_target(addr: str) -> str:
    """The gRPC target for an address setting.

    One ``host:port`` or a target URI stays as it is. A list becomes gRPC's static list,
    ``ipv4:a:p,b:p`` (or ``ipv6:[a]:p,...``); host names in a list are resolved once, here
    (a name whose addresses change belongs in a ``dns:///`` target instead). ValueError
    for an entry without a port, or a list mixing IPv4 and IPv6.
    """
    text = addr.strip()
    if text.startswith(TARGET_SCHEMES) or "://" in text:
        return text
    entries = split_addresses(text)
    if len(entries) == 1:
        return entries[0]
    if not entries:
        raise ValueError("an empty address")
    ips = [(_ip_of(host), port) for host, port in map(_host_port, entries)]
    versions = {ip.version for ip, _ in ips}
    if versions == {4}:
        return "ipv4:" + ",".join(f"{ip}:{port}" for ip, port in ips)
    if versions == {6}:
        return "ipv6:" + ",".join(f"[{ip}]:{port}" for ip, port in ips)
    raise ValueError(f"{addr!r} mixes IPv4 and IPv6 addresses; give one family")


def channel_options() -> list[tuple[str, Any]]:
    """Retries on UNAVAILABLE, round-robin over the target's addresses, keepalive."""
    return [
        ("grpc.enable_retries", 1),
        ("grpc.service_config", _SERVICE_CONFIG),
        ("grpc.keepalive_time_ms", 30_000),
    ]


def create_channel(target: str, *, default_timeout: float = 5.0) -> aio.Channel:
    """A channel to an address setting (``channel_target``), balanced round-robin.

    Create inside the running event loop; the channel belongs to that loop."""
    channel = aio.insecure_channel(channel_target(target), options=channel_options())
    return PropagatingChannel(channel, default_timeout)


def plain_channel(target: str) -> aio.Channel:
    """Like ``create_channel`` (same target and balancing), without the identity
    propagation: for the command line, which sends its own metadata."""
    return aio.insecure_channel(channel_target(target), options=channel_options())


def is_unavailable(exc: BaseException) -> bool:
    return isinstance(exc, grpc.RpcError) and getattr(exc, "code", lambda: None)() in (
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
    )
