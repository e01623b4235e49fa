"""Where the test backends come from (docs/design.md: Testing and measuring).

For each of MongoDB, Elasticsearch, Redis and RabbitMQ, in this order:

1. the URL in the environment (``MF_MONGO_URL``, ``MF_ES_URL``, ``MF_REDIS_URL``,
   ``MF_AMQP_URL``);
2. a testcontainers container, when a Docker engine answers;
3. the local substitute on a free port (MongoDB, Elasticsearch), or the real
   server on loopback (Redis, RabbitMQ: the running one, else a local binary).

Each backend starts at most once per session, on first use, and whatever was
started is stopped at the end. Set ``MF_TEST_DOCKER=0`` to skip the Docker probe.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from microfinance_cli import backends as launch

ENV = {"mongo": "MF_MONGO_URL", "es": "MF_ES_URL", "redis": "MF_REDIS_URL", "amqp": "MF_AMQP_URL"}
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
DEFAULT_AMQP = "amqp://guest:guest@127.0.0.1:5672/"

MONGO_IMAGE = "mongo:7"
ES_IMAGE = "docker.elastic.co/elasticsearch/elasticsearch:8.15.3"
REDIS_IMAGE = "redis:7"
RABBITMQ_IMAGE = "rabbitmq:3-management"


@dataclass
class Provided:
    url: str
    source: str  # "env", "docker" or "local"
    stop: Callable[[], None] | None = None


def _poll(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)  # waiting on an external server's readiness
    raise RuntimeError(f"{what} did not become ready within {timeout:.0f}s")


def docker_available() -> bool:
    """True when a Docker engine answers a ping within a short timeout."""
    if os.environ.get("MF_TEST_DOCKER", "1") == "0":
        return False
    try:
        import docker  # type: ignore[import-untyped]
    except ImportError:
        return False
    try:
        client = docker.from_env(timeout=2)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # no socket, permission denied, engine down: all mean "no Docker"
        return False


# ----------------------------------------------------------------- docker --
def _docker_mongo() -> Provided:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs

    # A single-node replica set: transactions and change streams need one.
    container = (
        DockerContainer(MONGO_IMAGE)
        .with_command("--replSet rs0 --bind_ip_all")
        .with_exposed_ports(27017)
    )
    container.start()
    try:
        wait_for_logs(container, "Waiting for connections", timeout=60)
        container.exec(
            ["mongosh", "--quiet", "--eval",
             "rs.initiate({_id:'rs0',members:[{_id:0,host:'localhost:27017'}]})"]
        )
        url = (
            f"mongodb://{container.get_container_host_ip()}:"
            f"{container.get_exposed_port(27017)}/?directConnection=true"
        )
        _poll(lambda: _mongo_primary(url), 60, "mongo replica set")
    except BaseException:
        container.stop()
        raise
    return Provided(url, "docker", container.stop)


def _mongo_primary(url: str) -> bool:
    from pymongo import MongoClient
    from pymongo.errors import PyMongoError

    client: MongoClient[dict[str, Any]] = MongoClient(url, serverSelectionTimeoutMS=1000)
    try:
        return bool(client.admin.command("hello").get("isWritablePrimary"))
    except PyMongoError:
        return False
    finally:
        client.close()


def _docker_es() -> Provided:
    from testcontainers.community.elasticsearch import ElasticSearchContainer

    container = ElasticSearchContainer(ES_IMAGE, mem_limit="1G")
    container.start()
    url = f"http://{container.get_container_host_ip()}:{container.get_exposed_port(9200)}"
    return Provided(url, "docker", container.stop)


def _docker_redis() -> Provided:
    from testcontainers.community.redis import RedisContainer

    container = RedisContainer(REDIS_IMAGE)
    container.start()
    url = f"redis://{container.get_container_host_ip()}:{container.get_exposed_port(6379)}/0"
    return Provided(url, "docker", container.stop)


def _docker_rabbitmq() -> Provided:
    try:
        # Its readiness probe needs pika; without it, wait on the AMQP port ourselves.
        from testcontainers.community.rabbitmq import RabbitMqContainer

        container: Any = RabbitMqContainer(RABBITMQ_IMAGE)
    except ImportError:
        from testcontainers.core.container import DockerContainer

        container = DockerContainer(RABBITMQ_IMAGE).with_exposed_ports(5672)
    container.start()
    try:
        host, port = container.get_container_host_ip(), container.get_exposed_port(5672)
        url = f"amqp://guest:guest@{host}:{port}/"
        _poll(lambda: launch.amqp_reachable(url), 90, "rabbitmq container")
    except BaseException:
        container.stop()
        raise
    return Provided(url, "docker", container.stop)


# ------------------------------------------------------------------ local --
def _local_mongo(_: Path) -> Provided:
    running = launch.start_mongo_substitute(None)
    return Provided(running.url, "local", running.stop)


def _local_es(work: Path) -> Provided:
    # A fresh data dir per session: the substitute wants one per run.
    running = launch.start_es_substitute(Path(tempfile.mkdtemp(prefix="es-", dir=work)))
    return Provided(running.url, "local", running.stop)


def _local_redis(work: Path) -> Provided:
    if launch.redis_reachable(DEFAULT_REDIS):
        return Provided(DEFAULT_REDIS, "local")
    url = f"redis://127.0.0.1:{launch.free_port()}/0"
    running = launch.start_local_redis(work / "redis", url)
    return Provided(running.url, "local", running.stop)


def _local_amqp(_: Path) -> Provided:
    running = launch.start_local_rabbitmq(DEFAULT_AMQP)
    return Provided(running.url, "local", running.stop if running.owned else None)


DOCKER: dict[str, Callable[[], Provided]] = {
    "mongo": _docker_mongo, "es": _docker_es, "redis": _docker_redis, "amqp": _docker_rabbitmq,
}
LOCAL: dict[str, Callable[[Path], Provided]] = {
    "mongo": _local_mongo, "es": _local_es, "redis": _local_redis, "amqp": _local_amqp,
}


@dataclass
class BackendPool:
    """Starts each backend once, on first request; ``close()`` stops what it started."""

    provided: dict[str, Provided] = field(default_factory=dict)
    _docker: bool | None = None
    _work: Path | None = None

    @property
    def work_dir(self) -> Path:
        if self._work is None:
            self._work = Path(tempfile.mkdtemp(prefix="mf-test-backends-"))
        return self._work

    def docker(self) -> bool:
        if self._docker is None:
            self._docker = docker_available()
        return self._docker

    def url(self, kind: str) -> str:
        if kind not in self.provided:
            self.provided[kind] = self._provide(kind)
        return self.provided[kind].url

    def source(self, kind: str) -> str:
        self.url(kind)
        return self.provided[kind].source

    def _provide(self, kind: str) -> Provided:
        env_url = os.environ.get(ENV[kind])
        if env_url:
            return Provided(env_url, "env")
        if self.docker():
            return DOCKER[kind]()
        return LOCAL[kind](self.work_dir)

    def close(self) -> None:
        for provided in reversed(list(self.provided.values())):
            if provided.stop is not None:
                with contextlib.suppress(Exception):
                    provided.stop()
        self.provided.clear()
        if self._work is not None:
            shutil.rmtree(self._work, ignore_errors=True)
            self._work = None
