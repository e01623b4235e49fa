"""docker-compose.yml: parsed and checked, since this machine has no Docker engine to run it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from microfinance_cli.services import SERVICES
from shared.config import Settings

REPO = Path(__file__).resolve().parents[1]
BACKENDS = ("mongo", "elasticsearch", "redis", "rabbitmq")
APP = tuple(s.name for s in SERVICES)  # auth, user, loan, payment, reporting, gateway
GRPC_APP = tuple(s.name for s in SERVICES if s.kind == "grpc")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = compose["services"]
    return result


def env_of(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):  # the KEY=VALUE list form
        return dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def health_test(service: dict[str, Any]) -> str:
    test = service["healthcheck"]["test"]
    return " ".join(test) if isinstance(test, list) else str(test)


def published(service: dict[str, Any]) -> set[int]:
    """Container ports that are published, from "host:container" or "ip:host:container"."""
    return {int(str(p).split(":")[-1].split("/")[0]) for p in service.get("ports", [])}


def test_every_backend_and_process_is_defined(services: dict[str, dict[str, Any]]) -> None:
    for name in (*BACKENDS, *APP, "mongo-init", "migrate"):
        assert name in services, f"missing service {name}"


def test_backend_images(services: dict[str, dict[str, Any]]) -> None:
    assert services["mongo"]["image"] == "mongo:7"
    assert re.fullmatch(r"docker\.elastic\.co/elasticsearch/elasticsearch:8\.\d+\.\d+",
                        services["elasticsearch"]["image"])
    assert services["redis"]["image"].startswith("redis:7")
    assert services["rabbitmq"]["image"] == "rabbitmq:3-management"


def test_mongo_is_a_single_node_replica_set(services: dict[str, dict[str, Any]]) -> None:
    mongo = services["mongo"]
    command = mongo["command"]
    assert "--replSet" in command
    assert command[command.index("--replSet") + 1] == "rs0"
    assert "mongosh" in health_test(mongo)
    assert "isWritablePrimary" in health_test(mongo)
    init = services["mongo-init"]
    script = " ".join(init["command"])
    assert "rs.initiate" in script
    assert "mongo:27017" in script
    assert init["restart"] == "no"
    assert init["depends_on"]["mongo"]["condition"] == "service_started"


def test_elasticsearch_is_single_node_without_security(
    services: dict[str, dict[str, Any]],
) -> None:
    es = services["elasticsearch"]
    env = env_of(es)
    assert env["discovery.type"] == "single-node"
    assert env["xpack.security.enabled"] == "false"
    assert "_cluster/health" in health_test(es)


def test_every_long_running_container_has_a_healthcheck(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in (*BACKENDS, *APP):
        check = services[name].get("healthcheck")
        assert check, f"{name} has no healthcheck"
        assert check.get("test"), f"{name} has an empty healthcheck"
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name


def test_app_health_checks_use_the_cli_probe(services: dict[str, dict[str, Any]]) -> None:
    for name in APP:
        test = services[name]["healthcheck"]["test"]
        assert test[:3] == ["CMD", "microfinance", "health"], name
        assert test[test.index("--service") + 1] == name


def test_the_six_processes_come_from_one_dockerfile(
    services: dict[str, dict[str, Any]],
) -> None:
    packages = {s.name: s.package for s in SERVICES}
    images = set()
    for name in APP:
        svc = services[name]
        assert svc["build"] == ".", name
        images.add(svc["image"])
        assert svc["command"] == ["python", "-m", packages[name]], name
    assert len(images) == 1
    assert (REPO / "Dockerfile").exists()


def test_ports_match_the_settings(services: dict[str, dict[str, Any]]) -> None:
    settings = Settings()
    for svc in SERVICES:
        assert svc.port(settings) in published(services[svc.name]), svc.name
    assert 27017 in published(services["mongo"])
    assert 9200 in published(services["elasticsearch"])
    assert 6379 in published(services["redis"])
    assert {5672, 15672} <= published(services["rabbitmq"])


def test_depends_on_waits_for_health(services: dict[str, dict[str, Any]]) -> None:
    for name in GRPC_APP:
        deps = services[name]["depends_on"]
        for backend in BACKENDS:
            assert deps[backend]["condition"] == "service_healthy", (name, backend)
        assert deps["migrate"]["condition"] == "service_completed_successfully", name
        for dep, rule in deps.items():
            if dep != "migrate":
                assert rule["condition"] == "service_healthy", (name, dep)
    for name in GRPC_APP:
        if name != "auth":
            assert services[name]["depends_on"]["auth"]["condition"] == "service_healthy"
    gateway_deps = services["gateway"]["depends_on"]
    for name in GRPC_APP:
        assert gateway_deps[name]["condition"] == "service_healthy", name
    assert services["migrate"]["depends_on"]["mongo-init"]["condition"] == (
        "service_completed_successfully"
    )


def test_app_env_points_at_the_containers(services: dict[str, dict[str, Any]]) -> None:
    settings = Settings()
    for name in (*APP, "migrate"):
        env = env_of(services[name])
        assert env["MF_MONGO_URL"].startswith("mongodb://mongo:27017/")
        assert "replicaSet=rs0" in env["MF_MONGO_URL"]
        assert env["MF_ES_URL"] == "http://elasticsearch:9200"
        assert env["MF_REDIS_URL"].startswith("redis://redis:6379/")
        assert re.fullmatch(r"amqp://[^:]+:[^@]+@rabbitmq:5672/", env["MF_AMQP_URL"])
        assert env["MF_BIND_HOST"] == "0.0.0.0"
        assert env["MF_GATEWAY_HOST"] == "0.0.0.0"
        assert env["MF_ENV"] == "production"
        assert env["MF_SERVICE_TOKEN_SECRET"].startswith("${MF_SERVICE_TOKEN_SECRET:?")
        for svc in SERVICES:
            if svc.kind == "grpc":
                addr = env[f"MF_{svc.name.upper()}_ADDR"]
                assert addr == f"{svc.name}:{svc.port(settings)}", (name, addr)


def test_every_mf_variable_is_a_real_setting(services: dict[str, dict[str, Any]]) -> None:
    fields = {f"MF_{name.upper()}" for name in Settings.model_fields}
    for name in (*APP, "migrate"):
        unknown = {k for k in env_of(services[name]) if k.startswith("MF_")} - fields
        assert not unknown, (name, unknown)


def test_rabbitmq_credentials_agree(services: dict[str, dict[str, Any]]) -> None:
    rabbit = env_of(services["rabbitmq"])
    url = env_of(services["auth"])["MF_AMQP_URL"]
    user = url.split("//", 1)[1].split(":", 1)[0]
    assert rabbit["RABBITMQ_DEFAULT_USER"] == user
    assert user != "guest"  # guest may only connect from inside the RabbitMQ container


def test_dockerfile_runs_as_non_root_and_exposes_the_ports() -> None:
    text = (REPO / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", text, re.M)
    assert re.search(r"^USER (?!root)\S+", text, re.M)
    assert re.search(r"^RUN pip install \.", text, re.M)
    exposed = {int(p) for line in re.findall(r"^EXPOSE (.+)$", text, re.M) for p in line.split()}
    settings = Settings()
    assert {s.port(settings) for s in SERVICES} <= exposed


def test_dockerignore_keeps_local_state_out() -> None:
    ignored = (REPO / ".dockerignore").read_text().split()
    for entry in (".git", ".venv", ".microfinance"):
        assert entry in ignored
