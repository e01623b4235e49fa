"""Run several child processes as one unit: prefixed output, and stop them all together.

Each child runs in its own process group, so a Ctrl-C in the terminal reaches only the
supervisor, which then stops the children in a known order (SIGTERM, a deadline, then
SIGKILL) instead of every process racing to exit on its own. Each child also gets
PR_SET_PDEATHSIG, so if the supervisor itself is killed with SIGKILL the children still
receive a SIGTERM rather than living on holding their ports: util-linux's ``setpriv
--pdeathsig`` sets it and then execs the child (same pid), so no Python code runs between
fork and exec (a ``preexec_fn`` runs the interpreter's at-fork hooks there, which can
crash a process that has other threads, such as gRPC's).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

_COLORS = (36, 32, 33, 35, 34, 31, 96, 92, 93, 95)  # ANSI foreground codes, cycled per child
_READ_LIMIT = 1 << 20  # a log line longer than this is split, never dropped

# Not Linux (or no util-linux): no parent-death signal, the rest still works.
_SETPRIV = shutil.which("setpriv") if sys.platform.startswith("linux") else None


def _with_death_signal(argv: Sequence[str]) -> list[str]:
    """``argv`` run with SIGTERM as its parent-death signal, where setpriv exists."""
    if _SETPRIV is None:
        return list(argv)
    return [_SETPRIV, "--pdeathsig", "TERM", "--", *argv]


def use_color(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return stream.isatty()


@dataclass(frozen=True)
class ChildSpec:
    name: str
    argv: Sequence[str]
    env: Mapping[str, str] | None = None  # the full environment; None inherits ours
    cwd: Path | None = None


@dataclass
class Child:
    spec: ChildSpec
    process: asyncio.subprocess.Process
    readers: list[asyncio.Task[None]] = field(default_factory=list)
    stop_requested: bool = False
    killed: bool = False

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.returncode


@dataclass(frozen=True)
class StopReport:
    """How each child ended after `Supervisor.stop`."""

    returncodes: dict[str, int | None]
    killed: tuple[str, ...]  # needed SIGKILL after the deadline

    @property
    def clean(self) -> bool:
        return not self.killed and all(is_clean_exit(rc) for rc in self.returncodes.values())


def is_clean_exit(returncode: int | None) -> bool:
    """0, or the signal we sent: a child that did not trap SIGTERM is still a clean stop."""
    return returncode in (0, -signal.SIGTERM, -signal.SIGINT, 128 + signal.SIGTERM)


class ChildDied(Exception):
    def __init__(self, child: Child) -> None:
        super().__init__(f"{child.name} exited unexpectedly with code {child.returncode}")
        self.child = child


class Supervisor:
    """Starts children, copies their output line by line with a coloured name, stops them."""

    def __init__(
        self,
        specs: Sequence[ChildSpec],
        *,
        out: TextIO | None = None,
        color: bool | None = None,
        stop_timeout: float = 10.0,
        label: str = "microfinance",
    ) -> None:
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise ValueError(f"child names must be unique: {names}")
        self.specs = list(specs)
        self.out = out if out is not None else sys.stdout
        self.color = use_color(self.out) if color is None else color
        self.stop_timeout = stop_timeout
        self.label = label
        self.children: list[Child] = []
        self._width = max([len(n) for n in names] + [len(label)])
        self._palette = {n: _COLORS[i % len(_COLORS)] for i, n in enumerate(names)}

    # ---- output -------------------------------------------------------------------------

    def _prefix(self, name: str, code: int) -> str:
        tag = f"{name:<{self._width}} |"
        return f"\x1b[{code}m{tag}\x1b[0m " if self.color else f"{tag} "

    def emit(self, name: str, text: str) -> None:
        code = self._palette.get(name, 1)  # 1 = bold, for the supervisor's own lines
        prefix = self._prefix(name, code)
        self.out.write("".join(f"{prefix}{line}\n" for line in text.splitlines() or [""]))
        self.out.flush()

    def say(self, text: str) -> None:
        self.emit(self.label, text)

    async def _pump(self, name: str, stream: asyncio.StreamReader) -> None:
        while True:
            try:
                chunk = await stream.readuntil(b"\n")
            except asyncio.IncompleteReadError as exc:  # EOF: flush what is left
                chunk = exc.partial
                if not chunk:
                    return
            except asyncio.LimitOverrunError as exc:  # overlong line: pass it on in pieces
                chunk = await stream.readexactly(exc.consumed)
            self.emit(name, chunk.decode("utf-8", errors="replace").rstrip("\r\n"))

    # ---- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        for spec in self.specs:
            await self.start_one(spec)

    async def start_one(self, spec: ChildSpec) -> Child:
        env = dict(spec.env) if spec.env is not None else dict(os.environ)
        env.setdefault("PYTHONUNBUFFERED", "1")  # logs should appear as they happen
        process = await asyncio.create_subprocess_exec(
            *_with_death_signal(spec.argv),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=spec.cwd,
            limit=_READ_LIMIT,
            process_group=0,
        )
        child = Child(spec, process)
        assert process.stdout is not None
        assert process.stderr is not None
        child.readers = [
            asyncio.create_task(self._pump(spec.name, process.stdout)),
            asyncio.create_task(self._pump(spec.name, process.stderr)),
        ]
        self.children.append(child)
        self.say(f"started {spec.name} (pid {process.pid})")
        return child

    def kill_all(self) -> None:
        """The impatient path (a second Ctrl-C): SIGKILL everything still running."""
        for child in self.children:
            if child.returncode is None:
                child.killed = True
                self._signal(child, signal.SIGKILL)

    def running(self) -> list[Child]:
        return [c for c in self.children if c.returncode is None]

    async def wait_first_exit(self) -> Child:
        """Returns the first child to exit (whatever the reason)."""
        if not self.children:
            raise RuntimeError("no children started")
        waits = {asyncio.create_task(c.process.wait()): c for c in self.children}
        try:
            done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()
        return waits[next(iter(done))]

    def _signal(self, child: Child, sig: int) -> None:
        # The whole group, so a grandchild (a worker, a wrapped binary) goes too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, sig)

    async def stop(self, grace: float | None = None) -> StopReport:
        """SIGTERM every running child, wait up to the deadline, SIGKILL what is left."""
        deadline = time.monotonic() + (self.stop_timeout if grace is None else grace)
        for child in reversed(self.children):  # the gateway first, the auth service last
            if child.returncode is None:
                child.stop_requested = True
                self._signal(child, signal.SIGTERM)
        for child in self.children:
            remaining = max(0.0, deadline - time.monotonic())
            try:
                await asyncio.wait_for(child.process.wait(), remaining)
            except TimeoutError:
                self.say(f"{child.name} did not stop within the deadline; killing it")
                child.killed = True
                self._signal(child, signal.SIGKILL)
                await child.process.wait()
        for child in self.children:
            # Grandchildren may still hold the pipes open; don't hang on them forever.
            try:
                await asyncio.wait_for(asyncio.gather(*child.readers), 2.0)
            except TimeoutError:
                self.say(f"{child.name}: output still open after it exited; not waiting for it")
            for reader in child.readers:
                reader.cancel()
        return StopReport(
            returncodes={c.name: c.returncode for c in self.children},
            killed=tuple(c.name for c in self.children if c.killed),
        )

    async def run(
        self,
        stop: asyncio.Event,
        ready: Callable[[], Awaitable[None]] | None = None,
    ) -> int:
        """Start everything, then wait for `stop` or a child's death; stop all; exit code.

        `ready` runs once all children are started (e.g. waits for health and prints a
        banner); if it raises, everything is stopped and the run fails.
        """
        exit_code = 0
        try:
            await self.start()
        except OSError as exc:
            self.say(f"could not start a process: {exc}")
            await self.stop()
            return 1

        died = asyncio.create_task(self.wait_first_exit())
        stopped = asyncio.create_task(stop.wait())
        pending: set[asyncio.Task[Any]] = {died, stopped}
        readiness: asyncio.Task[None] | None = None
        if ready is not None:
            readiness = asyncio.create_task(_as_coroutine(ready))
            pending.add(readiness)
        try:
            while True:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                if died in done:
                    child = died.result()
                    self.say(
                        f"{child.name} exited unexpectedly with code {child.returncode};"
                        " stopping the others"
                    )
                    exit_code = child.returncode or 1
                    break
                if stopped in done:
                    self.say("stopping (signal received)")
                    break
                if readiness is not None and readiness in done:
                    problem = readiness.exception()
                    if problem is not None:
                        self.say(f"not ready: {problem}; stopping")
                        exit_code = 1
                        break
                    readiness = None  # ready: keep waiting for a stop or a death
        finally:
            for task in pending:
                task.cancel()
            report = await self.stop()
        if not report.clean:
            summary = ", ".join(f"{n}={rc}" for n, rc in report.returncodes.items())
            self.say(f"stopped with problems ({summary}; killed: {list(report.killed)})")
            return exit_code or 1
        self.say("all processes stopped")
        return exit_code


async def _as_coroutine(fn: Callable[[], Awaitable[None]]) -> None:
    await fn()


def install_stop_signals(
    stop: asyncio.Event, on_repeat: Callable[[], None] | None = None
) -> Callable[[], None]:
    """SIGINT and SIGTERM set `stop`; a second one calls `on_repeat` (e.g. kill at once).

    Returns a function that restores the default handlers.
    """
    loop = asyncio.get_running_loop()
    sigs = (signal.SIGINT, signal.SIGTERM)

    def handle() -> None:
        if stop.is_set() and on_repeat is not None:
            on_repeat()
        stop.set()

    for sig in sigs:
        loop.add_signal_handler(sig, handle)

    def restore() -> None:
        for sig in sigs:
            loop.remove_signal_handler(sig)

    return restore
