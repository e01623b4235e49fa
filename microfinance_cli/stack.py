"""`microfinance up`: backends, migrations, the six processes (or N replicas of each), a
ready banner, a clean stop.

Backends come from MF_*_URL when set. Otherwise MongoDB and Elasticsearch are the
embedded substitutes, with their data under the data dir and on fixed ports so a restart
finds the same data; Redis and RabbitMQ are the loopback servers, or the locally
installed binaries started for the occasion.
"""

from __future__ import annotations

import asyncio
import os
import sys
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO, TypeVar

from microfinance_cli import backends
from microfinance_cli.backends import BackendUnavailable, RunningBackend
from microfinance_cli.doctor import redact_url
from microfinance_cli.health import (
    Endpoint,
    local_host,
    replica_name,
    wait_until_endpoints_serving,
)
from microfinance_cli.migrate import (
    admin_from_settings,
    create_first_admin,
    run_migrations,
)
from microfinance_cli.services import SERVICES, ServiceDef
from microfinance_cli.supervisor import ChildSpec, Supervisor, install_stop_signals
from shared.config import Settings

DEFAULT_MONGO_PORT = 27018
DEFAULT_ES_PORT = 9201
# /metrics of the first process; each next one gets the next port (auth 9460 ... gateway 9465;
# with replicas, auth.1 9460, auth.2 9461, ...).
DEFAULT_METRICS_PORT = 9460
# Replica r of a gRPC service listens this many ports above replica r-1: the services'
# default ports are consecutive (50051-50055), so their second replicas are 50151-50155.
REPLICA_PORT_STRIDE = 100
MAX_REPLICAS = 16
T = TypeVar("T")


class Stopped(Exception):
    """A stop signal arrived before the services were started."""


@dataclass(frozen=True)
class UpOptions:
    data_dir: Path
    embedded: bool = True
    mongo_port: int = DEFAULT_MONGO_PORT
    es_port: int = DEFAULT_ES_PORT
    ready_timeout: float = 120.0
    stop_timeout: float = 15.0
    migrate: bool = True
    replicas: int = 1


@dataclass(frozen=True)
class Process:
    """One process `up` runs: replica ``index`` (from 1) of ``count`` of a service."""

    svc: ServiceDef
    index: int
    count: int
    port: int
    metrics_port: int = 0  # its /metrics (0: none)

    @property
    def name(self) -> str:
        """Its log prefix: ``loan`` when it runs alone, ``loan.2`` for a second replica."""
        return replica_name(self.svc.name, self.index, self.count)

    def env(self) -> dict[str, str]:
        """What this process is told on top of the common environment: its own ports.
        MF_METRICS_PORT always: a child must not take up's own (the first port) as its."""
        return {
            f"MF_{self.svc.port_setting.upper()}": str(self.port),
            "MF_METRICS_PORT": str(self.metrics_port),
        }

    def endpoint(self, settings: Settings) -> Endpoint:
        """Where its health is probed (gRPC health, or the gateway's /healthz)."""
        if self.svc.kind == "http":
            url = f"http://{local_host(settings.gateway_host)}:{self.port}"
            return Endpoint(self.name, "http", f"{url}/healthz")
        if self.count == 1:
            return Endpoint(self.name, "grpc", self.svc.grpc_addr(settings))
        return Endpoint(self.name, "grpc", f"{settings.grpc_host}:{self.port}")


def plan_processes(settings: Settings, replicas: int = 1) -> list[Process]:
    """Every process `up` runs and the ports it listens on, in start order: the one place
    ports are assigned. Replica r of a gRPC service listens on its MF_<NAME>_PORT +
    (r - 1) * REPLICA_PORT_STRIDE; the gateways on consecutive ports from MF_GATEWAY_PORT;
    each process serves /metrics on the next port from MF_METRICS_PORT (when set, else
    DEFAULT_METRICS_PORT; 0: no metrics). ValueError when two would share a port."""
    if not 1 <= replicas <= MAX_REPLICAS:
        raise ValueError(f"replicas must be 1 to {MAX_REPLICAS}, not {replicas}")
    metrics = settings.metrics_port if "MF_METRICS_PORT" in os.environ else DEFAULT_METRICS_PORT
    planned: list[Process] = []
    for svc in SERVICES:
        stride = 1 if svc.kind == "http" else REPLICA_PORT_STRIDE
        base = svc.port(settings)
        for r in range(1, replicas + 1):
            scrape = metrics + len(planned) if metrics else 0
            planned.append(Process(svc, r, replicas, base + (r - 1) * stride, scrape))
    owners: dict[int, str] = {}
    for proc in planned:
        for port, what in ((proc.port, proc.name), (proc.metrics_port, f"{proc.name} metrics")):
            if port == 0 and what != proc.name:
                continue
            if port in owners or not 0 < port < 65536:
                clash = f"and {owners[port]} " if port in owners else ""
                raise ValueError(
                    f"{what} {clash}would listen on port {port}: move the ports apart "
                    "with MF_<NAME>_PORT (and MF_METRICS_PORT)"
                )
            owners[port] = what
    return planned


def metrics_ports(settings: Settings, replicas: int = 1) -> dict[str, int]:
    """Each process' /metrics port by its name (``plan_processes``); empty with
    MF_METRICS_PORT=0."""
    return {p.name: p.metrics_port for p in plan_processes(settings, replicas) if p.metrics_port}


def replica_addresses(settings: Settings, planned: list[Process]) -> dict[str, str]:
    """MF_<NAME>_ADDR for each gRPC service run as several replicas: all their addresses,
    so every process balances its calls over them. Empty for one of each (as configured)."""
    addrs: dict[str, list[str]] = {}
    for proc in planned:
        if proc.svc.kind == "grpc" and proc.count > 1:
            addrs.setdefault(proc.svc.name, []).append(f"{settings.grpc_host}:{proc.port}")
    return {f"MF_{name.upper()}_ADDR": ",".join(found) for name, found in addrs.items()}


@dataclass
class Backends:
    """What the services will use, and which of those processes we started (and must stop)."""

    urls: dict[str, str] = field(default_factory=dict)  # MF_* env name -> URL
    notes: dict[str, str] = field(default_factory=dict)  # MF_* env name -> where it came from
    owned: list[RunningBackend] = field(default_factory=list)


async def _mongo_answers(url: str) -> bool:
    return await asyncio.to_thread(backends.mongo_ping, url, 2.0)


async def _es_answers(url: str) -> bool:
    return await asyncio.to_thread(backends.es_info, url, 2.0) is not None


async def _embedded(
    kind: str,
    port: int,
    url: str,
    answers: Callable[[str], Awaitable[bool]],
    start: Callable[[], RunningBackend],
    found: Backends,
    env_name: str,
    say: Callable[[str], None],
) -> None:
    """Starts an embedded substitute on its fixed port, or adopts one already there."""
    if await asyncio.to_thread(backends.port_open, "127.0.0.1", port):
        # Most likely our own substitute, left over from a run that was killed hard.
        if await answers(url):
            say(f"{kind}: something already answers on :{port}; using it (not ours to stop)")
            found.urls[env_name] = url
            found.notes[env_name] = "already running"
            return
        raise BackendUnavailable(
            f"port {port} is taken by something that is not {kind}",
            f"pass --{kind}-port with a free port, or set {env_name}",
            backend=kind,
        )
    running = await asyncio.to_thread(start)
    found.owned.append(running)
    found.urls[env_name] = running.url
    found.notes[env_name] = f"embedded, data in {running.data_dir}, log in {running.log_path}"
    say(f"{kind}: embedded substitute on {running.url} (data in {running.data_dir})")


async def _broker(
    kind: str,
    env_name: str,
    default: str,
    reachable: Callable[[str], bool],
    start: Callable[[str], RunningBackend],
    install: str,
    found: Backends,
    say: Callable[[str], None],
) -> None:
    """The configured or loopback server; else the locally installed one, started now."""
    url = os.environ.get(env_name) or default
    if await asyncio.to_thread(reachable, url):
        found.urls[env_name] = url
        found.notes[env_name] = "configured" if env_name in os.environ else "loopback"
        return
    if env_name in os.environ:
        raise BackendUnavailable(
            f"nothing answers at {env_name}={redact_url(url)}",
            f"start it, or unset {env_name} to use a local {install}",
            backend=kind,
        )
    say(f"{kind}: nothing on {redact_url(url)}; starting the local {install}")
    running = await asyncio.to_thread(start, url)  # raises BackendUnavailable with the fix
    if running.owned:
        found.owned.append(running)
        found.notes[env_name] = f"started {install}, stopped on exit"
    else:
        found.notes[env_name] = f"started {install} (detached; it keeps running)"
    found.urls[env_name] = running.url


async def _database(
    kind: str,
    backend: str,
    env_name: str,
    port: int,
    local_url: str,
    answers: Callable[[str], Awaitable[bool]],
    start: Callable[[], RunningBackend],
    embedded: bool,
    found: Backends,
    say: Callable[[str], None],
) -> None:
    """The configured server; else the embedded substitute, unless --no-embedded."""
    if url := os.environ.get(env_name):
        if not await answers(url):
            raise BackendUnavailable(
                f"nothing answers at {env_name}={redact_url(url)}",
                f"start it, or unset {env_name} to use the embedded substitute",
                backend=backend,
            )
        found.urls[env_name] = url
        found.notes[env_name] = "configured"
    elif not embedded:
        raise BackendUnavailable(
            f"{env_name} is not set and --no-embedded was given",
            f"set {env_name}, or drop --no-embedded",
            backend=backend,
        )
    else:
        await _embedded(kind, port, local_url, answers, start, found, env_name, say)


async def prepare_backends(opts: UpOptions, found: Backends, say: Callable[[str], None]) -> None:
    """Fills `found` as it goes, so the caller can stop what was started if a later step fails."""
    defaults = Settings()
    logs = opts.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)

    await _database(
        "mongo",
        "mongo",
        "MF_MONGO_URL",
        opts.mongo_port,
        f"mongodb://127.0.0.1:{opts.mongo_port}/?directConnection=true",
        _mongo_answers,
        lambda: backends.start_mongo_substitute(
            opts.data_dir / "mongo", port=opts.mongo_port, log_file=logs / "mongo.log"
        ),
        opts.embedded,
        found,
        say,
    )
    await _database(
        "es",
        "elasticsearch",
        "MF_ES_URL",
        opts.es_port,
        f"http://127.0.0.1:{opts.es_port}",
        _es_answers,
        lambda: backends.start_es_substitute(
            opts.data_dir / "elasticsearch",
            port=opts.es_port,
            log_file=logs / "elasticsearch.log",
        ),
        opts.embedded,
        found,
        say,
    )
    await _broker(
        "redis",
        "MF_REDIS_URL",
        defaults.redis_url,
        backends.redis_reachable,
        lambda url: backends.start_local_redis(
            opts.data_dir / "redis", url=url, log_file=logs / "redis.log"
        ),
        "redis-server",
        found,
        say,
    )
    await _broker(
        "rabbitmq",
        "MF_AMQP_URL",
        defaults.amqp_url,
        backends.amqp_reachable,
        lambda url: backends.start_local_rabbitmq(url),
        "rabbitmq-server",
        found,
        say,
    )


def busy_service_ports(settings: Settings, planned: list[Process] | None = None) -> list[str]:
    """Ports our processes would bind that something already listens on."""
    busy: list[str] = []
    for proc in planned if planned is not None else plan_processes(settings):
        kind = proc.svc.kind
        host = local_host(settings.gateway_host if kind == "http" else settings.bind_host)
        if backends.port_open(host, proc.port, timeout=0.3):
            busy.append(f"{proc.port} ({proc.name})")
        port = proc.metrics_port
        if port and backends.port_open(local_host(settings.metrics_host), port, timeout=0.3):
            busy.append(f"{port} ({proc.name} metrics)")
    return busy


def child_environment(data_dir: Path, urls: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(urls)
    env["MF_DATA_DIR"] = str(data_dir)
    # Prefixed human-readable lines read better in a terminal than JSON; MF_LOG_JSON wins.
    env.setdefault("MF_LOG_JSON", "false")
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def banner(settings: Settings, found: Backends, planned: list[Process] | None = None) -> str:
    planned = planned if planned is not None else plan_processes(settings)
    def scraped(p: Process) -> str:
        return f", metrics :{p.metrics_port}" if p.metrics_port else ""

    rows = [
        (p.name, f"{p.endpoint(settings).target.removesuffix('/healthz')}  "
         f"(web client at /, REST /api/v1, docs /docs{scraped(p)})")
        for p in planned
        if p.svc.kind == "http"
    ]
    rows += [
        (p.name, f"{p.endpoint(settings).target}  (gRPC{scraped(p)})")
        for p in planned
        if p.svc.kind == "grpc"
    ]
    labels = {
        "MF_MONGO_URL": "mongo",
        "MF_ES_URL": "elasticsearch",
        "MF_REDIS_URL": "redis",
        "MF_AMQP_URL": "rabbitmq",
    }
    rows += [(labels[k], f"{redact_url(v)}  ({found.notes[k]})") for k, v in found.urls.items()]
    width = max(len(r[0]) for r in rows)
    count = max(p.count for p in planned)
    title = (
        "all six processes SERVING:"
        if count == 1
        else f"all {len(planned)} processes SERVING ({count} replicas of each):"
    )
    lines = [title] + [f"  {n:<{width}}  {t}" for n, t in rows]
    lines.append("press Ctrl-C to stop")
    return "\n".join(lines)


async def _unless_stopped(work: Awaitable[T], stop: asyncio.Event) -> T:
    task = asyncio.ensure_future(work)
    waiter = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if task in done:
        return task.result()
    task.cancel()
    raise Stopped


async def up(opts: UpOptions, out: TextIO | None = None) -> int:
    stop = asyncio.Event()
    supervisor: Supervisor | None = None
    try:
        planned = plan_processes(Settings(), opts.replicas)
    except ValueError as exc:
        Supervisor([], out=out).say(f"error: {exc}")
        return 1
    specs = [ChildSpec(p.name, [sys.executable, "-m", p.svc.package]) for p in planned]
    log = Supervisor(specs, out=out)  # only for its prefixed, coloured output until start

    def kill_now() -> None:
        if supervisor is not None:
            supervisor.kill_all()

    restore = install_stop_signals(stop, on_repeat=kill_now)
    found = Backends()
    try:
        busy = await asyncio.to_thread(busy_service_ports, Settings(), planned)
        if busy:
            raise BackendUnavailable(
                f"port(s) already in use: {', '.join(busy)}",
                "another `microfinance up` may be running (`microfinance health` shows it); "
                "stop it, or move ports with MF_<NAME>_PORT",
            )
        opts.data_dir.mkdir(parents=True, exist_ok=True)
        os.environ["MF_DATA_DIR"] = str(opts.data_dir)
        await _unless_stopped(prepare_backends(opts, found, log.say), stop)
        addresses = replica_addresses(Settings(), planned)
        env = child_environment(opts.data_dir, {**found.urls, **addresses})
        # So Settings() here sees what the children will see.
        os.environ.update(found.urls)
        os.environ.update(addresses)
        settings = Settings()
        if opts.migrate:
            try:
                await _unless_stopped(migrate_and_admin(settings, log.say), stop)
            except (Stopped, BackendUnavailable):
                raise
            except Exception as exc:  # any failure here is reported, then we stop cleanly
                log.say(traceback.format_exc().rstrip())
                log.say(f"error: migrations failed ({type(exc).__name__}: {exc}); not starting")
                return 1
        supervisor = Supervisor(
            [
                ChildSpec(s.name, s.argv, env={**env, **p.env()})
                for s, p in zip(specs, planned, strict=True)
            ],
            out=out,
            stop_timeout=opts.stop_timeout,
        )
        sup = supervisor

        async def ready() -> None:
            await wait_until_endpoints_serving(
                [p.endpoint(settings) for p in planned],
                opts.ready_timeout,
                on_ready=lambda p: sup.say(f"{p.name}: SERVING at {p.target}"),
            )
            sup.say(banner(settings, found, planned))

        return await supervisor.run(stop, ready)
    except BackendUnavailable as exc:
        log.say(f"error: {exc}")
        return 1
    except Stopped:
        log.say("stopped before the services started")
        return 0
    finally:
        # Signals stay ours until the backends are down: a second Ctrl-C must not
        # abandon a half-stopped database.
        for running in reversed(found.owned):
            log.say(f"stopping {running.name}")
            await asyncio.to_thread(running.stop)
        restore()


async def migrate_and_admin(settings: Settings, say: Callable[[str], None]) -> None:
    await run_migrations(settings, say)
    admin = admin_from_settings(settings)
    if admin is not None:
        await create_first_admin(settings, admin, say)
    else:
        say("first admin: set MF_ADMIN_EMAIL and MF_ADMIN_PASSWORD, or run `microfinance migrate`")

