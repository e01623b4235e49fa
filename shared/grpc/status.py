"""The single mapping between domain errors and gRPC status, both ways.

``to_grpc_status`` attaches ``google.rpc.BadRequest`` field violations (and the
existing id of an ``AlreadyExists``) so a client can tell which field was wrong;
``from_rpc_error`` turns a status received from another service back into the
same domain error.
"""

from __future__ import annotations

from typing import cast

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from shared import errors
from shared.errors import (
    AlreadyExists,
    DomainError,
    FieldViolation,
    ResourceExhausted,
    Unavailable,
)

_STATUS: dict[type[DomainError], grpc.StatusCode] = {
    errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    errors.FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    errors.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    errors.Conflict: grpc.StatusCode.ABORTED,
    errors.Unavailable: grpc.StatusCode.UNAVAILABLE,
    errors.ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
}
_BY_CODE: dict[grpc.StatusCode, type[DomainError]] = {v: k for k, v in _STATUS.items()}


def status_code_for(err: DomainError) -> grpc.StatusCode:
    for cls in type(err).__mro__:
        if cls in _STATUS and issubclass(cls, DomainError):
            return _STATUS[cls]
    return grpc.StatusCode.UNKNOWN


# A status travels in gRPC metadata, which a client refuses past 8 KiB (soft) to 16 KiB
# (hard): a message quoting a long input ("got 'xxxx...'") would cost the caller the status
# itself (RESOURCE_EXHAUSTED "Stream removed"). Messages and descriptions are cut to these.
MAX_MESSAGE = 1024
MAX_DESCRIPTION = 256


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def to_grpc_status(err: DomainError) -> grpc.Status:
    code = status_code_for(err)
    details: list[any_pb2.Any] = []
    if err.violations:
        bad = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=_short(v.field, MAX_DESCRIPTION),
                    description=_short(v.description, MAX_DESCRIPTION),
                )
                for v in err.violations
            ]
        )
        packed = any_pb2.Any()
        packed.Pack(bad)
        details.append(packed)
    if isinstance(err, AlreadyExists) and err.existing_id:
        info = error_details_pb2.ResourceInfo(resource_name=err.existing_id)
        packed = any_pb2.Any()
        packed.Pack(info)
        details.append(packed)
    if isinstance(err, ResourceExhausted) and err.retry_after_seconds is not None:
        retry = error_details_pb2.RetryInfo()
        retry.retry_delay.seconds = max(1, err.retry_after_seconds)
        packed = any_pb2.Any()
        packed.Pack(retry)
        details.append(packed)
    status = status_pb2.Status(
        code=code.value[0], message=_short(err.message, MAX_MESSAGE), details=details
    )
    return rpc_status.to_status(status)


def from_rpc_error(exc: grpc.RpcError) -> DomainError:
    """Turn a status received from another service back into a domain error."""
    code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
    message = exc.details() if hasattr(exc, "details") else str(exc)
    violations: list[FieldViolation] = []
    existing_id: str | None = None
    retry_after: int | None = None
    status = None
    if hasattr(exc, "trailing_metadata"):
        status = rpc_status.from_call(cast(grpc.Call, exc))
    if status is not None:
        for detail in status.details:
            if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                violations.extend(
                    FieldViolation(v.field, v.description) for v in bad.field_violations
                )
            elif detail.Is(error_details_pb2.ResourceInfo.DESCRIPTOR):
                info = error_details_pb2.ResourceInfo()
                detail.Unpack(info)
                existing_id = info.resource_name
            elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                retry = error_details_pb2.RetryInfo()
                detail.Unpack(retry)
                retry_after = int(retry.retry_delay.seconds)
    cls = _BY_CODE.get(code)
    if cls is None:
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return Unavailable(f"upstream timed out: {message}")
        return Unavailable(f"upstream error {code.name}: {message}")
    if cls is AlreadyExists:
        return AlreadyExists(message or "", violations=violations, existing_id=existing_id)
    if cls is ResourceExhausted:
        return ResourceExhausted(
            message or code.name, violations=violations, retry_after_seconds=retry_after
        )
    return cls(message or code.name, violations=violations)


__all__ = ["from_rpc_error", "status_code_for", "to_grpc_status"]
