"""The `microfinance` command: run the suite, check it, and operate it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from microfinance_cli.services import SERVICES, get_service

REPO_ROOT = Path(__file__).resolve().parents[1]

app = typer.Typer(
    name="microfinance",
    help="Loan management for microfinance institutions: run, check and operate the suite.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class ServiceName(StrEnum):
    auth = "auth"
    user = "user"
    loan = "loan"
    payment = "payment"
    reporting = "reporting"
    gateway = "gateway"


def _style_status(status: str, text: str) -> str:
    colors = {"OK": typer.colors.GREEN, "WARN": typer.colors.YELLOW, "FAIL": typer.colors.RED}
    colors |= {"SERVING": typer.colors.GREEN}
    return typer.style(text, fg=colors.get(status, typer.colors.RED), bold=True)


def _echo(text: str) -> None:
    typer.echo(text)


# ---- running ----------------------------------------------------------------------------


@app.command()
def up(
    data_dir: Annotated[
        Path,
        typer.Option(envvar="MF_DATA_DIR", help="Where embedded backends keep their data."),
    ] = Path(".microfinance"),
    embedded: Annotated[
        bool,
        typer.Option(
            "--embedded/--no-embedded",
            help="Start the embedded MongoDB/Elasticsearch substitutes when no MF_*_URL is set.",
        ),
    ] = True,
    mongo_port: Annotated[
        int, typer.Option(envvar="MF_EMBEDDED_MONGO_PORT", help="Port of the embedded MongoDB.")
    ] = 27018,
    es_port: Annotated[
        int, typer.Option(envvar="MF_EMBEDDED_ES_PORT", help="Port of the embedded ES.")
    ] = 9201,
    ready_timeout: Annotated[
        float, typer.Option(help="Seconds to wait for every process to report SERVING.")
    ] = 120.0,
    stop_timeout: Annotated[
        float, typer.Option(help="Seconds each process gets to stop before SIGKILL.")
    ] = 15.0,
    migrate: Annotated[
        bool, typer.Option("--migrate/--no-migrate", help="Run migrations before starting.")
    ] = True,
    eod_at: Annotated[
        str,
        typer.Option(
            "--eod-at",
            envvar="MF_EOD_AT",
            help="Close the business day by itself at this local time (HH:MM, "
            "MF_BUSINESS_TIMEZONE), catching up missed dates: from 12:00 on it closes that "
            "day, before 12:00 (e.g. 00:30) the day that just ended; empty: never.",
        ),
    ] = "",
    replicas: Annotated[
        int,
        typer.Option(
            "--replicas",
            min=1,
            max=16,
            help="Run this many of each service and of the gateway (loan.1, loan.2 ...): "
            "replica r of a service on its port + 100*(r-1), the gateways on consecutive "
            "ports from MF_GATEWAY_PORT; every process is given all the addresses.",
        ),
    ] = 1,
) -> None:
    """Run all six processes locally (or N of each), with prefixed logs; Ctrl-C stops them."""
    from microfinance_cli.stack import UpOptions
    from microfinance_cli.stack import up as run_up
    from shared.config import clock_time

    try:
        # The children read it from the environment; check it here, before anything starts.
        os.environ["MF_EOD_AT"] = clock_time(eod_at)
    except ValueError as exc:
        _echo(f"error: --eod-at: {exc}")
        raise typer.Exit(2) from None

    opts = UpOptions(
        data_dir=data_dir.resolve(),
        embedded=embedded,
        mongo_port=mongo_port,
        es_port=es_port,
        ready_timeout=ready_timeout,
        stop_timeout=stop_timeout,
        migrate=migrate,
        replicas=replicas,
    )
    # The supervisor stays on the standard loop: uvloop's subprocesses take no
    # process_group, which it needs. Each child runs on the loop MF_EVENT_LOOP names.
    raise typer.Exit(asyncio.run(run_up(opts)))


@app.command()
def service(
    name: Annotated[ServiceName, typer.Argument(help="Which process to run.")],
) -> None:
    """Run one service (or the gateway) in the foreground."""
    svc = get_service(name.value)
    sys.stdout.flush()
    # Replace this process, so signals and the exit code are the service's own.
    os.execv(sys.executable, [sys.executable, "-m", svc.package])  # noqa: S606


# ---- data -------------------------------------------------------------------------------


@app.command()
def migrate(
    admin: Annotated[
        bool, typer.Option("--admin/--no-admin", help="Create the first admin too.")
    ] = True,
) -> None:
    """Create indexes and ES mappings for every service, then the first admin.

    The admin comes from MF_ADMIN_EMAIL and MF_ADMIN_PASSWORD, or from a prompt when
    this is an interactive terminal.
    """
    from microfinance_cli.migrate import (
        AdminRequest,
        admin_from_settings,
        create_first_admin,
        run_migrations,
    )
    from shared.config import Settings

    _require_mongo()
    settings = Settings()
    request: AdminRequest | None = None
    note: str | None = None
    if admin:
        request = admin_from_settings(settings)
        if request is None and sys.stdin.isatty():
            email = typer.prompt("First admin email")
            password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
            request = AdminRequest(email, password)
        elif request is None:
            note = "first admin: not created (set MF_ADMIN_EMAIL and MF_ADMIN_PASSWORD)"

    async def go() -> None:
        await run_migrations(settings, _echo)
        if request is not None:
            await create_first_admin(settings, request, _echo)
        elif note is not None:
            _echo(note)

    asyncio.run(go())


def _require_mongo() -> None:
    from microfinance_cli.backends import mongo_ping
    from microfinance_cli.doctor import redact_url
    from shared.config import Settings

    mongo_url = Settings().mongo_url_or_default()
    if not mongo_ping(mongo_url, timeout=3.0):
        _echo(f"error: no MongoDB answers at {redact_url(mongo_url)}")
        _echo("  fix: set MF_MONGO_URL, or start everything with `microfinance up`")
        raise typer.Exit(1)


@app.command("create-admin")
def create_admin(
    email: Annotated[
        str | None, typer.Option(envvar="MF_ADMIN_EMAIL", help="The admin's email (login).")
    ] = None,
) -> None:
    """Create an admin (idempotent per email); the password comes from MF_ADMIN_PASSWORD
    or a prompt."""
    from microfinance_cli.migrate import AdminRequest, create_first_admin
    from shared.config import Settings

    _require_mongo()
    settings = Settings()
    interactive = sys.stdin.isatty()
    if email is None:
        if not interactive:
            _echo("error: give --email (or MF_ADMIN_EMAIL)")
            raise typer.Exit(2)
        email = str(typer.prompt("Admin email"))
    if settings.admin_password is not None:
        password = settings.admin_password.get_secret_value()
    elif interactive:
        password = str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))
    else:
        _echo("error: set MF_ADMIN_PASSWORD (no terminal to prompt on)")
        raise typer.Exit(2)
    asyncio.run(create_first_admin(settings, AdminRequest(email, password), _echo))


@app.command("rotate-keys")
def rotate_keys() -> None:
    """Add a new token-signing key; running auth servers switch to it, old tokens stay valid."""
    from auth_service.migrations import rotate_keys as rotate
    from shared.config import Settings

    _require_mongo()
    kid, published = asyncio.run(rotate(Settings()))
    _echo(f"new signing key {kid}; published keys: {', '.join(published)}")


@app.command()
def eod(
    day: Annotated[
        str | None,
        typer.Option(
            "--date", help="Business date to close (YYYY-MM-DD); default today in "
            "MF_BUSINESS_TIMEZONE. Never in the future."
        ),
    ] = None,
    catch_up: Annotated[
        bool,
        typer.Option("--catch-up", help="Close every date missing since the last closed one."),
    ] = False,
    stall: Annotated[
        float,
        typer.Option(
            "--stall-seconds", min=1,
            help="Stop (exit 1) when the run keeps failing with no progress this long.",
        ),
    ] = 60.0,
) -> None:
    """Close a business date (end of day): overdue, DPD, penalties, snapshot; shows progress.

    Runs in loan_service (which must be up); this command starts or joins the run and
    follows it. Exits 1 with loan_service's message when it refuses (out of order, ...),
    and with the run's error when the run fails: given up by loan_service after repeated
    failures, or failing with no progress for --stall-seconds.
    """
    from datetime import date

    import grpc

    from microfinance_cli.eod import (
        EodFailed,
        EodRefused,
        LogReporter,
        Reporter,
        RichReporter,
        run_eod,
    )
    from shared.config import Settings

    requested: date | None = None
    if day is not None:
        try:
            requested = date.fromisoformat(day)
        except ValueError:
            _echo(f"error: --date {day!r} is not a date YYYY-MM-DD")
            raise typer.Exit(2) from None
    reporter: Reporter = RichReporter() if sys.stdout.isatty() else LogReporter(_echo)
    try:
        status = asyncio.run(run_eod(Settings(), requested, catch_up, reporter,
                                     stall_seconds=stall))
    except (EodRefused, EodFailed) as exc:
        reporter.close()
        _echo(f"error: {exc}")
        raise typer.Exit(1) from None
    except grpc.aio.AioRpcError as exc:
        reporter.close()
        _echo(f"error: loan_service answered {exc.code().name}: {exc.details()}")
        _echo("  fix: is the stack up (`microfinance up`, `microfinance health`)?")
        raise typer.Exit(1) from None
    reporter.close()
    figures = status.last_closed
    _echo(
        f"closed up to {status.last_closed_date}: {figures.loans_processed} loans, "
        f"{figures.snapshot_rows} snapshot rows, {figures.penalties_charged} penalties charged"
    )


class ReindexTarget(StrEnum):
    borrowers = "borrowers"
    loans = "loans"


@app.command()
def reindex(
    target: Annotated[ReindexTarget, typer.Argument(help="Which search index to rebuild.")],
    recreate: Annotated[
        bool,
        typer.Option(help="Drop the index first (after a mapping change it cannot take in place)."),
    ] = False,
) -> None:
    """Rebuild a search index from MongoDB (after an Elasticsearch outage, or to repair it)."""
    from shared.config import Settings
    from shared.errors import Unavailable
    from shared.reindex import ReindexOptions

    if target is ReindexTarget.loans:
        from loan_service.reindex import reindex_from_settings
    else:
        from user_service.reindex import reindex_from_settings

    _require_mongo()
    with contextlib.ExitStack() as stack:
        bars: list[Any] = []

        def on_total(total: int) -> None:
            label = f"reindexing {target.value}"
            bars.append(stack.enter_context(typer.progressbar(length=total, label=label)))

        try:
            result = asyncio.run(
                reindex_from_settings(
                    Settings(),
                    ReindexOptions(
                        recreate=recreate,
                        on_total=on_total,
                        on_progress=lambda n: bars[0].update(n),
                    ),
                )
            )
        except Unavailable as exc:
            _echo(f"error: {exc}; is Elasticsearch up at MF_ES_URL?")
            raise typer.Exit(1) from None
    _echo(f"{result.index}: {result.indexed} of {result.total} {target.value} indexed")


@app.command("demo-data")
def demo_data(
    borrowers: Annotated[int, typer.Option(help="How many borrowers.")] = 1_000,
    loans: Annotated[int, typer.Option(help="How many loans (at most two per borrower).")] = 1_000,
    seed: Annotated[int, typer.Option(help="The same seed builds the same portfolio.")] = 1,
    days: Annotated[int, typer.Option(help="Loans are disbursed over the past D days.")] = 90,
    agents: Annotated[
        int | None, typer.Option(help="How many agents (default: one per 250 borrowers, 3-200).")
    ] = None,
    currencies: Annotated[
        str, typer.Option(help="Comma-separated ISO codes of the products' currencies.")
    ] = "KES,USD",
    password: Annotated[
        str, typer.Option(envvar="MF_DEMO_PASSWORD", help="Every demo login's password.")
    ] = "demo-password",  # noqa: S107 - demo logins only; the summary names it
    events: Annotated[
        bool,
        typer.Option(
            "--events/--no-events",
            help="Record the outbox events the services would have (off: no broker flood at "
            "scale; search is rebuilt here either way).",
        ),
    ] = True,
    search: Annotated[
        bool, typer.Option("--search/--no-search", help="Rebuild the search indexes after.")
    ] = True,
    end_of_day: Annotated[
        bool,
        typer.Option("--eod/--no-eod", help="Close every past date with the end of day after."),
    ] = True,
) -> None:
    """Build a realistic demo portfolio in bulk (staff, products, borrowers, loans with their
    repayments), then run the end of day for each past date."""
    from microfinance_cli.demo_data import (
        DemoOptions,
        DemoRefused,
        LogReporter,
        Reporter,
        RichReporter,
        build,
        summary,
    )
    from microfinance_cli.demo_plan import DemoSizes
    from shared.config import Settings

    _require_mongo()
    sizes = DemoSizes(
        borrowers=borrowers, loans=loans, days=days, seed=seed,
        currencies=tuple(c.strip().upper() for c in currencies.split(",") if c.strip()),
        agents=agents if agents is not None else max(3, min(200, borrowers // 250)),
    )
    opts = DemoOptions(sizes, password, events=events, search=search, end_of_day=end_of_day)
    report: Reporter = RichReporter() if sys.stdout.isatty() else LogReporter(_echo)
    try:
        result = asyncio.run(build(Settings(), opts, report))
    except DemoRefused as exc:
        report.close()
        _echo(f"error: {exc}")
        raise typer.Exit(1) from None
    report.close()
    for line in summary(result, sizes):
        _echo(line)


@app.command()
def backup(
    out: Annotated[Path, typer.Option("--out", help="A new (or empty) directory.")],
    offline: Annotated[
        bool,
        typer.Option(
            "--offline",
            help="Read without a point-in-time snapshot; refused unless every service is "
            "stopped (for a standalone MongoDB or one older than 5.0).",
        ),
    ] = False,
) -> None:
    """Back up every service database at one point in time: gzip'd BSON per collection,
    indexes, a manifest and SHA-256 checksums."""
    from microfinance_cli.backup import BackupRefused
    from microfinance_cli.backup import backup as run_backup
    from shared.config import Settings

    _require_mongo()
    try:
        manifest = asyncio.run(run_backup(Settings(), out, _echo, offline=offline))
    except BackupRefused as exc:
        _echo(f"error: {exc}")
        raise typer.Exit(1) from None
    collections = sum(len(d.collections) for d in manifest.databases)
    _echo(f"backup written to {out}: {len(manifest.databases)} databases, {collections} "
          f"collections, {manifest.documents} documents, {manifest.bytes} bytes in "
          f"{manifest.seconds:.1f}s ({manifest.consistency})")


@app.command()
def restore(
    source: Annotated[Path, typer.Option("--from", help="A directory `backup` wrote.")],
    drop: Annotated[
        bool, typer.Option("--drop", help="Drop the target's service databases first.")
    ] = False,
    search: Annotated[
        bool,
        typer.Option("--reindex/--no-reindex", help="Rebuild both search indexes after."),
    ] = True,
) -> None:
    """Restore a backup into the databases MF_MONGO_DB names (services stopped): every
    checksum is checked first, a non-empty target is refused unless --drop."""
    from microfinance_cli.backup import BackupRefused
    from microfinance_cli.backup import restore as run_restore
    from shared.config import Settings

    _require_mongo()
    try:
        result = asyncio.run(run_restore(Settings(), source, _echo, drop=drop, reindex=search))
    except BackupRefused as exc:
        _echo(f"error: {exc}")
        raise typer.Exit(1) from None
    steps = ", ".join(f"{k} {v:.1f}s" for k, v in result.seconds.items())
    _echo(f"restored {result.documents} documents and {result.indexes} indexes from "
          f"{source} in {sum(result.seconds.values()):.1f}s ({steps})")
    if not search:
        _echo("search indexes not rebuilt: run `microfinance reindex borrowers --recreate` "
              "and `microfinance reindex loans --recreate`")
    if result.manifest.app_version != _app_version():
        _echo(f"the backup was made by microfinance {result.manifest.app_version}; "
              "`microfinance migrate` (or `up`) brings its indexes up to this version")


def _app_version() -> str:
    import importlib.metadata

    return importlib.metadata.version("microfinance")


# ---- checking ---------------------------------------------------------------------------


@app.command("rebuild-reports")
def rebuild_reports() -> None:
    """Drop reporting's read models and replay every event it logged (reporting stopped)."""
    from reporting_service.rebuild import rebuild
    from shared.config import Settings

    _require_mongo()
    count = asyncio.run(rebuild(Settings(), lambda n: _echo(f"{n} events replayed")))
    _echo(f"read models rebuilt from {count} events")


@app.command()
def doctor() -> None:
    """Check Python, backends, substitutes, protos and running services; say how to fix."""
    from microfinance_cli.doctor import FAIL, render, run_checks
    from shared.config import Settings

    checks = asyncio.run(run_checks(Settings()))
    _echo(render(checks, style=_style_status if sys.stdout.isatty() else None))
    failed = [c.name for c in checks if c.status == FAIL]
    if failed:
        _echo(f"\n{len(failed)} check(s) failed: {', '.join(failed)}")
        raise typer.Exit(1)


@app.command()
def health(
    service: Annotated[
        list[ServiceName] | None,
        typer.Option("--service", "-s", help="Probe only this one (repeatable)."),
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds per probe.")] = 3.0,
    wait: Annotated[
        float, typer.Option(help="Keep probing up to this many seconds until all are SERVING.")
    ] = 0.0,
) -> None:
    """Probe grpc.health.v1 of each service and the gateway's /healthz; exit 1 unless all serve."""
    from microfinance_cli.health import probe_all, wait_until_serving
    from shared.config import Settings

    settings = Settings()
    chosen = [get_service(s.value) for s in service] if service else list(SERVICES)

    async def go() -> list[tuple[str, str, str, str]]:
        if wait > 0:
            # On timeout, the final probe below reports who is not serving.
            with contextlib.suppress(TimeoutError):
                await wait_until_serving(chosen, settings, wait)
        results = await probe_all(chosen, settings, rpc_timeout=timeout)
        return [(r.name, r.status, r.target, r.detail) for r in results]

    rows = asyncio.run(go())
    width = max(len(r[0]) for r in rows)
    tty = sys.stdout.isatty()
    for name, status, target, detail in rows:
        shown = _style_status(status, f"{status:<11}") if tty else f"{status:<11}"
        _echo(f"{name:<{width}}  {shown}  {target}" + (f"  {detail}" if detail else ""))
    if any(r[1] != "SERVING" for r in rows):
        raise typer.Exit(1)


def _run_steps(steps: list[tuple[str, list[str]]]) -> int:
    failed: list[str] = []
    for label, argv in steps:
        started = time.monotonic()
        _echo(f"==> {label}: {' '.join(argv)}")
        code = subprocess.call(argv, cwd=REPO_ROOT)  # noqa: S603 - fixed tool invocations
        _echo(f"<== {label}: {'ok' if code == 0 else f'FAILED ({code})'} "
              f"in {time.monotonic() - started:.1f}s")
        if code != 0:
            failed.append(label)
    if failed:
        _echo(f"failed: {', '.join(failed)}")
        return 1
    return 0


def check_steps() -> list[tuple[str, list[str]]]:
    """ruff, mypy, the proto drift check and buf: the same steps .ci/run runs."""
    py = sys.executable
    steps = [
        ("ruff", [py, "-m", "ruff", "check", "."]),
        ("mypy", [py, "-m", "mypy", "."]),
    ]
    if (REPO_ROOT / "scripts" / "gen_protos.py").exists():
        steps.append(("proto drift", [py, "scripts/gen_protos.py", "--check"]))
    steps.append(("contracts", [py, "-m", "microfinance_cli", "contracts"]))
    return steps


@app.command()
def check() -> None:
    """Static checks: ruff, mypy, generated proto code up to date, buf lint and breaking."""
    raise typer.Exit(_run_steps(check_steps()))


@app.command()
def contracts(
    update_baseline: Annotated[
        bool,
        typer.Option(
            "--update-baseline",
            help="At a release: write proto/baseline.binpb from proto/ (then commit it).",
        ),
    ] = False,
) -> None:
    """buf lint (STANDARD) and buf breaking against the released contract; installs buf."""
    from microfinance_cli.contracts import (
        BASELINE,
        BUF_VERSION,
        TOOLS_DIR,
        BufUnavailable,
        baseline_argv,
        breaking_argv,
        ensure_buf,
        installed_version,
        lint_argv,
    )

    if installed_version() != BUF_VERSION:
        _echo(f"==> installing buf {BUF_VERSION} with npm into {TOOLS_DIR.relative_to(REPO_ROOT)}")
    try:
        buf = ensure_buf()
    except BufUnavailable as exc:
        _echo(f"error: {exc}")
        raise typer.Exit(1) from None
    lint = ("buf lint", lint_argv(buf))
    if update_baseline:
        # A baseline is only taken of a contract that passes lint.
        raise typer.Exit(_run_steps([lint]) or _run_steps([("buf baseline", baseline_argv(buf))]))
    if not BASELINE.exists():
        _echo(f"error: {BASELINE.relative_to(REPO_ROOT)} is missing: run "
              "`microfinance contracts --update-baseline` on the released contract")
        raise typer.Exit(1)
    lint_code = _run_steps([lint])
    breaking_code = _run_steps([("buf breaking", breaking_argv(buf))])
    if breaking_code:
        _echo("A break that is meant (a release, a field removed and reserved) goes with a new "
              "baseline: `microfinance contracts --update-baseline`; see docs/api.md.")
    raise typer.Exit(lint_code or breaking_code)


@app.command()
def protos(
    check_only: Annotated[
        bool, typer.Option("--check", help="Only report drift; change nothing.")
    ] = False,
) -> None:
    """Regenerate the gRPC/protobuf code under microfinance/ from proto/."""
    script = REPO_ROOT / "scripts" / "gen_protos.py"
    if not script.exists():
        _echo(f"{script} does not exist yet")
        raise typer.Exit(1)
    argv = [sys.executable, str(script)] + (["--check"] if check_only else [])
    raise typer.Exit(subprocess.call(argv, cwd=REPO_ROOT))  # noqa: S603


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def test(ctx: typer.Context) -> None:
    """Run the test suite (pytest); every argument goes to pytest."""
    os.chdir(REPO_ROOT)
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, "-m", "pytest", *ctx.args])  # noqa: S606


if __name__ == "__main__":
    app()
