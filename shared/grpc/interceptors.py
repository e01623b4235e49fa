"""Server interceptors: request id, logging, error mapping and authentication.

Each wraps the method's behaviour, so they compose in the order given to the
server: the first is outermost.
"""

from __future__ import annotations

import inspect
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import grpc
from grpc import aio
from pymongo.errors import ConnectionFailure, PyMongoError

from shared.errors import DomainError, PermissionDenied, Unauthenticated, Unavailable
from shared.grpc.access import OPEN_PREFIXES, Access
from shared.grpc.status import from_rpc_error, status_code_for, to_grpc_status
from shared.identity import caller_var
from shared.logging import request_id_var
from shared.tokens import TokenVerifier

log = logging.getLogger("microfinance.rpc")

REQUEST_ID_KEY = "x-request-id"

Unary = Callable[[Any, aio.ServicerContext[Any, Any]], Awaitable[Any]]
Wrapper = Callable[[Unary, str], Unary]


def _metadata(details: grpc.HandlerCallDetails) -> dict[str, str]:
    result: dict[str, str] = {}
    for key, value in details.invocation_metadata or ():
        if isinstance(value, str):
            result[key.lower()] = value
    return result


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

    async def stream(request: Any, context: aio.ServicerContext[Any, Any]) -> None:
        await wrapper(run, method)(request, context)

    return stream


class _WrappingInterceptor(aio.ServerInterceptor):  # type: ignore[type-arg]
    skip_open = True

    def wrap(self, behavior: Unary, method: str, metadata: Mapping[str, str]) -> Unary:
        raise NotImplementedError

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if self.skip_open and _is_open(method):
            return handler
        metadata = _metadata(handler_call_details)
        wrapped: Any = _wrap(handler, lambda b, m: self.wrap(b, m, metadata), method)
        return wrapped


class InterceptorChain(aio.ServerInterceptor):  # type: ignore[type-arg]
    """Wrapping interceptors run as one, in the order given (the first outermost).

    The same behaviour as passing them to the server one by one, for less: grpc.aio awaits
    each interceptor in turn for every call and each builds a method handler of its own;
    here the handler is looked up once, the metadata read once and the behaviours composed
    into one handler. Open methods (health, reflection) get only the interceptors that do
    not skip them.
    """

    def __init__(self, interceptors: Sequence[_WrappingInterceptor]) -> None:
        self._all = tuple(interceptors)
        self._open = tuple(i for i in self._all if not i.skip_open)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        chain = self._open if _is_open(method) else self._all
        if not chain:
            return handler
        metadata = _metadata(handler_call_details)

        def wrapper(behavior: Unary, name: str) -> Unary:
            for interceptor in reversed(chain):
                behavior = interceptor.wrap(behavior, name, metadata)
            return behavior

        return _wrap(handler, wrapper, method)


class RequestIdInterceptor(_WrappingInterceptor):
    skip_open = False

    def wrap(self, behavior: Unary, method: str, metadata: Mapping[str, str]) -> Unary:
        incoming = metadata.get(REQUEST_ID_KEY, "")
        # Accept a caller's id only if it looks like one; never echo arbitrary input into logs.
        rid = incoming if 0 < len(incoming) <= 128 and incoming.isprintable() else uuid.uuid4().hex

        async def run(request: Any, context: aio.ServicerContext[Any, Any]) -> Any:
            token = request_id_var.set(rid)
            try:
                # Sent first, so the caller gets the id with any answer, errors included,
                # as the gateway's X-Request-ID header does.
                await context.send_initial_metadata(((REQUEST_ID_KEY, rid),))
                return await behavior(request, context)
            finally:
                request_id_var.reset(token)

        return run


class LoggingInterceptor(_WrappingInterceptor):
    def wrap(self, behavior: Unary, method: str, metadata: Mapping[str, str]) -> Unary:
        async def run(request: Any, context: aio.ServicerContext[Any, Any]) -> Any:
            started = time.perf_counter()
            code = "OK"
            try:
                return await behavior(request, context)
            except aio.AbortError:
                code = _code_name(context)
                raise
            except BaseException:
                code = "INTERNAL"
                raise
            finally:
                if log.isEnabledFor(logging.INFO):
                    _log_call(method, code, started)

        return run


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


Translator = Callable[[Exception], DomainError | None]


def default_translator(exc: Exception) -> DomainError | None:
    if isinstance(exc, ConnectionFailure):
        return Unavailable("the database is unavailable, try again shortly")
    if isinstance(exc, PyMongoError) and exc.has_error_label("TransientTransactionError"):
        return Unavailable("a transient database error occurred, try again")
    if isinstance(exc, aio.AioRpcError):
        return from_rpc_error(exc)
    return None


class ErrorMappingInterceptor(_WrappingInterceptor):
    """Domain errors become their status code; anything else is INTERNAL, logged once."""

    def __init__(self, translators: Sequence[Translator] = (default_translator,)) -> None:
        self._translators = translators

    def wrap(self, behavior: Unary, method: str, metadata: Mapping[str, str]) -> Unary:
        async def run(request: Any, context: aio.ServicerContext[Any, Any]) -> Any:
            try:
                return await behavior(request, context)
            except aio.AbortError:
                raise
            except DomainError as err:
                await _abort(context, err)
            except NotImplementedError:
                await context.abort(
                    grpc.StatusCode.UNIMPLEMENTED,
                    f"{method.rsplit('/', 1)[-1]} is not available in this version",
                )
            except Exception as exc:
                for translate in self._translators:
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

        return run


async def _abort(context: aio.ServicerContext[Any, Any], err: DomainError) -> None:
    status = to_grpc_status(err)
    await context.abort(status.code, status.details, status.trailing_metadata)


class AuthInterceptor(_WrappingInterceptor):
    """Verifies the bearer token and checks the role from the access table.

    Methods absent from the table are refused: a new RPC is closed until someone
    decides who may call it.
    """

    def __init__(self, verifier: TokenVerifier, table: Mapping[str, Access]) -> None:
        self._verifier = verifier
        self._table = table

    def wrap(self, behavior: Unary, method: str, metadata: Mapping[str, str]) -> Unary:
        access = self._table.get(method)
        header = metadata.get("authorization", "")

        async def run(request: Any, context: aio.ServicerContext[Any, Any]) -> Any:
            if access is None:
                log.error("no access rule for %s; refusing", method)
                raise PermissionDenied("this operation is not available")
            if access.public:
                return await behavior(request, context)
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthenticated("a bearer token is required")
            caller = await self._verifier.verify(token.strip())
            assert access.roles is not None
            if caller.role not in access.roles:
                raise PermissionDenied(
                    f"role {caller.role.value} may not call {method.rsplit('/', 1)[-1]}"
                )
            if caller.must_change_password and not access.allowed_before_password_change:
                raise PermissionDenied("the password must be changed before anything else")
            reset = caller_var.set(caller)
            try:
                return await behavior(request, context)
            finally:
                caller_var.reset(reset)

        return run
