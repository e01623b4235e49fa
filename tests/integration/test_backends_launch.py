"""The launchers `microfinance up` and the fixtures use, against the real binaries."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest
from pymongo import MongoClient

from microfinance_cli import backends
from microfinance_cli.backends import (
    EMBEDDED_FIX,
    BackendUnavailable,
    amqp_reachable,
    es_info,
    free_port,
    mongo_ping,
    redis_reachable,
    start_es_substitute,
    start_local_rabbitmq,
    start_local_redis,
    start_mongo_substitute,
)

pytestmark = pytest.mark.integration


def test_mongo_substitute_keeps_data_across_restarts(tmp_path: Path) -> None:
    data = tmp_path / "mongo"
    port = free_port()
    first = start_mongo_substitute(data, port=port)
    try:
        assert first.url == f"mongodb://127.0.0.1:{port}/?directConnection=true"
        client: MongoClient[dict[str, object]] = MongoClient(first.url)
        client.mf.loans.insert_one({"_id": "L1", "status": "ACTIVE"})
        hello = client.admin.command("hello")
        client.close()
        assert hello.get("setName")  # advertised as a replica set: transactions work
    finally:
        first.stop()
    assert not first.alive()
    assert not mongo_ping(first.url, timeout=0.3)

    second = start_mongo_substitute(data, port=port)
    try:
        client = MongoClient(second.url)
        assert client.mf.loans.find_one({"_id": "L1"}) == {"_id": "L1", "status": "ACTIVE"}
        client.close()
    finally:
        second.stop()


def test_es_substitute_keeps_data_across_restarts(tmp_path: Path) -> None:
    data = tmp_path / "es"
    first = start_es_substitute(data, log_file=tmp_path / "es.log")
    try:
        info = es_info(first.url)
        assert info is not None
        assert str(info["version"]["number"]).startswith("8.")  # type: ignore[index]
        httpx.put(
            f"{first.url}/mf-borrowers/_doc/b1?refresh=true", json={"name": "Amina"}, timeout=5
        ).raise_for_status()
    finally:
        first.stop()
    assert (tmp_path / "es.log").exists()

    second = start_es_substitute(data)
    try:
        found = httpx.get(f"{second.url}/mf-borrowers/_doc/b1", timeout=5).json()
        assert found["_source"] == {"name": "Amina"}
    finally:
        second.stop()


def test_missing_substitutes_name_the_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(backends, "find_executable", lambda *a, **k: None)
    monkeypatch.setattr(backends, "_noida_binary", lambda: None)
    with pytest.raises(BackendUnavailable) as mongo:
        start_mongo_substitute(None)
    assert mongo.value.fix == EMBEDDED_FIX
    assert "pip install 'microfinance[embedded]'" in str(mongo.value)
    with pytest.raises(BackendUnavailable) as es:
        start_es_substitute(tmp_path / "es")
    assert es.value.fix == EMBEDDED_FIX


def test_missing_redis_and_rabbitmq_name_the_apt_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(backends, "find_executable", lambda *a, **k: None)
    with pytest.raises(BackendUnavailable, match="apt-get install -y redis-server"):
        start_local_redis(tmp_path, f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(BackendUnavailable, match="apt-get install -y rabbitmq-server"):
        start_local_rabbitmq(f"amqp://guest:guest@127.0.0.1:{free_port()}/")


def test_a_taken_port_is_reported(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(BackendUnavailable, match="already in use"):
            start_mongo_substitute(None, port=port)


def test_local_redis_is_started_on_its_port_and_stopped(tmp_path: Path) -> None:
    if backends.find_executable("redis-server", ("/usr/sbin",)) is None:
        pytest.skip("redis-server is not installed here")
    url = f"redis://127.0.0.1:{free_port()}/0"
    assert not redis_reachable(url, timeout=0.3)
    running = start_local_redis(tmp_path / "redis", url)
    try:
        assert running.owned
        assert redis_reachable(url)
    finally:
        running.stop()
    assert not redis_reachable(url, timeout=0.3)


def test_running_servers_are_used_not_owned(redis_url: str, amqp_url: str, tmp_path: Path) -> None:
    redis = start_local_redis(tmp_path, redis_url)
    assert not redis.owned
    redis.stop()  # a no-op for a server we did not start
    assert redis_reachable(redis_url)

    rabbit = start_local_rabbitmq(amqp_url)
    assert not rabbit.owned
    assert amqp_reachable(amqp_url)


def test_amqp_probe_tells_a_broker_from_other_servers(redis_url: str, amqp_url: str) -> None:
    assert amqp_reachable(amqp_url)
    assert not amqp_reachable(redis_url.replace("redis://", "amqp://"), timeout=0.5)
    assert not amqp_reachable(f"amqp://127.0.0.1:{free_port()}/", timeout=0.3)
