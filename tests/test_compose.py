"""docker-compose.yml: parsed and checked, since this machine has no Docker engine to run it."""

from __future__ import annotations

import re
import subprocess
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from microfinance_cli.services import SERVICES, get_service
from shared.config import Settings
from tests.nginx_support import adapt, command, find_nginx

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


# A third-party image is pinned to a minor version (name:MAJOR.MINOR[.PATCH][-variant]) or
# a digest, so a rebuild or a new host never pulls a different minor release.
DIGEST = r"@sha256:[0-9a-f]{64}"
PINNED = re.compile(rf"[\w./-]+(:\d+\.\d+(\.\d+)?(-[\w.-]+)?({DIGEST})?|{DIGEST})")


def test_backend_images(services: dict[str, dict[str, Any]]) -> None:
    assert services["mongo"]["image"].startswith("mongo:7.")
    assert re.fullmatch(r"docker\.elastic\.co/elasticsearch/elasticsearch:8\.\d+\.\d+",
                        services["elasticsearch"]["image"])
    assert services["redis"]["image"].startswith("redis:7.")
    assert re.fullmatch(r"rabbitmq:3\.\d+-management", services["rabbitmq"]["image"])


def test_every_third_party_image_is_pinned(services: dict[str, dict[str, Any]]) -> None:
    for name, svc in services.items():
        if "build" in svc:  # ours, built from the Dockerfile
            continue
        assert PINNED.fullmatch(svc["image"]), (name, svc["image"])
    assert not PINNED.fullmatch("mongo:7")
    assert not PINNED.fullmatch("rabbitmq:3-management")
    assert not PINNED.fullmatch("nginx:latest")
    assert PINNED.fullmatch("nginx:1.28-alpine")


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
    for name in (*BACKENDS, *APP, "proxy"):
        check = services[name].get("healthcheck")
        assert check, f"{name} has no healthcheck"
        assert check.get("test"), f"{name} has an empty healthcheck"
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name


def test_app_health_checks_use_the_cli_probe(services: dict[str, dict[str, Any]]) -> None:
    settings = Settings()
    for svc in SERVICES:
        test = services[svc.name]["healthcheck"]["test"]
        if svc.kind == "grpc":
            # Each replica probes itself: its MF_<SVC>_ADDR names every replica.
            assert test[:3] == ["CMD", "env", f"MF_{svc.name.upper()}_ADDR=127.0.0.1:"
                                f"{svc.port(settings)}"], svc.name
            test = test[3:]
        else:
            test = test[1:]
        assert test[:2] == ["microfinance", "health"], svc.name
        assert test[test.index("--service") + 1] == svc.name


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
        # Reachable on the compose network, published nowhere: the proxy is the way in.
        assert [str(svc.port(settings))] == [str(p) for p in services[svc.name]["expose"]]
        assert not services[svc.name].get("ports"), svc.name
    # Only loopback for the backends (operators' tools on the host), never all interfaces.
    for name in BACKENDS:
        for port in services[name]["ports"]:
            assert str(port).startswith("127.0.0.1:"), (name, port)
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
        assert env["MF_AMQP_QUEUE_TYPE"] == "quorum"
        for svc in SERVICES:
            if svc.kind == "grpc":
                # A DNS target: every replica, balanced round-robin by the client.
                addr = env[f"MF_{svc.name.upper()}_ADDR"]
                assert addr == f"dns:///{svc.name}:{svc.port(settings)}", (name, addr)


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


def test_dockerfile_is_multi_stage_from_the_lock_and_runs_as_non_root() -> None:
    text = (REPO / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+) AS (\w+)$", text, re.M)
    assert [name for _, name in stages] == ["build", "runtime"]
    for image, _ in stages:
        assert re.fullmatch(r"python:3\.11-slim(-\w+)?", image), image
    build, runtime = re.split(r"^FROM .* AS runtime$", text, flags=re.M)
    # The build stage installs the hashed lock, then the project without fetching anything.
    assert "COPY requirements.lock" in build
    assert re.search(r"pip install --require-hashes .*-r \S*requirements\.lock", build)
    assert re.search(r"pip install --no-deps --no-build-isolation --no-index \.", build)
    # The runtime stage takes only the venv from it; no pip install, no source tree.
    assert re.findall(r"^COPY .*$", runtime, re.M) == [
        "COPY --from=build /opt/venv /opt/venv"
    ]
    assert "pip install" not in runtime
    users = re.findall(r"^USER (\S+)", runtime, re.M)
    assert users
    assert users[-1] not in ("root", "0")
    exposed = {int(p) for line in re.findall(r"^EXPOSE (.+)$", text, re.M) for p in line.split()}
    settings = Settings()
    assert {s.port(settings) for s in SERVICES} <= exposed


def _lock() -> dict[str, tuple[str, list[str]]]:
    """requirements.lock: name -> (version, hashes)."""
    pins: dict[str, tuple[str, list[str]]] = {}
    text = (REPO / "requirements.lock").read_text().replace("\\\n", " ")
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.match(r"([A-Za-z0-9_.-]+)==(\S+)", line)
        assert match, f"not an exact pin: {line}"
        pins[canonicalize_name(match[1])] = (match[2], re.findall(r"--hash=sha256:(\w{64})", line))
    return pins


def test_the_lock_pins_every_runtime_dependency_with_hashes() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    lock = _lock()
    for name, (version, hashes) in lock.items():
        assert hashes, f"{name}=={version} has no hash"
    wanted = [Requirement(r) for r in project["project"]["dependencies"]]
    # The Dockerfile builds the project without build isolation: the build backend too.
    wanted += [Requirement(r) for r in project["build-system"]["requires"]]
    for req in wanted:
        if req.marker is not None and not req.marker.evaluate():
            continue
        key = canonicalize_name(req.name)
        assert key in lock, f"{req.name} is not in requirements.lock (run `make lock`)"
        version = lock[key][0]
        assert req.specifier.contains(version, prereleases=True), (
            f"requirements.lock has {req.name}=={version}, pyproject.toml wants {req.specifier}"
        )
        # What an extra (uvicorn[standard], pyjwt[crypto] ...) brings must be locked too.
        for extra in req.extras:
            for dep in map(Requirement, metadata.requires(req.name) or []):
                if dep.marker is not None and dep.marker.evaluate({"extra": extra}) and (
                    not dep.marker.evaluate({"extra": ""})
                ):
                    assert canonicalize_name(dep.name) in lock, (req.name, extra, dep.name)


def test_the_lock_holds_no_dev_tools() -> None:
    lock = _lock()
    for dev in ("pytest", "ruff", "mypy", "grpcio-tools", "secantusdb", "pip-audit"):
        assert dev not in lock, dev


def test_every_app_service_is_replicated(services: dict[str, dict[str, Any]]) -> None:
    for name in APP:
        svc = services[name]
        replicas = str(svc["deploy"]["replicas"])
        # ${LOAN_REPLICAS:-2}: set per service from the environment, two by default.
        match = re.fullmatch(r"\$\{(\w+)_REPLICAS:-(\d+)\}", replicas)
        assert match, (name, replicas)
        assert match[1] == name.upper()
        assert int(match[2]) >= 2, name
        # Replicas cannot share a fixed name or a host port.
        assert "container_name" not in svc, name
        assert not svc.get("ports"), name


@pytest.fixture(scope="module")
def nginx_conf() -> str:
    return (REPO / "deploy" / "nginx" / "nginx.conf").read_text()


def test_the_proxy_terminates_tls_and_is_the_only_way_in(
    services: dict[str, dict[str, Any]], nginx_conf: str
) -> None:
    proxy = services["proxy"]
    assert proxy["image"].startswith("nginx:1.")
    assert published(proxy) == {80, 443, 50443}
    # SOURCE:TARGET:ro, where SOURCE may be ${VAR:-default} (a colon of its own).
    mounts = {str(v).rsplit(":", 2)[1]: str(v) for v in proxy["volumes"]}
    assert mounts["/etc/nginx/nginx.conf"].startswith("./deploy/nginx/nginx.conf:")
    assert mounts["/etc/nginx/tls"] == "${TLS_DIR:-./deploy/tls}:/etc/nginx/tls:ro"
    assert "ssl_certificate     /etc/nginx/tls/tls.crt;" in nginx_conf
    assert "ssl_certificate_key /etc/nginx/tls/tls.key;" in nginx_conf
    assert re.search(r"ssl_protocols TLSv1\.2 TLSv1\.3;", nginx_conf)
    assert re.search(r"listen 443 ssl;", nginx_conf)
    assert re.search(r"listen 50443 ssl;", nginx_conf)
    assert "return 308 https://" in nginx_conf  # plain HTTP only redirects
    for name in APP:
        assert proxy["depends_on"][name]["condition"] == "service_healthy", name
    for name, svc in services.items():
        if name != "proxy" and name not in BACKENDS:
            assert not svc.get("ports"), f"{name} publishes a port; only the proxy may"
    # The docs say where the certificate goes and how to make a trial one.
    ops = (REPO / "docs" / "operations.md").read_text()
    assert "deploy/tls/tls.crt" in ops
    assert "openssl req -x509" in ops


def test_the_proxy_routes_every_grpc_service_by_path(nginx_conf: str) -> None:
    settings = Settings()
    packages = set()
    for proto in (REPO / "proto").rglob("*.proto"):
        match = re.search(r"^package (microfinance\.(\w+)\.v1);", proto.read_text(), re.M)
        if match and re.search(r"^service ", proto.read_text(), re.M):
            packages.add((match[1], match[2]))
    assert {svc for _, svc in packages} == set(GRPC_APP)
    for package, svc in packages:
        block = re.search(
            rf"location /{re.escape(package)}\. \{{\s*grpc_pass grpc://(\w+);", nginx_conf
        )
        assert block, package
        upstream = block[1]
        port = get_service(svc).port(settings)
        assert re.search(
            rf"upstream {upstream} \{{[^}}]*server {svc}:{port} resolve", nginx_conf
        ), svc
    assert re.search(
        r"upstream gateway \{[^}]*server gateway:8000 resolve", nginx_conf
    )
    assert "proxy_pass http://gateway;" in nginx_conf
    # The gateway trusts X-Forwarded-For, so the proxy must overwrite it, never append.
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in nginx_conf
    assert "$proxy_add_x_forwarded_for" not in nginx_conf


def test_the_gateway_trusts_the_proxy_headers(services: dict[str, dict[str, Any]]) -> None:
    assert env_of(services["gateway"])["FORWARDED_ALLOW_IPS"] == "*"
    for name in GRPC_APP:
        assert "FORWARDED_ALLOW_IPS" not in env_of(services[name]), name


@pytest.mark.skipif(find_nginx() is None, reason="nginx is not installed (see .ci/run)")
def test_the_nginx_config_parses(tmp_path: Path) -> None:
    """`nginx -t` on deploy/nginx/nginx.conf, adapted to run outside Docker (nginx_support)."""
    nginx = find_nginx()
    assert nginx is not None
    conf = adapt(nginx, tmp_path)
    result = subprocess.run(command(nginx, conf, "-t"), capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr


def test_dockerignore_keeps_local_state_out() -> None:
    ignored = (REPO / ".dockerignore").read_text().split()
    for entry in (".git", ".venv", ".microfinance", "deploy/tls"):
        assert entry in ignored
