"""Backends a test owns and can take down: a MongoDB or Elasticsearch stand-in, or a
redis-server, each on a free port of its own (never the shared servers).

``stop`` and ``start`` keep the port, so clients reconnect by themselves; ``kill``
is SIGKILL. The MongoDB stand-in keeps its data only across a clean stop (it writes
its storage on SIGTERM), so a "restart" here is ``stop`` then ``start``.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from microfinance_cli import backends as launch

Starter = Callable[[Path, int], launch.RunningBackend]


def _mongo(data_dir: Path, port: int) -> launch.RunningBackend:
    return launch.start_mongo_substitute(data_dir, port=port)


def _es(data_dir: Path, port: int) -> launch.RunningBackend:
    return launch.start_es_substitute(data_dir, port=port)


def _redis(data_dir: Path, port: int) -> launch.RunningBackend:
    url = f"redis://127.0.0.1:{port}/0"
    running = launch.start_local_redis(data_dir, url)
    if not running.owned:
        raise RuntimeError(f"something else answers at {url}; refusing to use it")
    return running


STARTERS: dict[str, Starter] = {"mongo": _mongo, "es": _es, "redis": _redis}


@dataclass
class OwnedBackend:
    """One backend process this test started, on a port it keeps across restarts."""

    kind: str
    data_dir: Path
    port: int = field(default_factory=launch.free_port)
    running: launch.RunningBackend | None = None

    @property
    def url(self) -> str:
        if self.kind == "mongo":
            return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"
        if self.kind == "es":
            return f"http://127.0.0.1:{self.port}"
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        proc = self.running.process if self.running else None
        return proc.pid if proc is not None else None

    def start(self) -> None:
        assert self.running is None or not self.running.alive(), "already running"
        self.running = STARTERS[self.kind](self.data_dir, self.port)

    def stop(self) -> None:
        """A clean stop (SIGTERM to its process group, waited for)."""
        if self.running is not None:
            self.running.stop()

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill would: nothing is flushed."""
        running = self.running
        if running is not None and running.process is not None and running.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(running.process.pid, signal.SIGKILL)
            running.process.wait(timeout=10)
            running.stop()  # closes its log


@contextlib.contextmanager
def owned_backend(kind: str, data_dir: Path) -> Iterator[OwnedBackend]:
    backend = OwnedBackend(kind, data_dir)
    backend.start()
    try:
        yield backend
    finally:
        backend.stop()


def elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) by nearest rank; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered), math.ceil(q * len(ordered))) - 1)]
