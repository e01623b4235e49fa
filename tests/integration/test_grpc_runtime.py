"""The shared gRPC runtime over a real channel: interceptors, errors, auth table, health."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import grpc
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from auth_service.domain.keys import SigningKey
from auth_service.domain.tokens import Principal, issue_access_token
from microfinance.auth.v1 import auth_pb2, auth_pb2_grpc
from shared.errors import FieldViolation, InvalidArgument, NotFound, Unavailable
from shared.grpc.access import ADMIN_ONLY, ANY_STAFF, PUBLIC, access_table
from shared.grpc.server import GrpcServiceHost, ServiceDefinition
from shared.identity import current_caller
from shared.logging import request_id_var
from shared.mongo import create_mongo_client, ping
from shared.tokens import JwksKeyCache, TokenVerifier
from tests.integration.support import TcpProxy, eventually

pytestmark = pytest.mark.integration

KEY = SigningKey.generate(datetime.now(UTC))
ISSUER = "test-issuer"
NAME = auth_pb2.DESCRIPTOR.services_by_name["AuthService"].full_name


def token(role: str = "AGENT", *, must_change: bool = False, key: SigningKey = KEY) -> str:
    principal = Principal("staff-1", "a@b.org", role, "BR1", must_change_password=must_change)
    return issue_access_token(
        principal, key, issuer=ISSUER, now=datetime.now(UTC), ttl_seconds=900
    ).token


class ProbeServicer(auth_pb2_grpc.AuthServiceServicer):
    """Each RPC exercises one path through the interceptors."""

    async def Login(self, request: Any, context: Any) -> Any:  # PUBLIC: echoes the request id
        return auth_pb2.LoginResponse(token_type=request_id_var.get())

    async def Refresh(self, request: Any, context: Any) -> Any:  # ANY_STAFF: bad fields
        raise InvalidArgument.fields(
            [FieldViolation("refresh_token", "is required"), FieldViolation("x", "bad")]
        )

    async def ValidateToken(self, request: Any, context: Any) -> Any:  # ANY_STAFF: crashes
        raise RuntimeError("secret internals")

    async def GetPublicKeys(self, request: Any, context: Any) -> Any:  # ANY_STAFF: the caller
        return auth_pb2.GetPublicKeysResponse(current_kid=current_caller().subject)

    async def RotateKeys(self, request: Any, context: Any) -> Any:  # ADMIN_ONLY
        raise NotFound("nothing here")

    # ChangePassword is left unimplemented; Logout has no access rule at all.


@pytest.fixture
async def host() -> AsyncIterator[tuple[GrpcServiceHost, dict[str, bool]]]:
    async def fetch() -> list[dict[str, Any]]:
        return [KEY.jwk()]

    state = {"dependency_up": True}

    async def dependency() -> bool:
        return state["dependency_up"]

    servicer = ProbeServicer()
    definition = ServiceDefinition(
        name="probe",
        register=lambda s: auth_pb2_grpc.add_AuthServiceServicer_to_server(servicer, s),
        service_names=[NAME],
        access=access_table(
            NAME,
            {
                "Login": PUBLIC,
                "Refresh": ANY_STAFF,
                "ValidateToken": ANY_STAFF,
                "GetPublicKeys": ANY_STAFF,
                "ChangePassword": ANY_STAFF,
                "RotateKeys": ADMIN_ONLY,
            },
        ),
        verifier=TokenVerifier(JwksKeyCache(fetch), issuer=ISSUER),
        health_checks={"dependency": dependency},
    )
    server = GrpcServiceHost(
        definition, host="127.0.0.1", port=0, grace_seconds=0.5, health_interval_seconds=0.1
    )
    await server.start()
    try:
        yield server, state
    finally:
        await server.stop()


def stub(server: GrpcServiceHost) -> tuple[grpc.aio.Channel, auth_pb2_grpc.AuthServiceStub]:
    channel = grpc.aio.insecure_channel(server.address)
    return channel, auth_pb2_grpc.AuthServiceStub(channel)


def auth(tok: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {tok}"),)


async def test_request_id_travels_and_public_rpc_needs_no_token(host: Any) -> None:
    server, _ = host
    channel, s = stub(server)
    async with channel:
        reply = await s.Login(auth_pb2.LoginRequest(), metadata=(("x-request-id", "rid-123"),))
        assert reply.token_type == "rid-123"
        generated = await s.Login(auth_pb2.LoginRequest())
        assert len(generated.token_type) == 32


async def test_the_request_id_comes_back_in_the_initial_metadata(host: Any) -> None:
    server, _ = host
    channel, s = stub(server)
    async with channel:
        call = s.Login(auth_pb2.LoginRequest(), metadata=(("x-request-id", "rid-456"),))
        assert ("x-request-id", "rid-456") in tuple(await call.initial_metadata())
        await call
        # A generated id comes back too, and so does the id of a failed call.
        call = s.Login(auth_pb2.LoginRequest())
        generated = dict(await call.initial_metadata())["x-request-id"]
        assert (await call).token_type == generated
        call = s.RotateKeys(
            auth_pb2.RotateKeysRequest(),
            metadata=(("x-request-id", "rid-789"), *auth(token("ADMIN"))),
        )
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
        assert err.value.code() is grpc.StatusCode.NOT_FOUND
        assert ("x-request-id", "rid-789") in tuple(err.value.initial_metadata())


async def test_missing_and_bad_tokens_are_unauthenticated(host: Any) -> None:
    server, _ = host
    channel, s = stub(server)
    async with channel:
        for metadata in ((), auth("not-a-jwt"), (("authorization", "Basic abc"),)):
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await s.GetPublicKeys(auth_pb2.GetPublicKeysRequest(), metadata=metadata)
            assert err.value.code() is grpc.StatusCode.UNAUTHENTICATED
        other = SigningKey.generate(datetime.now(UTC))
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await s.GetPublicKeys(auth_pb2.GetPublicKeysRequest(), metadata=auth(token(key=other)))
        assert err.value.code() is grpc.StatusCode.UNAUTHENTICATED


async def test_caller_reaches_the_handler(host: Any) -> None:
    server, _ = host
    channel, s = stub(server)
    async with channel:
        reply = await s.GetPublicKeys(auth_pb2.GetPublicKeysRequest(), metadata=auth(token()))
        assert reply.current_kid == "staff-1"


async def test_wrong_role_is_permission_denied(host: Any) -> None:
    server, _ = host
    channel, s = stub(server)
    async with channel:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await s.RotateKeys(auth_pb2.RotateKeysRequest(), metadata=auth(token("AGENT")))
        assert err.value.code() is grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await s.RotateKeys(auth_pb2.RotateKeysRequest(), metadata=auth(token("ADMIN")))
        assert err.value.code() is grpc.StatusCode.NOT_FOUND


async def test_pending_password_change_blocks_ordinary_rpcs(host: Any) -> None:
    server, _ = host
    channel, s = stub(server)
    async with channel:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await s.GetPublicKeys(
                auth_pb2.GetPublicKeysRequest(), metadata=auth(token(must_change=True))
            )
        assert err.value.code() is grpc.StatusCode.PERMISSION_DENIED
        assert "password" in (err.value.details() or "")


async def test_rpc_without_an_access_rule_is_refused(host: Any) -> None:
    server, _ = host
    channel, s = stub(server)
    async with channel:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await s.Logout(auth_pb2.LogoutRequest(), metadata=auth(token("ADMIN")))
        assert err.value.code() is grpc.StatusCode.PERMISSION_DENIED


async def test_field_violations_travel_as_bad_request_details(host: Any) -> None:
    server, _ = host
    channel, s = stub(server)
    async with channel:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await s.Refresh(auth_pb2.RefreshRequest(), metadata=auth(token()))
        assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        status = rpc_status.from_call(err.value)  # type: ignore[arg-type]
        assert status is not None
        bad = error_details_pb2.BadRequest()
        assert status.details[0].Unpack(bad)
        assert [v.field for v in bad.field_violations] == ["refresh_token", "x"]


async def test_unexpected_errors_are_internal_and_do_not_leak(
    host: Any, caplog: pytest.LogCaptureFixture
) -> None:
    server, _ = host
    channel, s = stub(server)
    caplog.set_level(logging.ERROR)
    async with channel:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await s.ValidateToken(auth_pb2.ValidateTokenRequest(), metadata=auth(token()))
        assert err.value.code() is grpc.StatusCode.INTERNAL
        assert "secret internals" not in (err.value.details() or "")
        assert "request id" in (err.value.details() or "")
    assert any("unhandled error" in r.getMessage() for r in caplog.records)


async def test_unimplemented_rpc_says_so(host: Any) -> None:
    server, _ = host
    channel, s = stub(server)
    async with channel:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await s.ChangePassword(auth_pb2.ChangePasswordRequest(), metadata=auth(token()))
        assert err.value.code() is grpc.StatusCode.UNIMPLEMENTED


async def health_status(server: GrpcServiceHost, service: str = "") -> int:
    async with grpc.aio.insecure_channel(server.address) as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service)
        )
        return int(reply.status)


async def test_health_flips_with_a_dependency_and_on_shutdown(host: Any) -> None:
    server, state = host
    serving, not_serving = (
        health_pb2.HealthCheckResponse.SERVING,
        (health_pb2.HealthCheckResponse.NOT_SERVING),
    )
    assert await health_status(server) == serving
    assert await health_status(server, NAME) == serving
    state["dependency_up"] = False

    async def down() -> bool:
        return bool(await health_status(server, NAME) == not_serving)

    await eventually(down, within=10, what="NOT_SERVING")
    assert server.unhealthy == ["dependency"]
    state["dependency_up"] = True

    async def up() -> bool:
        return bool(await health_status(server) == serving)

    await eventually(up, within=10, what="SERVING again")
    await server.health.enter_graceful_shutdown()
    assert await health_status(server) == not_serving


async def test_health_follows_a_real_mongodb_outage(mongo_url: str) -> None:
    target = urlparse(mongo_url)
    proxy = await TcpProxy(target.hostname or "127.0.0.1", target.port or 27017).start()
    client = create_mongo_client(
        f"mongodb://127.0.0.1:{proxy.port}/?directConnection=true",
        app_name="mf-health-test",
        server_selection_timeout_ms=500,
    )

    async def mongo_up() -> bool:
        return await ping(client, deadline_seconds=0.5)

    async def fetch() -> list[dict[str, Any]]:
        return [KEY.jwk()]

    definition = ServiceDefinition(
        name="mongo-probe",
        register=lambda s: None,
        service_names=[],
        access={},
        verifier=TokenVerifier(JwksKeyCache(fetch), issuer=ISSUER),
        health_checks={"mongo": mongo_up},
    )
    server = GrpcServiceHost(
        definition, host="127.0.0.1", port=0, grace_seconds=0.5, health_interval_seconds=0.2
    )
    await server.start()
    try:
        assert await health_status(server) == health_pb2.HealthCheckResponse.SERVING
        await proxy.cut()

        async def down() -> bool:
            return bool(await health_status(server) == health_pb2.HealthCheckResponse.NOT_SERVING)

        await eventually(down, within=15, what="NOT_SERVING while Mongo is unreachable")
        await proxy.restore()

        async def up() -> bool:
            return bool(await health_status(server) == health_pb2.HealthCheckResponse.SERVING)

        await eventually(up, within=15, what="SERVING after Mongo returns")
    finally:
        await server.stop()
        await client.close()
        await proxy.close()


async def test_one_auth_channel_per_process_closed_once(host: Any) -> None:
    """Keys, service tokens and credentials share one channel to auth_service."""
    from shared.config import Settings
    from shared.runtime import open_infrastructure, remote_verifier, service_identity

    server, _ = host
    infra = await open_infrastructure(Settings(env="test", auth_addr=server.address), "payment")
    before = len(infra.closers)
    remote_verifier(infra)
    service_identity(infra)
    remote_verifier(infra)
    channel = infra.auth_channel()
    assert infra.auth_channel() is channel
    assert len(infra.closers) == before + 1
    reply = await auth_pb2_grpc.AuthServiceStub(channel).Login(
        auth_pb2.LoginRequest(), metadata=(("x-request-id", "shared-channel"),)
    )
    assert reply.token_type == "shared-channel"
    await infra.close()
    with pytest.raises(grpc.aio.UsageError):
        await auth_pb2_grpc.AuthServiceStub(channel).Login(auth_pb2.LoginRequest())


async def test_stop_tells_health_watchers_not_serving(host: Any) -> None:
    """A load balancer watching health sees NOT_SERVING before the server goes away."""
    server, _ = host
    seen: list[int] = []
    async with grpc.aio.insecure_channel(server.address) as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(service=NAME)
        )
        first = await watch.read()
        seen.append(int(first.status))
        stopping = asyncio.create_task(server.stop())
        with contextlib.suppress(grpc.aio.AioRpcError):
            while True:
                reply = await watch.read()
                if reply is grpc.aio.EOF:  # type: ignore[attr-defined]
                    break
                seen.append(int(reply.status))
                if reply.status == health_pb2.HealthCheckResponse.NOT_SERVING:
                    break
        await stopping
    assert seen[0] == health_pb2.HealthCheckResponse.SERVING
    assert seen[-1] == health_pb2.HealthCheckResponse.NOT_SERVING


class FlakyServicer(auth_pb2_grpc.AuthServiceServicer):
    """Answers UNAVAILABLE (or NOT_FOUND) a set number of times, then succeeds."""

    def __init__(self, failures: int, code: grpc.StatusCode) -> None:
        self.failures = failures
        self.code = code
        self.calls = 0

    async def Login(self, request: Any, context: Any) -> Any:
        self.calls += 1
        if self.calls <= self.failures:
            await context.abort(self.code, "not now")
        return auth_pb2.LoginResponse(token_type="ok")


@pytest.mark.parametrize(
    ("code", "failures", "retried"),
    [(grpc.StatusCode.UNAVAILABLE, 2, True), (grpc.StatusCode.NOT_FOUND, 1, False)],
)
async def test_client_channels_retry_unavailable_only(
    code: grpc.StatusCode, failures: int, retried: bool
) -> None:
    from shared.grpc.client import create_channel

    servicer = FlakyServicer(failures, code)
    server = grpc.aio.server()
    auth_pb2_grpc.add_AuthServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        channel = create_channel(f"127.0.0.1:{port}", default_timeout=5)
        async with channel:
            stub = auth_pb2_grpc.AuthServiceStub(channel)
            if retried:
                reply = await stub.Login(auth_pb2.LoginRequest())
                assert reply.token_type == "ok"
                assert servicer.calls == failures + 1
            else:
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    await stub.Login(auth_pb2.LoginRequest())
                assert err.value.code() is code
                assert servicer.calls == 1
    finally:
        await server.stop(None)


async def test_a_handlers_own_unavailable_is_not_retried_by_the_callers_channel() -> None:
    """A handler that answered UNAVAILABLE (its database is down) ran: the channel must not
    run it again by itself (it may have written), nor spend the deadline on it. It does not,
    because the interceptor sends the initial metadata (the request id) first, which
    commits the call (gRFC A6); a server that is not there at all is still retried
    (test_client_channels_retry_unavailable_only)."""
    from shared.grpc.client import create_channel

    calls = 0

    class DatabaseDown(auth_pb2_grpc.AuthServiceServicer):
        async def Login(self, request: Any, context: Any) -> Any:
            nonlocal calls
            calls += 1
            raise Unavailable("the database is unavailable, try again shortly")

    async def no_keys() -> list[dict[str, Any]]:
        return []

    definition = ServiceDefinition(
        name="down",
        register=lambda s: auth_pb2_grpc.add_AuthServiceServicer_to_server(DatabaseDown(), s),
        service_names=[NAME],
        access=access_table(NAME, {"Login": PUBLIC}),
        verifier=TokenVerifier(JwksKeyCache(no_keys), issuer=ISSUER),
    )
    server = GrpcServiceHost(definition, host="127.0.0.1", port=0, grace_seconds=0.5)
    await server.start()
    try:
        async with create_channel(server.address, default_timeout=5) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await auth_pb2_grpc.AuthServiceStub(channel).Login(auth_pb2.LoginRequest())
        assert err.value.code() is grpc.StatusCode.UNAVAILABLE
        assert err.value.details() == "the database is unavailable, try again shortly"
        assert calls == 1
    finally:
        await server.stop()


async def test_a_nested_call_ends_before_the_served_calls_deadline() -> None:
    """A handler calling a hung service (default deadline 5 s) is cut to its own caller's
    deadline (1 s) less headroom, so it answers UNAVAILABLE itself, in time, rather than
    its caller meeting DEADLINE_EXCEEDED."""
    from shared.grpc.client import create_channel
    from shared.grpc.status import from_rpc_error

    release = asyncio.Event()

    class Hung(auth_pb2_grpc.AuthServiceServicer):
        async def Login(self, request: Any, context: Any) -> Any:
            await release.wait()
            return auth_pb2.LoginResponse()

    hung = grpc.aio.server()
    auth_pb2_grpc.add_AuthServiceServicer_to_server(Hung(), hung)
    hung_port = hung.add_insecure_port("127.0.0.1:0")
    await hung.start()
    downstream = create_channel(f"127.0.0.1:{hung_port}", default_timeout=5)

    class Middle(auth_pb2_grpc.AuthServiceServicer):
        async def Login(self, request: Any, context: Any) -> Any:
            try:
                return await auth_pb2_grpc.AuthServiceStub(downstream).Login(request)
            except grpc.aio.AioRpcError as exc:
                raise from_rpc_error(exc) from exc

    async def no_keys() -> list[dict[str, Any]]:
        return []

    middle = GrpcServiceHost(
        ServiceDefinition(
            name="middle",
            register=lambda s: auth_pb2_grpc.add_AuthServiceServicer_to_server(Middle(), s),
            service_names=[NAME],
            access=access_table(NAME, {"Login": PUBLIC}),
            verifier=TokenVerifier(JwksKeyCache(no_keys), issuer=ISSUER),
        ),
        host="127.0.0.1", port=0, grace_seconds=0.5,
    )
    await middle.start()
    try:
        async with grpc.aio.insecure_channel(middle.address) as channel:
            started = asyncio.get_running_loop().time()
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await auth_pb2_grpc.AuthServiceStub(channel).Login(
                    auth_pb2.LoginRequest(), timeout=1.0
                )
            elapsed = asyncio.get_running_loop().time() - started
        assert err.value.code() is grpc.StatusCode.UNAVAILABLE, err.value
        assert "timed out" in (err.value.details() or "")
        assert 0.5 < elapsed < 1.0, elapsed
    finally:
        release.set()
        await middle.stop()
        await downstream.close(None)
        await hung.stop(None)


# The v1 reflection schema as an outside client (grpcurl) has it: only the package differs
# from v1alpha. Compiled into a pool of its own, so nothing is shared with the server's.
REFLECTION_V1_CLIENT = """
syntax = "proto3";
package grpc.reflection.v1;
message ServerReflectionRequest {
  string host = 1;
  oneof message_request {
    string file_containing_symbol = 4;
    string list_services = 7;
  }
}
message ServerReflectionResponse {
  string valid_host = 1;
  ServerReflectionRequest original_request = 2;
  oneof message_response {
    FileDescriptorResponse file_descriptor_response = 4;
    ListServiceResponse list_services_response = 6;
    ErrorResponse error_response = 7;
  }
}
message FileDescriptorResponse { repeated bytes file_descriptor_proto = 1; }
message ListServiceResponse { repeated ServiceResponse service = 1; }
message ServiceResponse { string name = 1; }
message ErrorResponse { int32 error_code = 1; string error_message = 2; }
"""


def reflection_messages(version: str, tmp_path: Path) -> tuple[Any, Any]:
    """Request and response classes of one reflection version."""
    if version == "v1alpha":
        from grpc_reflection.v1alpha import reflection_pb2

        return reflection_pb2.ServerReflectionRequest, reflection_pb2.ServerReflectionResponse
    from grpc_tools import protoc  # type: ignore[import-untyped]

    source, out = tmp_path / "reflection_v1.proto", tmp_path / "reflection_v1.pb"
    source.write_text(REFLECTION_V1_CLIENT, encoding="utf-8")
    assert protoc.main(["protoc", f"-I{tmp_path}", f"--descriptor_set_out={out}", str(source)]) == 0
    pool = descriptor_pool.DescriptorPool()
    for file in descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file:
        pool.Add(file)
    return tuple(
        message_factory.GetMessageClass(pool.FindMessageTypeByName(f"grpc.reflection.v1.{name}"))
        for name in ("ServerReflectionRequest", "ServerReflectionResponse")
    )  # type: ignore[return-value]


@pytest.mark.parametrize("version", ["v1", "v1alpha"])
async def test_reflection_v1_and_v1alpha_list_and_describe_the_services(
    host: Any, version: str, tmp_path: Path
) -> None:
    request, response = reflection_messages(version, tmp_path)
    own = f"grpc.reflection.{version}.ServerReflection"
    server, _ = host
    async with grpc.aio.insecure_channel(server.address) as channel:
        call = channel.stream_stream(
            f"/{own}/ServerReflectionInfo",
            request_serializer=request.SerializeToString,
            response_deserializer=response.FromString,
        )(
            iter([
                request(list_services=""),
                request(file_containing_symbol=NAME),
                request(file_containing_symbol=own),
            ])
        )
        replies = [reply async for reply in call]
    assert len(replies) == 3
    names = {s.name for s in replies[0].list_services_response.service}
    assert names == {
        NAME,
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    }
    # describe: the file defining a service comes back, and with it the service's methods.
    files = [
        descriptor_pb2.FileDescriptorProto.FromString(raw)
        for raw in replies[1].file_descriptor_response.file_descriptor_proto
    ]
    auth_file = next(f for f in files if f.name == "microfinance/auth/v1/auth.proto")
    assert "Login" in {m.name for s in auth_file.service for m in s.method}
    reflection_file = descriptor_pb2.FileDescriptorProto.FromString(
        replies[2].file_descriptor_response.file_descriptor_proto[0]
    )
    assert reflection_file.name.endswith(f"/{version}/reflection.proto")
    assert reflection_file.package == f"grpc.reflection.{version}"
    method = reflection_file.service[0].method[0]
    assert method.input_type == f".grpc.reflection.{version}.ServerReflectionRequest"
    assert method.client_streaming
    assert method.server_streaming


async def test_client_channels_apply_a_default_deadline() -> None:
    from shared.grpc.client import create_channel

    release = asyncio.Event()

    class Slow(auth_pb2_grpc.AuthServiceServicer):
        async def Login(self, request: Any, context: Any) -> Any:
            await release.wait()  # never answers before the client's deadline
            return auth_pb2.LoginResponse()

    server = grpc.aio.server()
    auth_pb2_grpc.add_AuthServiceServicer_to_server(Slow(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with create_channel(f"127.0.0.1:{port}", default_timeout=0.3) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await auth_pb2_grpc.AuthServiceStub(channel).Login(auth_pb2.LoginRequest())
        assert err.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
    finally:
        release.set()
        await server.stop(None)
