"""The accountability read tables (schema `accountability`)."""

from __future__ import annotations

import asyncpg

from dudao.profiles import PROFILE_COPY_SQL

TABLES_SQL = """
CREATE TABLE IF NOT EXISTS accountability.cases (
    id uuid PRIMARY KEY,
    position bigint NOT NULL UNIQUE,
    activity_id text NOT NULL,
    jurisdiction text NOT NULL,
    unit_kind text NOT NULL,
    unit_id text NOT NULL,
    unit_name text NOT NULL,
    activity_title text NOT NULL,
    status text NOT NULL,
    opened_at timestamptz NOT NULL,
    feedback jsonb,
    statement jsonb,
    version integer NOT NULL
);
CREATE INDEX IF NOT EXISTS cases_unit ON accountability.cases (unit_id);
CREATE INDEX IF NOT EXISTS cases_activity ON accountability.cases (activity_id);
CREATE TABLE IF NOT EXISTS accountability.items (
    case_id uuid NOT NULL,
    item_id text NOT NULL,
    jurisdiction text NOT NULL,
    unit_id text NOT NULL,
    unit_name text NOT NULL,
    area text NOT NULL,
    severity text NOT NULL,
    description text NOT NULL,
    status text NOT NULL,
    deadline date,
    lapses integer NOT NULL DEFAULT 0,
    rebounds integer NOT NULL DEFAULT 0,
    reports integer NOT NULL DEFAULT 0,
    accepted_on date,
    accepted_on_time boolean,
    recheck_due date,
    escalations jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (case_id, item_id)
);
CREATE INDEX IF NOT EXISTS items_deadline ON accountability.items (deadline) WHERE status <> 'accepted';
CREATE TABLE IF NOT EXISTS accountability.notices (
    position bigint PRIMARY KEY,
    case_id uuid NOT NULL,
    item_id text NOT NULL,
    lapse integer NOT NULL,
    jurisdiction text NOT NULL,
    unit_id text NOT NULL,
    unit_name text NOT NULL,
    missed_deadline date NOT NULL,
    new_deadline date NOT NULL,
    issued_on date NOT NULL,
    basis text NOT NULL,
    UNIQUE (case_id, item_id, lapse)
);
CREATE TABLE IF NOT EXISTS accountability.measures (
    id uuid PRIMARY KEY,
    position bigint NOT NULL UNIQUE,
    kind text NOT NULL,
    jurisdiction text NOT NULL,
    unit_kind text NOT NULL,
    unit_id text NOT NULL,
    unit_name text NOT NULL,
    status text NOT NULL,
    trigger text,
    case_id uuid,
    details jsonb NOT NULL,
    public_text text,
    published_on date,
    public_version integer,  -- 1, then one more for each correction
    version integer NOT NULL
);
CREATE TABLE IF NOT EXISTS accountability.restrictions (
    circular_id uuid NOT NULL,
    jurisdiction text NOT NULL,
    unit_id text NOT NULL,
    unit_name text NOT NULL,
    name text NOT NULL,
    post text NOT NULL,
    issued_on date NOT NULL,
    restricted_until date NOT NULL,
    PRIMARY KEY (circular_id, name, post)
);
CREATE TABLE IF NOT EXISTS accountability.school_copy (
    id uuid PRIMARY KEY,
    jurisdiction text NOT NULL,
    name text NOT NULL,
    ownership text NOT NULL
);
""" + PROFILE_COPY_SQL.format(schema="accountability")


async def ensure_tables(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await conn.execute(TABLES_SQL)
