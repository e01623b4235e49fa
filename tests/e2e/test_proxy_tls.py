"""deploy/nginx/nginx.conf in front of the real processes: TLS in, routed by path.

The compose proxy's config, adapted only where Docker differs (tests/nginx_support.py):
HTTPS reaches the gateway, plain HTTP is redirected, and gRPC over TLS reaches each of the
five services by its RPC path, with the caller's token checked by the service itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest

from microfinance.auth.v1 import auth_pb2, auth_pb2_grpc
from microfinance.loan.v1 import loan_pb2, loan_pb2_grpc
from microfinance.payment.v1 import payment_pb2, payment_pb2_grpc
from microfinance.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from microfinance.user.v1 import user_pb2, user_pb2_grpc
from microfinance_cli.backends import free_port
from tests.e2e.conftest import Login, Stack, serve_http
from tests.nginx_support import adapt, command, find_nginx

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(find_nginx() is None, reason="nginx is not installed (see .ci/run)"),
]


class Proxy:
    def __init__(self, ports: dict[str, int], cert: Path) -> None:
        self.ports = ports
        self.cert = cert

    @property
    def https(self) -> str:
        return f"https://localhost:{self.ports['443']}"

    def channel(self) -> grpc.aio.Channel:
        credentials = grpc.ssl_channel_credentials(self.cert.read_bytes())
        return grpc.aio.secure_channel(f"localhost:{self.ports['50443']}", credentials)


@contextlib.asynccontextmanager
async def running_proxy(stack: Stack, tmp: Path) -> AsyncIterator[Proxy]:
    nginx = find_nginx()
    assert nginx is not None
    async with serve_http(stack) as gateway_url:
        upstreams = {name: host.address for name, host in stack.hosts.items()}
        upstreams["gateway"] = gateway_url.removeprefix("http://")
        ports = {port: free_port() for port in ("80", "443", "50443", "8081")}
        conf = adapt(nginx, tmp, upstreams=upstreams, listens=ports)
        with (tmp / "logs" / "out.log").open("wb") as out:
            process = await asyncio.create_subprocess_exec(
                *command(nginx, conf, "-g", "daemon off;"), stdout=out, stderr=out
            )
        try:
            proxy = Proxy(ports, tmp / "tls" / "tls.crt")
            deadline = asyncio.get_running_loop().time() + 15
            async with httpx.AsyncClient() as client:
                while True:
                    assert process.returncode is None, (tmp / "logs" / "out.log").read_text()
                    with contextlib.suppress(httpx.TransportError):
                        health = f"http://127.0.0.1:{ports['8081']}/healthz"
                        if (await client.get(health)).status_code == 200:
                            break
                    assert asyncio.get_running_loop().time() < deadline, "nginx did not start"
                    await asyncio.sleep(0.05)  # polling nginx's start, with a deadline
            yield proxy
        finally:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()


async def test_https_and_grpc_over_tls_reach_every_process(
    stack: Stack, admin: Login, tmp_path: Path
) -> None:
    async with running_proxy(stack, tmp_path) as proxy:
        trust = ssl.create_default_context(cafile=str(proxy.cert))
        async with httpx.AsyncClient(verify=trust) as client:
            health = await client.get(f"{proxy.https}/healthz")
            assert health.status_code == 200
            me = await client.get(f"{proxy.https}/api/v1/me", headers=admin.headers)
            assert me.status_code == 200, me.text
            assert me.json()["staff"]["id"] == admin.staff_id
            plain = await client.get(f"http://localhost:{proxy.ports['80']}/healthz")
            assert plain.status_code == 308
            assert plain.headers["location"].startswith("https://")

        token = (("authorization", f"Bearer {admin.access_token}"),)
        async with proxy.channel() as channel:
            keys = await auth_pb2_grpc.AuthServiceStub(channel).GetPublicKeys(
                auth_pb2.GetPublicKeysRequest()
            )
            assert keys.keys
            me_grpc = await user_pb2_grpc.UserServiceStub(channel).GetMe(
                user_pb2.GetMeRequest(), metadata=token
            )
            assert me_grpc.staff.id == admin.staff_id
            calls: dict[str, Callable[[], Awaitable[Any]]] = {
                "loan": lambda: loan_pb2_grpc.LoanProductServiceStub(channel).ListProducts(
                    loan_pb2.ListProductsRequest(), metadata=token
                ),
                "payment": lambda: payment_pb2_grpc.PaymentServiceStub(channel).ListPayments(
                    payment_pb2.ListPaymentsRequest(), metadata=token
                ),
                "reporting": lambda: reporting_pb2_grpc.ReportingServiceStub(
                    channel
                ).GetPortfolioSummary(reporting_pb2.GetPortfolioSummaryRequest(), metadata=token),
            }
            for name, call in calls.items():
                code, details = grpc.StatusCode.OK, ""
                try:
                    await call()
                except grpc.aio.AioRpcError as exc:
                    code, details = exc.code(), exc.details() or ""
                # OK, or an answer of the service itself: either way routing worked.
                unrouted_codes = (grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.UNAVAILABLE)
                assert code not in unrouted_codes, (name, code, details)
            # Without a token the service itself refuses: nginx passes calls through as they are.
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await user_pb2_grpc.UserServiceStub(channel).GetMe(user_pb2.GetMeRequest())
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
            # Paths of no published service are not routed anywhere.
            unknown = channel.unary_unary(
                "/grpc.health.v1.Health/Check",
                request_serializer=lambda _: b"",
                response_deserializer=lambda data: data,
            )
            with pytest.raises(grpc.aio.AioRpcError) as unrouted:
                await unknown(None)
            assert unrouted.value.code() == grpc.StatusCode.UNIMPLEMENTED
