"""Database roles: the owner (DATABASE_URL) provisions a service's schema; the service runs as an append-only role.

The owner creates the schema and the event store's tables, and grants the app role (`dudao_app`) SELECT and INSERT on
them, plus MAINTAIN, which the event store's `LOCK TABLE ... IN EXCLUSIVE MODE` needs (PostgreSQL 17 and later). The
app role owns every other table of the schema (read models, checkpoints, dead letters), since those are dropped and
rebuilt. It can never UPDATE, DELETE, TRUNCATE, ALTER or DROP an event table (decision 015).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

import psycopg
from psycopg import errors
from psycopg.sql import SQL, Identifier, Literal

from dudao import chain
from dudao.config import Settings

log = logging.getLogger("dudao.roles")

MIN_SERVER_VERSION = 170000  # the MAINTAIN privilege (LOCK TABLE without UPDATE, DELETE or TRUNCATE) came in 17


def _ensure_role(conn: psycopg.Connection, role: str, password: str) -> None:
    if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
        return
    try:
        conn.execute(SQL("CREATE ROLE {0} LOGIN PASSWORD {1}").format(Identifier(role), Literal(password)))
    except (errors.DuplicateObject, errors.UniqueViolation):
        pass  # another process created it meanwhile (roles are cluster-wide)


def provision(settings: Settings, service: str, create_event_store: Callable[[Settings], object]) -> Settings:
    """As the owner: the app role, the schema, the event tables and the grants. The settings to run the service with.

    `create_event_store(settings)` opens the service's event store (creating its tables) and returns it; it is closed
    again here. With `DUDAO_APP_DATABASE_URL` equal to `DATABASE_URL` nothing is restricted (a single-role setup).
    """
    app_url = settings.app_database_url()
    if app_url == settings.database_url:
        return settings
    role = settings.app_role()
    store = create_event_store(settings)  # as the owner: schema, tables, composite type, sequence
    try:
        events, tracking = store.recorder.events_table_name, store.recorder.tracking_table_name  # type: ignore[attr-defined]
    finally:
        store.close()  # type: ignore[attr-defined]
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        version = int(conn.execute("SHOW server_version_num").fetchone()[0])
        if version < MIN_SERVER_VERSION:
            raise RuntimeError(
                f"PostgreSQL {version // 10000} cannot keep event tables append-only for a role that locks them (the"
                " MAINTAIN privilege needs 17 or later); upgrade, or set DUDAO_APP_DATABASE_URL=$DATABASE_URL"
                " to run everything as the owner (decision 015)"
            )
        schema, app = Identifier(service), Identifier(role)
        with conn.transaction():
            # The services of an instance start together; granting on one database at once fails ("tuple
            # concurrently updated"), so they provision one after another.
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('dudao-provision'))")
            _ensure_role(conn, role, settings.app_db_password)
            conn.execute(SQL("GRANT CONNECT ON DATABASE {0} TO {1}").format(Identifier(conn.info.dbname), app))
            conn.execute(SQL("GRANT USAGE, CREATE ON SCHEMA {0} TO {1}").format(schema, app))
            for table in (events, tracking):
                conn.execute(SQL("REVOKE ALL ON {0}.{1} FROM {2}").format(schema, Identifier(table), app))
                conn.execute(
                    SQL("GRANT SELECT, INSERT, MAINTAIN ON {0}.{1} TO {2}").format(schema, Identifier(table), app)
                )
            conn.execute(SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {0} TO {1}").format(schema, app))
            # The hash chain's links are written by the owner's trigger; the app role may only read them (decision 017).
            conn.execute(SQL("REVOKE ALL ON {0}.{1} FROM {2}").format(schema, Identifier(chain.TABLE), app))
            conn.execute(SQL("GRANT SELECT ON {0}.{1} TO {2}").format(schema, Identifier(chain.TABLE), app))
            # Read models and the kernel's bookkeeping tables made before the app role existed become its own.
            others = conn.execute(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND c.relname <> ALL(%s)"
                " AND pg_get_userbyid(c.relowner) <> %s",
                (service, [events, tracking, chain.TABLE], role),
            ).fetchall()
            for (table,) in others:
                conn.execute(SQL("ALTER TABLE {0}.{1} OWNER TO {2}").format(schema, Identifier(table), app))
    return replace(settings, database_url=app_url, create_tables=False)
