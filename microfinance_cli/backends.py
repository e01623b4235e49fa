"""Start and probe the backing servers when no Docker and no URL is configured.

MongoDB and Elasticsearch are replaced by wire-compatible substitutes that run
as child processes (``secantusd-py`` from the ``secantusdb`` package and the
``noida-db`` binary). Redis and RabbitMQ are the real servers on loopback:
the ones already running, or a locally installed binary we start.

Everything here is synchronous: it is used by the CLI and by pytest fixtures
before any event loop exists.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

EMBEDDED_FIX = "pip install 'microfinance[embedded]'"
REDIS_FIX = "sudo apt-get install -y redis-server (or set MF_REDIS_URL to a running Redis)"
RABBITMQ_FIX = (
    "sudo apt-get install -y rabbitmq-server (or set MF_AMQP_URL to a running RabbitMQ)"
)
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class BackendUnavailable(RuntimeError):
    """A backing server could not be found or started; ``fix`` says what to do."""

    def __init__(self, problem: str, fix: str | None = None, *, backend: str | None = None) -> None:
        text = f"{backend}: {problem}" if backend else problem
        super().__init__(f"{text}\n  fix: {fix}" if fix else text)
        self.backend = backend
        self.problem = problem
        self.fix = fix


def _unavailable(backend: str, problem: str, fix: str) -> BackendUnavailable:
    return BackendUnavailable(problem, fix, backend=backend)


@dataclass
class RunningBackend:
    """A backend the caller can reach at ``url``.

    ``process`` is None when the server was already running (or was started
    detached, like rabbitmq-server): then ``stop()`` leaves it alone.
    """

    name: str
    url: str
    process: subprocess.Popen[bytes] | None
    data_dir: Path | None
    log_path: Path | None = None
    _log_handle: IO[bytes] | None = field(default=None, repr=False)
    _remove_log: bool = field(default=False, repr=False)

    @property
    def owned(self) -> bool:
        return self.process is not None

    def alive(self) -> bool:
        return self.process is None or self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate what we started (its whole process group), then kill if it lingers."""
        proc = self.process
        if proc is not None and proc.poll() is None:
            _signal_group(proc, signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait(timeout=timeout)
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None
        if self._remove_log and self.log_path is not None:
            self.log_path.unlink(missing_ok=True)

    def log_tail(self, lines: int = 20) -> str:
        return _tail(self.log_path, lines)

    def __enter__(self) -> RunningBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---------------------------------------------------------------- helpers --
def free_port() -> int:
    """A TCP port on loopback that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def find_executable(name: str, extra_dirs: tuple[str, ...] = ()) -> str | None:
    """Next to the running interpreter first (the venv), then PATH, then ``extra_dirs``."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which(name)
    if found:
        return found
    for directory in extra_dirs:
        candidate = Path(directory) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    # The child leads its own session (start_new_session=True), so its group
    # id is its pid: this reaches the child and anything it forked, nothing else.
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        proc.send_signal(sig)


def _tail(path: Path | None, lines: int = 20) -> str:
    if path is None or not path.exists():
        return ""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


def _open_log(log_file: Path | None, prefix: str) -> tuple[Path, IO[bytes], bool]:
    if log_file is None:
        fd, name = tempfile.mkstemp(prefix=f"mf-{prefix}-", suffix=".log")
        os.close(fd)
        path, remove = Path(name), True
    else:
        path, remove = Path(log_file), False
        path.parent.mkdir(parents=True, exist_ok=True)
    return path, path.open("ab"), remove


def _spawn(
    name: str, argv: list[str], log_file: Path | None, data_dir: Path | None, url: str
) -> RunningBackend:
    log_path, handle, remove = _open_log(log_file, name)
    try:
        proc = subprocess.Popen(  # noqa: S603 - argv is built here, never from input
            argv,
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as exc:
        handle.close()
        raise _unavailable(name, f"could not run {argv[0]}: {exc}", EMBEDDED_FIX) from exc
    return RunningBackend(name, url, proc, data_dir, log_path, handle, remove)


def _wait_ready(
    backend: RunningBackend, probe: Callable[[], bool], timeout: float, fix: str
) -> RunningBackend:
    deadline = time.monotonic() + timeout
    delay = 0.05
    while time.monotonic() < deadline:
        if probe():
            return backend
        if not backend.alive():
            tail = backend.log_tail()
            backend.stop()
            raise _unavailable(
                backend.name, f"exited during start-up. Its last output:\n{tail}", fix
            )
        time.sleep(delay)  # polling a child process's readiness; there is no event to wait on
        delay = min(delay * 1.5, 0.5)
    tail = backend.log_tail()
    backend.stop()
    raise _unavailable(
        backend.name, f"did not answer at {backend.url} within {timeout:.0f}s. Output:\n{tail}", fix
    )


def _check_port(name: str, port: int) -> None:
    if port_open("127.0.0.1", port, timeout=0.2):
        raise _unavailable(
            name, f"port {port} on 127.0.0.1 is already in use", "pick another port or stop it"
        )


# ----------------------------------------------------------------- MongoDB --
def mongo_ping(url: str, timeout: float = 1.0) -> bool:
    """True when a MongoDB server at ``url`` answers ``ping``."""
    from pymongo import MongoClient
    from pymongo.errors import PyMongoError

    ms = int(timeout * 1000)
    client: MongoClient[dict[str, object]] = MongoClient(
        url, serverSelectionTimeoutMS=ms, connectTimeoutMS=ms, socketTimeoutMS=ms
    )
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


def start_mongo_substitute(
    data_dir: Path | None,
    port: int | None = None,
    log_file: Path | None = None,
    *,
    timeout: float = 30.0,
) -> RunningBackend:
    """Run ``secantusd-py`` (MongoDB wire protocol, single-node replica set).

    ``data_dir`` None keeps the data in memory. The URL uses
    ``directConnection=true``: the server advertises itself as the primary of
    replica set "secantus", so transactions and change streams work.
    """
    exe = find_executable("secantusd-py")
    if exe is None:
        raise _unavailable(
            "mongodb", "the MongoDB substitute secantusd-py is not installed", EMBEDDED_FIX
        )
    port = port or free_port()
    _check_port("mongodb", port)
    storage = ":memory:"
    if data_dir is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
        storage = str(data_dir)
    url = f"mongodb://127.0.0.1:{port}/?directConnection=true"
    argv = [exe, "--host", "127.0.0.1", "--port", str(port), "--storage-path", storage]
    backend = _spawn("mongodb", argv, log_file, data_dir, url)
    return _wait_ready(
        backend,
        lambda: port_open("127.0.0.1", port, 0.2) and mongo_ping(url),
        timeout,
        EMBEDDED_FIX,
    )


# ----------------------------------------------------------- Elasticsearch --
def es_info(url: str, timeout: float = 1.0) -> dict[str, object] | None:
    """The JSON of ``GET /`` when an Elasticsearch-compatible server answers."""
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/", timeout=timeout) as resp:  # noqa: S310
            body = json.loads(resp.read().decode())
    except (OSError, urllib.error.URLError, ValueError):
        return None
    return body if isinstance(body, dict) and "version" in body else None


def _noida_binary() -> str | None:
    # Run the native binary directly: the Python entry point only wraps it in
    # subprocess.call, and a wrapper killed by SIGTERM would orphan the server.
    spec = importlib.util.find_spec("noida_db")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            binary = Path(location) / "noida-db"
            if binary.is_file():
                with contextlib.suppress(OSError):
                    binary.chmod(0o755)
                return str(binary)
    return find_executable("noida-db")


def start_es_substitute(
    data_dir: Path,
    port: int | None = None,
    log_file: Path | None = None,
    *,
    timeout: float = 30.0,
) -> RunningBackend:
    """Run ``noida-db`` with only its Elasticsearch service (reports ES 8.15.3).

    Data is written to ``data_dir`` on a clean stop (SIGTERM), so stop it with
    ``stop()`` rather than killing it.
    """
    exe = _noida_binary()
    if exe is None:
        raise _unavailable(
            "elasticsearch", "the Elasticsearch substitute noida-db is not installed", EMBEDDED_FIX
        )
    port = port or free_port()
    _check_port("elasticsearch", port)
    data_dir.mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{port}"
    argv = [
        exe, "start", "--only", "elasticsearch", "--elasticsearch-port", str(port),
        "--host", "127.0.0.1", "--data-dir", str(data_dir),
    ]
    backend = _spawn("elasticsearch", argv, log_file, data_dir, url)
    return _wait_ready(backend, lambda: es_info(url, 0.5) is not None, timeout, EMBEDDED_FIX)


# ------------------------------------------------------------------- Redis --
def _host_port(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port


def _local_host_port(
    backend: str, label: str, url: str, default_port: int, setting: str
) -> tuple[str, int]:
    """``url``'s host and port, where nothing answers: we start one only on this machine."""
    host, port = _host_port(url, default_port)
    if host not in LOOPBACK:
        raise _unavailable(
            backend, f"no {label} answers at {host}:{port}",
            f"start {label} on {host} or fix {setting}",
        )
    return host, port


def redis_reachable(url: str, timeout: float = 1.0) -> bool:
    """True when Redis at ``url`` answers PING."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def start_local_redis(
    data_dir: Path,
    url: str = "redis://127.0.0.1:6379/0",
    log_file: Path | None = None,
    *,
    timeout: float = 15.0,
) -> RunningBackend:
    """The Redis at ``url`` if it answers, else a local ``redis-server`` started on its port."""
    if redis_reachable(url):
        return RunningBackend("redis", url, None, None)
    _, port = _local_host_port("redis", "Redis", url, 6379, "MF_REDIS_URL")
    exe = find_executable("redis-server", ("/usr/sbin", "/usr/local/bin"))
    if exe is None:
        raise _unavailable("redis", f"no Redis answers at {url} and none is installed",
                                 REDIS_FIX)
    data_dir.mkdir(parents=True, exist_ok=True)
    # A cache only: no snapshots, no AOF, loopback only.
    argv = [
        exe, "--port", str(port), "--bind", "127.0.0.1", "--daemonize", "no",
        "--dir", str(data_dir), "--save", "", "--appendonly", "no",
    ]
    backend = _spawn("redis", argv, log_file, data_dir, url)
    return _wait_ready(backend, lambda: redis_reachable(url, 0.3), timeout, REDIS_FIX)


# ---------------------------------------------------------------- RabbitMQ --
_AMQP_HEADER = b"AMQP\x00\x00\x09\x01"


def amqp_reachable(url: str, timeout: float = 1.0) -> bool:
    """True when an AMQP 0-9-1 broker answers the protocol header at ``url``'s host:port.

    It does not log in; a wrong user or vhost shows up when the service connects.
    """
    host, port = _host_port(url, 5671 if url.startswith("amqps") else 5672)
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(_AMQP_HEADER)
            frame = sock.recv(7)
    except OSError:
        return False
    # Frame type 1 (method) on channel 0: connection.start.
    return len(frame) == 7 and frame[0] == 1 and frame[1:3] == b"\x00\x00"


def start_local_rabbitmq(
    url: str = "amqp://guest:guest@127.0.0.1:5672/",
    *,
    timeout: float = 60.0,
) -> RunningBackend:
    """The RabbitMQ at ``url`` if it answers, else ``rabbitmq-server -detached``.

    RabbitMQ is started detached, like a system service, and keeps running
    after we exit: the returned backend does not own it.
    """
    if amqp_reachable(url):
        return RunningBackend("rabbitmq", url, None, None)
    host, port = _local_host_port("rabbitmq", "RabbitMQ", url, 5672, "MF_AMQP_URL")
    sbin = ("/usr/sbin", "/usr/lib/rabbitmq/bin", "/usr/local/sbin")
    exe = find_executable("rabbitmq-server", sbin)
    if exe is None:
        raise _unavailable(
            "rabbitmq", f"no RabbitMQ answers at {url} and none is installed", RABBITMQ_FIX
        )
    env = dict(os.environ, RABBITMQ_NODE_PORT=str(port), RABBITMQ_NODE_IP_ADDRESS="127.0.0.1")
    try:
        done = subprocess.run(  # noqa: S603 - fixed argv
            [exe, "-detached"], env=env, capture_output=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise _unavailable("rabbitmq", f"could not run {exe}: {exc}", RABBITMQ_FIX) from exc
    if done.returncode != 0:
        output = (done.stdout + done.stderr).decode(errors="replace").strip()
        raise _unavailable(
            "rabbitmq", f"rabbitmq-server -detached failed: {output}",
            "see /var/log/rabbitmq/, or run `sudo systemctl start rabbitmq-server`",
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if amqp_reachable(url, 0.5):
            return RunningBackend("rabbitmq", url, None, None)
        time.sleep(0.5)  # the broker boots in the background; nothing to wait on but its port
    raise _unavailable(
        "rabbitmq", f"started rabbitmq-server but it did not answer at {host}:{port} "
        f"within {timeout:.0f}s", "see /var/log/rabbitmq/ for the reason",
    )


__all__ = [
    "EMBEDDED_FIX",
    "BackendUnavailable",
    "RunningBackend",
    "amqp_reachable",
    "es_info",
    "find_executable",
    "free_port",
    "mongo_ping",
    "port_open",
    "redis_reachable",
    "start_es_substitute",
    "start_local_rabbitmq",
    "start_local_redis",
    "start_mongo_substitute",
]
