"""Settings from the environment: the one Settings object every process reads."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from dudao import jurisdiction

SERVICES = ("registry", "inspection", "accountability", "monitoring")
DEFAULT_PORTS = {"gateway": 8000, "registry": 8001, "inspection": 8002, "accountability": 8003, "monitoring": 8004}
EMBEDDED_POSTGRES_PORT = 55432
EMBEDDED_NATS_PORT = 14222
APP_ROLE = "dudao_app"  # the role services connect as: it can append events but never change them (decision 015)


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _upper(code: str) -> str | None:
    """DUDAO_UPPER, or, for an instance linked upward (DUDAO_UPSTREAM), the division containing its own."""
    if os.environ.get("DUDAO_UPPER"):
        return os.environ["DUDAO_UPPER"].strip()
    if not os.environ.get("DUDAO_UPSTREAM"):
        return None
    return (
        jurisdiction.ancestors(code)[0] if jurisdiction.is_valid_code(code) and code != jurisdiction.NATIONAL else None
    )


@dataclass(frozen=True)
class Settings:
    """Everything a process needs to know about where it runs."""

    jurisdiction: str = "500120"
    home: Path = Path(".dudao")
    database_url: str = f"postgresql://postgres@127.0.0.1:{EMBEDDED_POSTGRES_PORT}/dudao"
    nats_url: str = f"nats://127.0.0.1:{EMBEDDED_NATS_PORT}"
    host: str = "127.0.0.1"
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    jwks_url: str | None = None
    dev_key_path: Path = Path(".dudao/dev-key.pem")
    signing_key_path: Path | None = None  # the deployment's token-signing key (PEM, P-256); None: the dev key above
    client_token_ttl_s: int = 3600  # how long a token the registry issues to an API client lives
    postgres_lock_timeout_s: int = 5
    # How long a write waits for an event-store connection, per attempt of eventsourcing's ten: while PostgreSQL is
    # away a write answers 503 after about 10 x (this + 0.2) s, not after the outage; under load it queues that long.
    pg_write_wait_s: float = 0.3
    pg_write_pool: int = 4  # psycopg connections of the event store per process (writes are serialised anyway)
    pg_read_pool: int = 8  # asyncpg connections per process for reads, projections and dead letters
    subgraph_timeout_s: float = 5.0
    embedded_postgres_port: int = EMBEDDED_POSTGRES_PORT
    embedded_nats_port: int = EMBEDDED_NATS_PORT
    run_workers: bool = True
    blob_url: str = ""
    blob_max_bytes: int = 20 * 1024 * 1024
    sweep_seconds: float = 300.0  # how often deadline sweepers look for lapsed deadlines
    upstream: str | None = None  # the upper instance's NATS leaf-node URL (nats-leaf://host:7422), when linked
    leaf_port: int | None = None  # where lower instances' NATS servers connect, on an upper instance
    upper: str | None = (
        None  # the upper instance's jurisdiction, whose downward streams this one sources (decision 011)
    )
    app_db_url: str | None = None  # DUDAO_APP_DATABASE_URL; None: DATABASE_URL with the app role and its password
    app_db_password: str = "dudao-app-dev"  # the app role's password, set when the owner creates the role
    create_tables: bool = True  # False once the owner has provisioned the schema and we run as the app role
    today: date | None = None  # DUDAO_TODAY: the date the clocks start at (tests, rehearsals); None: the calendar's
    kek_path: Path | None = None  # DUDAO_KEK_DIR: where key-encryption keys live (a secret volume); None: under home
    # "postgres", or "memory": eventsourcing's in-memory recorders, no hash chain, keys in a dict (the fast tier)
    event_store: str = "postgres"

    @classmethod
    def from_env(cls) -> Settings:
        home = Path(_env("DUDAO_HOME", ".dudao"))
        jurisdiction = _env("DUDAO_JURISDICTION", "500120")
        ports = {name: int(_env(f"DUDAO_{name.upper()}_PORT", str(port))) for name, port in DEFAULT_PORTS.items()}
        # Without DATABASE_URL / NATS_URL, every command reaches the servers `dudao up` starts, on the ports it uses.
        pg_port = int(_env("DUDAO_PG_PORT", str(EMBEDDED_POSTGRES_PORT)))
        nats_port = int(_env("DUDAO_NATS_PORT", str(EMBEDDED_NATS_PORT)))
        return cls(
            jurisdiction=jurisdiction,
            home=home,
            database_url=_env("DATABASE_URL", f"postgresql://postgres@127.0.0.1:{pg_port}/dudao"),
            nats_url=_env("NATS_URL", f"nats://127.0.0.1:{nats_port}"),
            host=_env("DUDAO_HOST", "127.0.0.1"),
            ports=ports,
            jwks_url=os.environ.get("DUDAO_JWKS_URL") or None,
            dev_key_path=Path(_env("DUDAO_DEV_KEY", str(home / "dev-key.pem"))),
            signing_key_path=Path(os.environ["DUDAO_SIGNING_KEY"]) if os.environ.get("DUDAO_SIGNING_KEY") else None,
            client_token_ttl_s=int(_env("DUDAO_CLIENT_TOKEN_TTL_S", str(cls.client_token_ttl_s))),
            postgres_lock_timeout_s=int(_env("DUDAO_PG_LOCK_TIMEOUT_S", "5")),
            pg_write_pool=int(_env("DUDAO_PG_WRITE_POOL", "4")),
            pg_read_pool=int(_env("DUDAO_PG_READ_POOL", "8")),
            subgraph_timeout_s=float(_env("DUDAO_SUBGRAPH_TIMEOUT_S", "5")),
            embedded_postgres_port=pg_port,
            embedded_nats_port=nats_port,
            run_workers=_env("DUDAO_RUN_WORKERS", "yes").lower() not in ("0", "no", "false"),
            blob_url=_env("DUDAO_BLOB_URL", ""),
            blob_max_bytes=int(_env("DUDAO_BLOB_MAX_BYTES", str(cls.blob_max_bytes))),
            sweep_seconds=float(_env("DUDAO_SWEEP_SECONDS", str(cls.sweep_seconds))),
            upstream=os.environ.get("DUDAO_UPSTREAM") or None,
            leaf_port=int(os.environ["DUDAO_LEAF_PORT"]) if os.environ.get("DUDAO_LEAF_PORT") else None,
            upper=_upper(jurisdiction),
            app_db_url=os.environ.get("DUDAO_APP_DATABASE_URL") or None,
            app_db_password=_env("DUDAO_APP_DB_PASSWORD", cls.app_db_password),
            today=date.fromisoformat(os.environ["DUDAO_TODAY"]) if os.environ.get("DUDAO_TODAY") else None,
            kek_path=Path(os.environ["DUDAO_KEK_DIR"]) if os.environ.get("DUDAO_KEK_DIR") else None,
        )

    def app_database_url(self) -> str:
        """Where services connect for their own work: as the append-only app role, unless told otherwise."""
        if self.app_db_url:
            return self.app_db_url
        url = urlsplit(self.database_url)
        host = url.hostname or "127.0.0.1"
        netloc = f"{quote(APP_ROLE)}:{quote(self.app_db_password, safe='')}@{host}" + (
            f":{url.port}" if url.port else ""
        )
        return urlunsplit(url._replace(netloc=netloc))

    def app_role(self) -> str:
        return urlsplit(self.app_database_url()).username or APP_ROLE

    def kek_dir(self, service: str) -> Path:
        """The directory of one service's key-encryption keys for this database (decision 026): never inside PostgreSQL."""
        database = urlsplit(self.database_url).path.strip("/") or "dudao"
        return (self.kek_path or self.home / "kek") / f"{database}-{service}"

    def service_url(self, name: str) -> str:
        """Where a service (or the gateway) answers HTTP: DUDAO_<NAME>_URL or host and default port."""
        return _env(f"DUDAO_{name.upper()}_URL", f"http://{self.host}:{self.ports[name]}")

    def eventsourcing_env(self, service: str) -> dict[str, str]:
        """The eventsourcing library's environment for one service's Application."""
        if self.event_store == "memory":
            return {"PERSISTENCE_MODULE": "eventsourcing.popo"}
        url = urlsplit(self.database_url)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": url.path.lstrip("/") or "postgres",
            "POSTGRES_HOST": url.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(url.port or 5432),
            "POSTGRES_USER": url.username or "postgres",
            "POSTGRES_PASSWORD": url.password or "",
            "POSTGRES_SCHEMA": service,
            "POSTGRES_LOCK_TIMEOUT": str(self.postgres_lock_timeout_s),
            "POSTGRES_POOL_SIZE": str(self.pg_write_pool),
            "POSTGRES_MAX_OVERFLOW": str(self.pg_write_pool),
            "POSTGRES_PRE_PING": "y",
            "CREATE_TABLE": "y" if self.create_tables else "n",
            "SINGLE_ROW_TRACKING": "f",  # a row per upstream position, so "was this one processed?" is exact
        }
