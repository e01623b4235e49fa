"""The event loop the serving processes run on: uvloop unless MF_EVENT_LOOP=asyncio.

uvloop (libuv, in Cython) does the loop's own work (scheduling callbacks, polling,
socket reads and writes) in C; on the repayment path that was about a fifth of the
serving process's time under the standard loop (docs/performance.md). grpc.aio and
uvicorn both run on it. The loop is chosen when the process starts, before anything
(gRPC servers, channels, clients) binds to it, and every part of a process shares it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

EventLoop = Literal["uvloop", "asyncio"]


def loop_factory(choice: EventLoop) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """A factory of ``choice``'s loops; None means the standard library's default."""
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:  # a platform without uvloop wheels (Windows)
        log.warning("uvloop is not installed; running on the standard asyncio loop")
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def run(main: Coroutine[Any, Any, T], choice: EventLoop) -> T:
    """``asyncio.run(main)`` on a loop of ``choice``."""
    with asyncio.Runner(loop_factory=loop_factory(choice)) as runner:
        return runner.run(main)


def uvicorn_loop(choice: EventLoop) -> Literal["uvloop", "asyncio"]:
    """uvicorn's ``loop`` setting for ``choice`` (it makes the loop itself)."""
    return "uvloop" if loop_factory(choice) is not None else "asyncio"
