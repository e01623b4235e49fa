"""`microfinance up` as a child process on ephemeral ports, for the tests that need the six
real processes (tests/test_cli.py and the browser tests).

Each run gets its own ports, data directory (embedded MongoDB and Elasticsearch stand-ins
live there), database name, AMQP exchange and Redis key prefix, so runs never see each
other; ``UpProcess.stop`` removes what it left on the shared brokers.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import queue
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from shared.config import Settings
from tests.cleanup import delete_amqp_topology, delete_keys, process_topology

PY = sys.executable
SERVING = "all six processes SERVING"
ADMIN_EMAIL = "admin@example.org"
ADMIN_PASSWORD = "correct horse battery staple 42"


def closed_port() -> int:
    """A loopback port with nothing listening (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def closed_port_run(count: int) -> int:
    """The first of ``count`` consecutive loopback ports with nothing listening, below the
    kernel's ephemeral range: there, the processes' own outgoing connections cannot take
    one of them between this check and their bind."""
    low, _ = (int(n) for n in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    for _ in range(100):
        first = random.randrange(10_000, max(10_001, low - count))
        with contextlib.ExitStack() as held:
            try:
                for port in range(first, first + count):
                    sock = held.enter_context(socket.socket())
                    sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        return first
    raise RuntimeError(f"no {count} consecutive free ports found")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def replica_base_port(replicas: int, stride: int) -> int:
    """A port with nothing listening on it nor on the ``replicas - 1`` ports above it,
    ``stride`` apart: where `up --replicas` will put the replicas."""
    for _ in range(200):
        base = closed_port()
        ports = [base + r * stride for r in range(replicas)]
        if ports[-1] < 65536 and all(_free(p) for p in ports):
            return base
    raise RuntimeError(f"no {replicas} free ports {stride} apart")


def up_env(data_dir: Path, replicas: int = 1) -> dict[str, str]:
    """The environment for an isolated `microfinance up` (no MF_* leaks in from ours,
    except where the brokers are); with ``replicas``, ports free for all of them."""
    from microfinance_cli.services import SERVICES
    from microfinance_cli.stack import REPLICA_PORT_STRIDE

    env = {k: v for k, v in os.environ.items() if not k.startswith("MF_")}
    env.update(
        {
            f"MF_{s.port_setting.upper()}": str(
                replica_base_port(replicas, 1 if s.kind == "http" else REPLICA_PORT_STRIDE)
                if replicas > 1
                else closed_port()
            )
            for s in SERVICES
        }
    )
    # `up` gives each process the next port from this one for its /metrics.
    env["MF_METRICS_PORT"] = str(closed_port_run(len(SERVICES) * replicas))
    env.update(
        MF_DATA_DIR=str(data_dir),
        MF_EMBEDDED_MONGO_PORT=str(closed_port()),
        MF_EMBEDDED_ES_PORT=str(closed_port()),
        MF_MONGO_DB=f"mf_up_{uuid.uuid4().hex[:8]}",
        # Its own exchange and keys on the shared brokers, removed afterwards.
        MF_AMQP_EXCHANGE=f"mfup.{uuid.uuid4().hex[:8]}",
        MF_REDIS_KEY_PREFIX=f"mfup:{uuid.uuid4().hex[:8]}:",
        MF_ADMIN_EMAIL=ADMIN_EMAIL,
        MF_ADMIN_PASSWORD=ADMIN_PASSWORD,
        NO_COLOR="1",
    )
    for name in ("MF_REDIS_URL", "MF_AMQP_URL"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


@dataclass
class UpProcess:
    proc: subprocess.Popen[str]
    env: dict[str, str]
    seen: list[str] = field(default_factory=list)
    _lines: queue.Queue[str | None] = field(default_factory=queue.Queue)

    replicas: int = 1

    @classmethod
    def start(
        cls, workdir: Path, *args: str, env: dict[str, str] | None = None, replicas: int = 1
    ) -> UpProcess:
        """`microfinance up` with ``args``; ``replicas`` > 1 adds ``--replicas``."""
        env = env or up_env(workdir / "data", replicas)
        if replicas > 1:
            args = ("--replicas", str(replicas), *args)
        proc = subprocess.Popen(
            [PY, "-m", "microfinance_cli", "up", *args],
            env=env,
            cwd=workdir,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            process_group=0,
        )
        up = cls(proc, env, replicas=replicas)
        threading.Thread(target=up._pump, daemon=True).start()
        return up

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def port(self, setting: str) -> int:
        return int(self.env[f"MF_{setting.upper()}"])

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.port('gateway_port')}"

    @property
    def gateway_urls(self) -> list[str]:
        """Every gateway's URL (consecutive ports from MF_GATEWAY_PORT)."""
        base = self.port("gateway_port")
        return [f"http://127.0.0.1:{base + r}" for r in range(self.replicas)]

    @property
    def serving_marker(self) -> str:
        """The line `up` prints once every process is SERVING."""
        return SERVING if self.replicas == 1 else f"all {6 * self.replicas} processes SERVING"

    def read_until(self, marker: str, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                raise AssertionError("up exited early:\n" + "\n".join(self.seen[-60:]))
            self.seen.append(line)
            if marker in line:
                return
        raise AssertionError(f"no {marker!r} in time:\n" + "\n".join(self.seen[-60:]))

    def collect(self) -> list[str]:
        """Every line printed so far (without waiting), kept in ``seen``."""
        with contextlib.suppress(queue.Empty):
            while (line := self._lines.get_nowait()) is not None:
                self.seen.append(line)
            self._lines.put(None)  # the end stays there for drain()
        return self.seen

    def child_pids(self) -> list[int]:
        return [
            int(line.rsplit("(pid ", 1)[1].rstrip(")"))
            for line in self.seen
            if "| started " in line and "(pid " in line
        ]

    def interrupt(self, timeout: float) -> None:
        """What Ctrl-C in the terminal does: SIGINT to the whole group; wait for the exit."""
        os.killpg(self.proc.pid, signal.SIGINT)
        self.proc.wait(timeout=timeout)

    def stop(self) -> None:
        """Stop the group if it still runs and remove its exchange, queues and Redis keys.
        Ctrl-C first: the embedded MongoDB runs in a session of its own, so only `up`'s own
        shutdown stops it; SIGKILL is the fallback."""
        if self.proc.poll() is None:
            try:
                self.interrupt(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        defaults = Settings()
        settings = Settings(
            amqp_url=self.env.get("MF_AMQP_URL", defaults.amqp_url),
            redis_url=self.env.get("MF_REDIS_URL", defaults.redis_url),
            amqp_exchange=self.env["MF_AMQP_EXCHANGE"],
        )
        # In a thread of its own: the caller's thread may have a loop running (Playwright).
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            prefix = self.env["MF_REDIS_KEY_PREFIX"]
            pool.submit(lambda: asyncio.run(_remove_leftovers(settings, prefix))).result()

    def drain(self, seconds: float = 10) -> str:
        """The rest of the output once the process has exited, and all of it as one text."""
        while (line := self._lines.get(timeout=seconds)) is not None:
            self.seen.append(line)
        return "\n".join(self.seen)


async def _remove_leftovers(settings: Settings, redis_prefix: str) -> None:
    from shared.cache import create_redis

    queues, exchanges = process_topology(settings)
    await delete_amqp_topology(settings.amqp_url, queues=queues, exchanges=exchanges)
    redis = create_redis(settings.redis_url)
    try:
        await delete_keys(redis, redis_prefix)
    finally:
        await redis.aclose()
