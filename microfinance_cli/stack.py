"""`microfinance up`: backends, migrations, the six processes, a ready banner, a clean stop.

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
from microfinance_cli.health import gateway_url, local_host, wait_until_serving
from microfinance_cli.migrate import (
    admin_from_settings,
    create_first_admin,
    run_migrations,
)
from microfinance_cli.services import SERVICES
from microfinance_cli.supervisor import ChildSpec, Supervisor, install_stop_signals
from shared.config import Settings

DEFAULT_MONGO_PORT = 27018
DEFAULT_ES_PORT = 9201
# /metrics of the first process; each next one gets the next port (auth 9460 ... gateway 9465).
DEFAULT_METRICS_PORT = 9460
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


def metrics_ports(settings: Settings) -> dict[str, int]:
    """Each process' /metrics port, the one place `up` assigns them: MF_METRICS_PORT (when
    set, else DEFAULT_METRICS_PORT) for the first process, then one more for each next one.
    MF_METRICS_PORT=0: no metrics (an empty map)."""
    base = settings.metrics_port if "MF_METRICS_PORT" in os.environ else DEFAULT_METRICS_PORT
    if not base:
        return {}
    return {svc.name: base + i for i, svc in enumerate(SERVICES)}


def busy_service_ports(settings: Settings) -> list[str]:
    """Ports our six processes would bind that something already listens on."""
    busy: list[str] = []
    metrics = metrics_ports(settings)
    for svc in SERVICES:
        host = local_host(settings.gateway_host if svc.kind == "http" else settings.bind_host)
        if backends.port_open(host, svc.port(settings), timeout=0.3):
            busy.append(f"{svc.port(settings)} ({svc.name})")
        port = metrics.get(svc.name)
        if port and backends.port_open(local_host(settings.metrics_host), port, timeout=0.3):
            busy.append(f"{port} ({svc.name} metrics)")
    return busy


def child_environment(data_dir: Path, urls: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(urls)
    env["MF_DATA_DIR"] = str(data_dir)
    # Prefixed human-readable lines read better in a terminal than JSON; MF_LOG_JSON wins.
    env.setdefault("MF_LOG_JSON", "false")
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def banner(settings: Settings, found: Backends, metrics: dict[str, int]) -> str:
    def scraped(name: str) -> str:
        port = metrics.get(name)
        return f", metrics :{port}" if port else ""

    rows = [
        (
            "gateway",
            f"{gateway_url(settings)}  (web client at /, REST /api/v1, docs /docs"
            f"{scraped('gateway')})",
        )
    ]
    rows += [
        (s.name, f"{s.grpc_addr(settings)}  (gRPC{scraped(s.name)})")
        for s in SERVICES
        if s.kind == "grpc"
    ]
    labels = {
        "MF_MONGO_URL": "mongo",
        "MF_ES_URL": "elasticsearch",
        "MF_REDIS_URL": "redis",
        "MF_AMQP_URL": "rabbitmq",
    }
    rows += [(labels[k], f"{redact_url(v)}  ({found.notes[k]})") for k, v in found.urls.items()]
    width = max(len(r[0]) for r in rows)
    lines = ["all six processes SERVING:"] + [f"  {n:<{width}}  {t}" for n, t in rows]
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
    specs = [ChildSpec(s.name, [sys.executable, "-m", s.package]) for s in SERVICES]
    log = Supervisor(specs, out=out)  # only for its prefixed, coloured output until start

    def kill_now() -> None:
        if supervisor is not None:
            supervisor.kill_all()

    restore = install_stop_signals(stop, on_repeat=kill_now)
    found = Backends()
    try:
        busy = await asyncio.to_thread(busy_service_ports, Settings())
        if busy:
            raise BackendUnavailable(
                f"port(s) already in use: {', '.join(busy)}",
                "another `microfinance up` may be running (`microfinance health` shows it); "
                "stop it, or move ports with MF_<NAME>_PORT",
            )
        opts.data_dir.mkdir(parents=True, exist_ok=True)
        os.environ["MF_DATA_DIR"] = str(opts.data_dir)
        await _unless_stopped(prepare_backends(opts, found, log.say), stop)
        env = child_environment(opts.data_dir, found.urls)
        os.environ.update(found.urls)  # so Settings() here sees what the children will see
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
        metrics = metrics_ports(settings)
        # Always set: a child must not take up's own MF_METRICS_PORT (the first port) as its.
        envs = {s.name: {**env, "MF_METRICS_PORT": str(metrics.get(s.name, 0))} for s in specs}
        supervisor = Supervisor(
            [ChildSpec(s.name, s.argv, env=envs[s.name]) for s in specs],
            out=out,
            stop_timeout=opts.stop_timeout,
        )
        sup = supervisor

        async def ready() -> None:
            await wait_until_serving(
                SERVICES,
                settings,
                opts.ready_timeout,
                on_ready=lambda p: sup.say(f"{p.name}: SERVING at {p.target}"),
            )
            sup.say(banner(settings, found, metrics))

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

