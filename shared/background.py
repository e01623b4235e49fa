"""A service's background loop, run as one named task beside its gRPC server."""

from __future__ import annotations

import asyncio
import contextlib


class BackgroundLoop:
    """``start`` runs ``_run`` as one task named ``task_name``; ``stop`` sets ``_stopping``
    (for a loop between passes) and cancels the task (for one waiting on I/O)."""

    task_name = "background"

    def __init__(self) -> None:
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        raise NotImplementedError

    async def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name=self.task_name)

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
