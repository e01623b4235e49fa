"""Client channels to other services, with deadlines, retries and identity propagation."""

from __future__ import annotations

import json
from collections.abc import Callable
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


class _PropagatingInterceptor(aio.UnaryUnaryClientInterceptor):  # type: ignore[type-arg]
    def __init__(self, default_timeout: float) -> None:
        self._timeout = default_timeout

    async def intercept_unary_unary(
        self,
        continuation: Callable[[aio.ClientCallDetails, Any], Any],
        client_call_details: aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        given = tuple(client_call_details.metadata or ())
        metadata = outgoing_metadata(tuple((str(k), str(v)) for k, v in given))
        details = aio.ClientCallDetails(
            method=client_call_details.method,
            timeout=client_call_details.timeout
            if client_call_details.timeout is not None
            else self._timeout,
            metadata=aio.Metadata(*metadata),
            credentials=client_call_details.credentials,
            wait_for_ready=client_call_details.wait_for_ready,
        )
        return await continuation(details, request)


def create_channel(target: str, *, default_timeout: float = 5.0) -> aio.Channel:
    """Create inside the running event loop; the channel belongs to that loop."""
    return aio.insecure_channel(
        target,
        options=[
            ("grpc.enable_retries", 1),
            ("grpc.service_config", _SERVICE_CONFIG),
            ("grpc.keepalive_time_ms", 30_000),
        ],
        interceptors=[_PropagatingInterceptor(default_timeout)],  # type: ignore[list-item]
    )


def is_unavailable(exc: BaseException) -> bool:
    return isinstance(exc, grpc.RpcError) and getattr(exc, "code", lambda: None)() in (
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
    )
