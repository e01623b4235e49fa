"""Address settings with several replicas: parsing, gRPC targets, `up`'s port plan."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from microfinance_cli.health import endpoints
from microfinance_cli.services import SERVICES
from microfinance_cli.stack import DEFAULT_METRICS_PORT, plan_processes, replica_addresses
from shared.config import Settings, split_addresses
from shared.grpc.client import channel_target


def test_an_address_list_is_tidied_and_checked() -> None:
    assert Settings(loan_addr=" 10.0.0.1:1 , 10.0.0.2:2 ").loan_addr == "10.0.0.1:1,10.0.0.2:2"
    assert Settings(loan_addr="dns:///loan:50053").loan_addr == "dns:///loan:50053"
    assert Settings(loan_addr="loan").loan_addr == "loan"  # one address: gRPC's to read
    with pytest.raises(ValidationError, match="is not host:port"):
        Settings(loan_addr="10.0.0.1:1,loan")


def test_split_addresses() -> None:
    assert split_addresses("a:1,b:2") == ["a:1", "b:2"]
    assert split_addresses("ipv4:10.0.0.1:1,10.0.0.2:2") == ["10.0.0.1:1", "10.0.0.2:2"]
    assert split_addresses("dns:///loan:50053") == ["dns:///loan:50053"]


def test_channel_targets() -> None:
    assert channel_target("loan:50053") == "loan:50053"
    assert channel_target("dns:///loan:50053") == "dns:///loan:50053"
    assert channel_target("10.0.0.1:1,10.0.0.2:2") == "ipv4:10.0.0.1:1,10.0.0.2:2"
    assert channel_target("[::1]:1,[::1]:2") == "ipv6:[::1]:1,[::1]:2"
    assert channel_target("localhost:1,127.0.0.1:2") == "ipv4:127.0.0.1:1,127.0.0.1:2"
    with pytest.raises(ValueError, match="mixes"):
        channel_target("127.0.0.1:1,[::1]:2")


def test_health_probes_each_address_of_a_list() -> None:
    settings = Settings(loan_addr="127.0.0.1:1,127.0.0.1:2")
    found = {e.name: e.target for e in endpoints(SERVICES, settings)}
    assert found["loan.1"] == "127.0.0.1:1"
    assert found["loan.2"] == "127.0.0.1:2"
    assert "auth" in found
    assert "gateway" in found


def test_one_replica_plans_the_configured_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MF_METRICS_PORT", "0")
    settings = Settings()
    planned = plan_processes(settings, 1)
    assert [p.name for p in planned] == [s.name for s in SERVICES]
    assert [p.port for p in planned] == [s.port(settings) for s in SERVICES]
    assert replica_addresses(settings, planned) == {}


def test_replicas_get_distinct_ports_and_everyone_all_addresses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MF_METRICS_PORT", raising=False)
    settings = Settings(gateway_port=8000, loan_port=50053)
    planned = plan_processes(settings, 3)
    ports = {p.name: p.port for p in planned}
    assert len(set(ports.values())) == len(planned) == 18
    assert [ports[f"loan.{r}"] for r in (1, 2, 3)] == [50053, 50153, 50253]
    assert [ports[f"gateway.{r}"] for r in (1, 2, 3)] == [8000, 8001, 8002]
    addrs = replica_addresses(settings, planned)
    assert addrs["MF_LOAN_ADDR"] == "127.0.0.1:50053,127.0.0.1:50153,127.0.0.1:50253"
    assert set(addrs) == {f"MF_{s.name.upper()}_ADDR" for s in SERVICES if s.kind == "grpc"}
    # /metrics: the next port for each process, in start order (auth.1 first).
    assert [p.metrics_port for p in planned] == list(
        range(DEFAULT_METRICS_PORT, DEFAULT_METRICS_PORT + 18)
    )
    loan2 = next(p for p in planned if p.name == "loan.2")
    assert loan2.env() == {"MF_LOAN_PORT": "50153", "MF_METRICS_PORT": str(loan2.metrics_port)}


def test_replicas_that_would_share_a_port_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MF_METRICS_PORT", "0")
    with pytest.raises(ValueError, match="would listen on port 40100"):
        plan_processes(Settings(loan_port=40000, payment_port=40100), 2)
    with pytest.raises(ValueError, match="replicas must be"):
        plan_processes(Settings(), 0)
