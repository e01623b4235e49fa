"""The server interceptor: request id, logging, metrics, error mapping and authentication.

They wrap the method's behaviour in that order, the first outermost, in one coroutine
(``ServiceInterceptor``). With tracing on (shared/tracing.py) a server span around it.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import grpc
from grpc import aio
from pymongo.errors import PyMongoError

from shared import tracing
from shared.errors import DomainError, PermissionDenied, Unauthenticated, Unavailable
from shared.grpc.access import OPEN_PREFIXES, Access
from shared.grpc.client import call_deadline_var, headroom
from shared.grpc.request_check import check_request
from shared.grpc.status import from_rpc_error, status_code_for, to_grpc_status
from shared.identity import caller_var
from shared.logging import request_id_var
from shared.metrics import GRPC_HANDLED, GRPC_SECONDS
from shared.mongo import DATABASE_UNAVAILABLE, is_outage, time_budget
from shared.tokens import TokenVerifier

log = logging.getLogger("microfinance.rpc")

REQUEST_ID_KEY = "x-request-id"

Unary = Callable[[Any, aio.ServicerContext[Any, Any]], Awaitable[Any]]
Wrapper = Callable[[Unary, str], Unary]


def _is_open(method: str) -> bool:
    return method.startswith(OPEN_PREFIXES)


def _wrap(handler: Any, wrapper: Wrapper, method: str) -> Any:
    if handler is None:
        return None
    if handler.unary_unary is not None:
        inner = handler.unary_unary
        if inspect.iscoroutinefunction(inner):
            unary: Unary = inner
        else:

            async def unary(request: Any, context: aio.ServicerContext[Any, Any]) -> Any:
                # Generated base servicers are plain functions that raise NotImplementedError.
                result = inner(request, context)
                return await result if inspect.isawaitable(result) else result

        return grpc.unary_unary_rpc_method_handler(
            wrapper(unary, method),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(
            _streaming(handler.unary_stream, wrapper, method),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    if handler.stream_stream is not None and _is_open(method):
        # Server reflection is a bidirectional stream; it is open, so only the request id
        # wrapper reaches it.
        return grpc.stream_stream_rpc_method_handler(
            _streaming(handler.stream_stream, wrapper, method),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    # Client-streaming RPCs are not part of our contracts; refuse rather than run unchecked.
    async def refuse(request: Any, context: aio.ServicerContext[Any, Any]) -> Any:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "streaming calls are not supported")

    return grpc.unary_unary_rpc_method_handler(refuse)


def _streaming(inner: Any, wrapper: Wrapper, method: str) -> Unary:
    """A streaming handler run inside the wrappers, each response written as it comes.

    Handlers either are async generators or write with ``context.write`` (the health
    service's ``Watch`` does, and never ends), so nothing may be buffered.
    """

    async def run(request: Any, context: aio.ServicerContext[Any, Any]) -> None:
        result = inner(request, context)
        if inspect.isawaitable(result):
            await result
            return
        async for item in result:
            await context.write(item)

    return wrapper(run, method)


Translator = Callable[[Exception], DomainError | None]


def default_translator(exc: Exception) -> DomainError | None:
    if is_outage(exc):
        return Unavailable(DATABASE_UNAVAILABLE)
    if isinstance(exc, PyMongoError) and exc.has_error_label("TransientTransactionError"):
        return Unavailable("a transient database error occurred, try again")
    if isinstance(exc, aio.AioRpcError):
        return from_rpc_error(exc)
    return None


class ServiceInterceptor(aio.ServerInterceptor):  # type: ignore[type-arg]
    """Request id, logging, error mapping and authentication, in that order (the first
    outermost), run as one coroutine around each call.

    Per call: the request id from the metadata (or a new one) is set for the call's logs and
    sent back first in the initial metadata, errors included; the call is logged with its
    status code, counted and timed (shared/metrics.py); domain errors become their status
    code and anything else INTERNAL, logged once; the bearer token is verified and the
    caller's role checked against the access table (a method absent from it is refused),
    the request's shape is checked (``shared.grpc.request_check``), and the caller is set
    for the handler.
    Open methods (health, reflection) get the request id only.

    A method's wrapped handler is built once and kept: the per-call parts (metadata, token)
    are read from the call's context, so a call costs one coroutine of ours, not a nest of
    them and a new method handler each time. With tracing on when it is built, it runs in
    a server span, child of the caller's ``traceparent`` (``_traced``); off, nothing of
    tracing is in it.
    """

    def __init__(
        self,
        verifier: TokenVerifier,
        table: Mapping[str, Access],
        translators: Sequence[Translator] = (default_translator,),
    ) -> None:
        self._verifier = verifier
        self._table = table
        self._translators = tuple(translators)
        # method -> (the handler it was built from, the wrapped handler)
        self._handlers: dict[str, tuple[Any, Any]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        built = self._handlers.get(method)
        if built is not None and built[0] is handler:
            return built[1]
        wrapper = _request_id_only if _is_open(method) else self._guarded
        wrapped = _wrap(handler, wrapper, method)
        self._handlers[method] = (handler, wrapped)
        return wrapped

    def _guarded(self, behavior: Unary, method: str) -> Unary:
        behavior = _within_deadline(behavior)
        access = self._table.get(method)
        name = method.rsplit("/", 1)[-1]
        verify = self._verifier.verify
        translators = self._translators
        record = _method_metrics(method)

        async def run(request: Any, context: aio.ServicerContext[Any, Any]) -> Any:
            metadata = _call_metadata(context)
            rid = _request_id(metadata)
            rid_token = request_id_var.set(rid)
            try:
                # Sent first, so the caller gets the id with any answer, errors included,
                # as the gateway's X-Request-ID header does.
                await context.send_initial_metadata(((REQUEST_ID_KEY, rid),))
                started = time.perf_counter()
                code = "OK"
                try:
                    try:
                        if access is None:
                            log.error("no access rule for %s; refusing", method)
                            raise PermissionDenied("this operation is not available")
                        if access.public:
                            check_request(request)
                            return await behavior(request, context)
                        scheme, _, token = metadata.get("authorization", "").partition(" ")
                        if scheme.lower() != "bearer" or not token.strip():
                            raise Unauthenticated("a bearer token is required")
                        caller = await verify(token.strip())
                        assert access.roles is not None
                        if caller.role not in access.roles:
                            raise PermissionDenied(f"role {caller.role.value} may not call {name}")
                        if (
                            caller.must_change_password
                            and not access.allowed_before_password_change
                        ):
                            raise PermissionDenied(
                                "the password must be changed before anything else"
                            )
                        # After the token and role: a stranger learns nothing of the contract.
                        check_request(request)
                        caller_token = caller_var.set(caller)
                        try:
                            return await behavior(request, context)
                        finally:
                            caller_var.reset(caller_token)
                    except aio.AbortError:
                        raise
                    except DomainError as err:
                        await _abort(context, err)
                    except NotImplementedError:
                        await context.abort(
                            grpc.StatusCode.UNIMPLEMENTED,
                            f"{name} is not available in this version",
                        )
                    except Exception as exc:
                        await _internal(context, exc, method, translators)
                except aio.AbortError:
                    code = _code_name(context)
                    raise
                except BaseException:
                    code = "INTERNAL"
                    raise
                finally:
                    record(code, started)
                    if log.isEnabledFor(logging.INFO):
                        _log_call(method, code, started)
            finally:
                request_id_var.reset(rid_token)

        return _traced(run, method) if tracing.enabled else run


# gRPC codes that are the server's fault (OpenTelemetry's semantic conventions): the span
# of a call ending with one is an error; NOT_FOUND and the like are the caller's business.
_SERVER_FAULTS = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)


def _traced(behavior: Unary, method: str) -> Unary:
    """``behavior`` in a server span named after the method, child of the trace context
    in the call's metadata (else a new trace), with the call's status code."""
    service, _, name = method.lstrip("/").rpartition("/")
    attributes = {"rpc.system": "grpc", "rpc.service": service, "rpc.method": name}
    span_name = method.lstrip("/")

    async def run(request: Any, context: aio.ServicerContext[Any, Any]) -> Any:
        with tracing.span(
            span_name,
            parent=_call_metadata(context),
            attributes=attributes,
            expected=(aio.AbortError,),
        ) as span:
            code: Any = None
            try:
                result = await behavior(request, context)
            except aio.AbortError:
                with contextlib.suppress(Exception):  # as _code_name: may not expose it
                    code = context.code()
                if isinstance(code, grpc.StatusCode):
                    span.set_attribute("rpc.grpc.status_code", code.value[0])
                    if code in _SERVER_FAULTS:
                        tracing.fail(span, code.name)
                raise
            span.set_attribute("rpc.grpc.status_code", grpc.StatusCode.OK.value[0])
            return result

    return run


def _method_metrics(method: str) -> Callable[[str, float], None]:
    """Records one call of ``/pkg.Service/Method`` (its status code, when it started): the
    label values are bound here, once per method, so a call only looks its code up."""
    service, _, name = method.lstrip("/").rpartition("/")
    observe = GRPC_SECONDS.labels(service, name).observe
    counters = {"OK": GRPC_HANDLED.labels(service, name, "OK").inc}

    def record(code: str, started: float) -> None:
        observe(time.perf_counter() - started)
        count = counters.get(code)
        if count is None:
            count = counters[code] = GRPC_HANDLED.labels(service, name, code).inc
        count()

    return record
# Above this many seconds a call has no real deadline (grpc reports a huge number).
_NO_DEADLINE = 10**6


def _within_deadline(behavior: Unary) -> Unary:
    """The handler, its database operations and its calls to other services bounded by the
    caller's deadline, less headroom to answer: an outage behind it (MongoDB restarting, a
    service hanging) becomes this call's UNAVAILABLE, not the caller's DEADLINE_EXCEEDED."""

    async def run(request: Any, context: aio.ServicerContext[Any, Any]) -> Any:
        remaining = context.time_remaining()
        if remaining is None or remaining > _NO_DEADLINE:
            return await behavior(request, context)
        token = call_deadline_var.set(time.monotonic() + remaining)
        try:
            with time_budget(remaining - headroom(remaining)):
                return await behavior(request, context)
        finally:
            call_deadline_var.reset(token)

    return run


def _call_metadata(context: aio.ServicerContext[Any, Any]) -> dict[str, str]:
    result: dict[str, str] = {}
    for key, value in context.invocation_metadata() or ():
        if isinstance(value, str):
            result[key.lower()] = value
    return result


def _request_id(metadata: Mapping[str, str]) -> str:
    incoming = metadata.get(REQUEST_ID_KEY, "")
    # Accept a caller's id only if it looks like one; never echo arbitrary input into logs.
    return incoming if 0 < len(incoming) <= 128 and incoming.isprintable() else uuid.uuid4().hex


def _request_id_only(behavior: Unary, method: str) -> Unary:
    """What open methods (health, reflection) get: the request id, nothing else."""

    async def run(request: Any, context: aio.ServicerContext[Any, Any]) -> Any:
        rid = _request_id(_call_metadata(context))
        token = request_id_var.set(rid)
        try:
            await context.send_initial_metadata(((REQUEST_ID_KEY, rid),))
            return await behavior(request, context)
        finally:
            request_id_var.reset(token)

    return run


async def _internal(
    context: aio.ServicerContext[Any, Any],
    exc: Exception,
    method: str,
    translators: Sequence[Translator],
) -> None:
    """An exception no domain error named: translated if a translator knows it (a database
    outage is UNAVAILABLE), else INTERNAL, logged once; either way the call is aborted."""
    for translate in translators:
        mapped = translate(exc)
        if mapped is not None:
            if status_code_for(mapped) is grpc.StatusCode.UNAVAILABLE:
                log.warning("%s unavailable: %r", method, exc)
            await _abort(context, mapped)
    log.exception("unhandled error in %s", method)
    await context.abort(
        grpc.StatusCode.INTERNAL,
        f"internal error (request id {request_id_var.get()})",
    )


def _log_call(method: str, code: str, started: float) -> None:
    caller = caller_var.get()
    log.info(
        "rpc %s %s",
        method,
        code,
        extra={
            "rpc": method,
            "code": code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            "caller": caller.subject if caller else "",
        },
    )


def _code_name(context: aio.ServicerContext[Any, Any]) -> str:
    try:
        code = context.code()
    except Exception:  # the context may not expose a code after abort
        return "ABORTED?"
    if isinstance(code, grpc.StatusCode):
        return code.name
    return str(code) if code is not None else "UNKNOWN"


async def _abort(context: aio.ServicerContext[Any, Any], err: DomainError) -> None:
    status = to_grpc_status(err)
    await context.abort(status.code, status.details, status.trailing_metadata)
