"""The order the test fixtures pick backends in: env URL, then Docker, then local."""

from __future__ import annotations

import pytest

from tests import backends
from tests.backends import BackendPool, Provided


@pytest.fixture
def pool(monkeypatch: pytest.MonkeyPatch):
    stopped: list[str] = []
    monkeypatch.setitem(
        backends.DOCKER, "redis",
        lambda: Provided("redis://docker:1/0", "docker", lambda: stopped.append("docker")),
    )
    monkeypatch.setitem(
        backends.LOCAL, "redis",
        lambda _work: Provided("redis://local:2/0", "local", lambda: stopped.append("local")),
    )
    monkeypatch.delenv("MF_REDIS_URL", raising=False)
    pool = BackendPool()
    pool.stopped = stopped  # type: ignore[attr-defined]
    yield pool
    pool.close()


def test_env_url_wins(pool: BackendPool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MF_REDIS_URL", "redis://configured:6379/3")
    pool._docker = True
    assert pool.url("redis") == "redis://configured:6379/3"
    assert pool.source("redis") == "env"
    pool.close()
    assert pool.stopped == []  # type: ignore[attr-defined]


def test_docker_before_local(pool: BackendPool) -> None:
    pool._docker = True
    assert pool.url("redis") == "redis://docker:1/0"
    pool.close()
    assert pool.stopped == ["docker"]  # type: ignore[attr-defined]


def test_local_without_docker_and_started_once(pool: BackendPool) -> None:
    pool._docker = False
    assert pool.url("redis") == "redis://local:2/0"
    assert pool.url("redis") == "redis://local:2/0"
    pool.close()
    assert pool.stopped == ["local"]  # type: ignore[attr-defined]


def test_docker_probe_can_be_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MF_TEST_DOCKER", "0")
    assert backends.docker_available() is False
