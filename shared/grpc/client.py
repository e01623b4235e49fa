"""Client channels to other services, with deadlines, retries and identity propagation."""

from __future__ import annotations

import json
from typing import Any

import grpc
from grpc import aio

from shared.identity import caller_var
from shared.logging import request_id_var

# Retries only UNAVAILABLE: the request never reached a handler, so it is safe.
_SERVICE_CONFIG = json.dumps(
    {
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


def outgoing_metadata(extra: tuple[tuple[str, str], ...] = ()) -> tuple[tuple[str, str], ...]:
    """The caller's bearer token and the request id, to pass on to the next service."""
    metadata: list[tuple[str, str]] = list(extra)
    keys = {k for k, _ in extra}
    caller = caller_var.get()
    if caller is not None and caller.token and "authorization" not in keys:
        metadata.append(("authorization", f"Bearer {caller.token}"))
    rid = request_id_var.get()
    if rid and "x-request-id" not in keys:
        metadata.append(("x-request-id", rid))
    return tuple(metadata)


class _PropagatingUnaryUnary:
    """A unary-unary method of a channel that adds the default deadline, the caller's token
    and the request id to every call.

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
            timeout=self._timeout if timeout is None else timeout,
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


def create_channel(target: str, *, default_timeout: float = 5.0) -> aio.Channel:
    """Create inside the running event loop; the channel belongs to that loop."""
    channel = aio.insecure_channel(
        target,
        options=[
            ("grpc.enable_retries", 1),
            ("grpc.service_config", _SERVICE_CONFIG),
            ("grpc.keepalive_time_ms", 30_000),
        ],
    )
    return PropagatingChannel(channel, default_timeout)


def is_unavailable(exc: BaseException) -> bool:
    return isinstance(exc, grpc.RpcError) and getattr(exc, "code", lambda: None)() in (
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
    )
