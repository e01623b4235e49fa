"""The fault suite's way to take RabbitMQ "down" for one stack without touching the broker
everyone on the machine shares: tests/integration/support.py's ``TcpProxy`` in front of it,
run on an event loop of its own in a daemon thread, so it keeps forwarding whatever the
caller's loop is doing and a synchronous caller (the driver) controls it as an async one
does. ``cut()`` refuses new connections and resets the open ones; ``restore()`` listens on
the same port again.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from tests.integration.support import TcpProxy

T = TypeVar("T")


class ThreadedProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.cuts = 0
        self._proxy = TcpProxy(upstream_host, upstream_port)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="faults-amqp-proxy", daemon=True
        )
        self._thread.start()
        self._call(self._proxy.start())

    @property
    def port(self) -> int:
        return self._proxy.port

    @property
    def connections(self) -> int:
        """Connections accepted since the start, over every restore."""
        return self._proxy.connections

    def cut(self) -> None:
        """The broker gone from the network: new connections refused, open ones reset."""
        self.cuts += 1
        self._call(self._proxy.cut())

    def restore(self) -> None:
        self._call(self._proxy.restore())

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._call(self._proxy.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()

    def _call(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout=10)
