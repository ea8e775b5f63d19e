"""Personal information (issue 9, PIPL): phone numbers, ID numbers and home addresses are sealed per person, so
destroying a person's key makes their data unreadable for good, everywhere, without rewriting history (decision 019)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlparse

import asyncpg
import nats
import psycopg
import pytest

from dudao import bus
from dudao.events import Envelope
from dudao.personal import ERASED, Sealed, reveal_all
from dudao_cli.servers import LocalPostgres
from services.registry.api.personal import PersonalWrite
from services.registry.api.places import CommitteeWrite
from tests.conftest import eventually, stream_messages
from tests.factories import verify

pytestmark = pytest.mark.integration

MOBILE, ID_NUMBER, ADDRESS = "13912345678", "500227199003071235", "重庆市璧山区璧城街道青杠路88号"
PERSONAL = {"mobile": MOBILE, "id_number": ID_NUMBER, "home_address": ADDRESS}


def nominate(client, name: str = "李明远", jur: str = "500120") -> str:
    response = client.post("/v1/inspectors", json={"name": name, "jurisdiction": jur, "employment": "full_time"})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def record(client, inspector_id: str, body: dict) -> dict:
    response = client.put(f"/v1/inspectors/{inspector_id}/personal", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def erase(client, person: str, reason: str = "本人申请删除(个人信息保护法第四十七条)"):
    return client.post("/v1/personal-data/erasures", json={"person": person, "reason": reason})


def audited(client, event_type: str, count: int = 1) -> list[dict]:
    return eventually(
        lambda: (
            (items := client.get("/v1/audit", params={"event_type": event_type}).json()["items"])
            and len(items) >= count
            and items
        ),
        what=f"{count} {event_type} in the audit",
    )


def database_text(settings) -> str:
    """Everything the registry keeps in PostgreSQL, as text: every table, the event store's bytes included."""
    with psycopg.connect(settings.database_url) as conn:
        tables = [
            r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'registry'").fetchall()
        ]
        parts = [str(row) for t in tables for row in conn.execute(f'SELECT t::text FROM registry."{t}" t').fetchall()]
        parts += [
            bytes(s).decode("utf-8", "replace") for (s,) in conn.execute("SELECT state FROM registry.registry_events")
        ]
    return "\n".join(parts)


async def _stream_text(url: str) -> str:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        streams = (bus.stream_name("registry"), bus.view_stream("registry"))
        return "\n".join([msg.data.decode() for stream in streams for msg in await stream_messages(js, stream)])
    finally:
        await nc.close()


async def recorded_on_the_wire(url: str, event_type: str) -> dict:
    nc = await nats.connect(url)
    try:
        stream = bus.stream_name("registry")
        for msg in await stream_messages(nc.jetstream(), stream):
            if msg.headers[bus.HEADER_EVENT_TYPE] == event_type:
                return json.loads(msg.data)
        raise AssertionError(f"no {event_type} in {stream}")
    finally:
        await nc.close()


def stored_events(settings) -> list[tuple[int, bytes]]:
    with psycopg.connect(settings.database_url) as conn:
        rows = conn.execute(
            "SELECT notification_id, state FROM registry.registry_events ORDER BY notification_id"
        ).fetchall()
    return [(n, bytes(s)) for n, s in rows]


def test_personal_details_are_sealed_in_every_store_and_readable_only_through_the_owner(registry, token, settings):
    with registry.client(token()) as client:
        inspector_id = nominate(client)
        recorded = record(client, inspector_id, PERSONAL)
        assert (recorded["mobile"], recorded["id_number"], recorded["home_address"]) == (MOBILE, ID_NUMBER, ADDRESS)
        assert recorded["person"] == f"inspector:{inspector_id}" and recorded["erased"] == []
        assert (
            record(client, inspector_id, PERSONAL)["version"] == recorded["version"]
        )  # the same again changes nothing
        entry = audited(client, "Inspector.PersonalDetailsRecorded")[0]
        assert entry["data"]["details"]["mobile"]["person"] == f"inspector:{inspector_id}"  # the audit names whose data
        # The directory holds none of it, but keeps up with the inspector's version (the ETag a next write sends).
        eventually(
            lambda: client.get(f"/v1/inspectors/{inspector_id}").headers.get("ETag") == f'"{recorded["version"]}"',
            what="the directory at the recorded version",
        )
    with psycopg.connect(settings.database_url) as conn:
        assert conn.execute("SELECT count(*) FROM registry.dead_letters").fetchone()[0] == 0

    everywhere = database_text(settings) + asyncio.run(_stream_text(settings.nats_url))
    for plain in (MOBILE, ID_NUMBER, ADDRESS):
        assert plain not in everywhere  # not in events, read models, the audit, or either stream
    # Nor a request hash that a guess at the plain values could be checked against once the key is gone.
    wire = asyncio.run(recorded_on_the_wire(settings.nats_url, "Inspector.PersonalDetailsRecorded"))
    body = PersonalWrite(**PERSONAL).model_dump_json()
    guess = hashlib.sha256(f"PUT /v1/inspectors/{inspector_id}/personal\n{body}".encode()).hexdigest()
    stored = wire["envelope"]["request_hash"]
    assert (
        stored
        and guess != stored
        and Envelope.from_dict(wire["envelope"] | {"request_hash": guess})
        .also_hashing(wire["data"]["details"])
        .request_hash
        != stored
    )
    with registry.client(token(role="reader")) as reader:
        assert reader.get(f"/v1/inspectors/{inspector_id}/personal").status_code == 403
    with registry.client(token(jur="500101")) as elsewhere:  # an admin of another district
        assert elsewhere.get(f"/v1/inspectors/{inspector_id}/personal").status_code == 403


def _files_holding(directory: Path, needle: bytes) -> list[str]:
    found = []
    for path in directory.rglob("*"):
        try:
            if path.is_file() and needle in path.read_bytes():
                found.append(str(path.relative_to(directory)))
        except OSError:  # a file PostgreSQL removed meanwhile
            continue
    return found


def test_an_erased_key_is_in_no_data_file_nor_the_wal_and_what_a_backup_keeps_of_it_opens_with_nothing(
    registry, token, settings, postgres
):
    """Issue 19: after DELETE + VACUUM the 64-byte key was still in the table's data file and the WAL, so a file-level
    backup taken after the erasure could still open the person's data. Keys now rest wrapped under a KEK kept
    outside PostgreSQL, and an erasure re-wraps the survivors under a new KEK and destroys the old one."""
    ring = registry.app.state.application.keys.ring
    with registry.client(token()) as client:
        erased_id, kept_id = nominate(client), nominate(client, "王秀兰")
        person = record(client, erased_id, PERSONAL)["person"]
        record(client, kept_id, {"mobile": "13800138000"})
        with psycopg.connect(settings.database_url) as conn:
            key_id, wrapped, kek_id = conn.execute(
                "SELECT key_id::text, key, kek_id::text FROM registry.person_keys WHERE person = %s", (person,)
            ).fetchone()
        raw = ring.unwrap(kek_id, key_id, bytes(wrapped))
        assert (
            raw is not None and len(raw) == 64 and raw not in bytes(wrapped)
        )  # the database never had it in the clear
        assert erase(client, person).status_code == 201
        kept = client.get(f"/v1/inspectors/{kept_id}/personal").json()
    with psycopg.connect(postgres, autocommit=True) as admin:  # everything PostgreSQL wrote, on disk
        admin.execute("CHECKPOINT")
        admin.execute("SELECT pg_switch_wal()")
        data_directory = Path(admin.execute("SHOW data_directory").fetchone()[0])
    assert _files_holding(data_directory, raw) == []  # neither the data files nor pg_wal
    assert not (ring.directory / f"{kek_id}.kek").exists()
    # What a backup taken now keeps of the erased key (its wrapped bytes) opens with no KEK that is left.
    assert [k.stem for k in ring.directory.glob("*.kek")] and all(
        ring.unwrap(k.stem, key_id, bytes(wrapped)) is None for k in ring.directory.glob("*.kek")
    )
    assert kept["mobile"] == "13800138000"  # the others' data, re-wrapped, still reads


def _sealed_in(value) -> list[Sealed]:
    """Every sealed value anywhere in a decoded event state."""
    if (sealed := Sealed.of(value)) is not None:
        return [sealed]
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return [s for child in children for s in _sealed_in(child)]


async def _opened(database_url: str, persons: list[str]) -> dict[str, set[str]]:
    """What the registry's keys in that database open of each person's sealed values, read from its event store."""
    conn = await asyncpg.connect(database_url)
    try:
        states = [json.loads(bytes(r["state"])) for r in await conn.fetch("SELECT state FROM registry.registry_events")]
        sealed = [s for state in states for s in _sealed_in(state) if s.person in persons]
        opened = await reveal_all(conn, "registry", "500120", sealed)
    finally:
        await conn.close()
    return {p: {value for s, value in zip(sealed, opened, strict=True) if s.person == p} for p in persons}


def test_a_base_backup_taken_after_an_erasure_restores_everything_but_the_erased_values(
    registry, token, settings, postgres
):
    """Issue 19: restore a real base backup (pg_basebackup) taken after an erasure: the erased person's values open
    with nothing, and everyone else's still read, so the backup is whole and only the erasure is missing from it."""
    with registry.client(token()) as client:
        erased_id, kept_id = nominate(client), nominate(client, "王秀兰")
        erased = record(client, erased_id, PERSONAL)["person"]
        kept = record(client, kept_id, {"mobile": "13800138000"})["person"]
        assert asyncio.run(_opened(settings.database_url, [erased])) == {erased: {MOBILE, ID_NUMBER, ADDRESS}}
        with psycopg.connect(settings.database_url) as conn:
            key_id, wrapped, kek_id = conn.execute(
                "SELECT key_id::text, key, kek_id::text FROM registry.person_keys WHERE person = %s", (erased,)
            ).fetchone()
        raw = registry.app.state.application.keys.ring.unwrap(kek_id, key_id, bytes(wrapped))
        assert erase(client, erased).status_code == 201
    with psycopg.connect(postgres, autocommit=True) as admin:
        data_directory = Path(admin.execute("SHOW data_directory").fetchone()[0])
    backup_home = Path(tempfile.mkdtemp(prefix="dudao-test-backup-"))
    backup_home.chmod(0o755)  # PostgreSQL runs as its own user when we are root
    restored = LocalPostgres(data_directory, urlparse(postgres).port).base_backup(backup_home / "data")
    try:
        assert _files_holding(backup_home / "data", raw) == []
        restored.start()
        url = urlparse(settings.database_url)._replace(netloc=f"postgres@127.0.0.1:{restored.port}").geturl()
        assert asyncio.run(_opened(url, [erased, kept])) == {erased: {ERASED}, kept: {"13800138000"}}
    finally:
        restored.stop()
        shutil.rmtree(backup_home, ignore_errors=True)


def test_an_erasure_makes_the_data_unreadable_for_good_and_rewrites_no_history(registry, token, settings):
    with registry.client(token(sub="officer")) as client:
        inspector_id = nominate(client)
        person = record(client, inspector_id, PERSONAL)["person"]
        before = stored_events(settings)

        erased = erase(client, person)
        assert erased.status_code == 201, erased.text
        assert (erased.json()["person"], erased.json()["keys_destroyed"]) == (person, 1)
        after = client.get(f"/v1/inspectors/{inspector_id}/personal").json()
        assert (after["mobile"], after["id_number"], after["home_address"]) == (ERASED, ERASED, ERASED)
        assert after["erased"] == ["home_address", "id_number", "mobile"]

        entry = audited(client, "Erasure.Recorded")[0]  # who erased whose data, and why
        assert (entry["actor"], entry["data"]["person"]) == ("officer", person)
        assert erase(client, person).json()["rule"] == "nothing_to_erase"  # nothing is left to erase

        # A new number after the erasure is sealed with a new key; what was erased stays erased.
        again = record(client, inspector_id, {"mobile": "13800001111"})
        assert (again["mobile"], again["id_number"], again["erased"]) == (
            "13800001111",
            ERASED,
            ["home_address", "id_number"],
        )

    assert stored_events(settings)[: len(before)] == before  # every earlier event as it was, byte for byte
    intact = verify(settings, "registry")
    assert intact.returncode == 0 and "chain intact" in intact.stdout, intact.stdout + intact.stderr
    with psycopg.connect(settings.database_url) as conn:
        assert conn.execute("SELECT count(*) FROM registry.person_keys WHERE person = %s", (person,)).fetchone()[0] == 1


def test_a_committee_contacts_phone_is_sealed_and_erased_on_its_own(registry, token, settings):
    units = [
        {"name": "区发展改革委", "contact_person": "王海", "contact_phone": "023-41401111"},
        {"name": "区财政局", "contact_person": "陈静", "contact_phone": "13688880000"},
    ]
    body = {"director": "张副区长", "member_units": units, "office": "区政府教育督导室", "chief_inspector": "刘总督学"}
    with registry.client(token()) as client:
        constituted = client.put("/v1/committees/500120", json=body)
        assert constituted.status_code == 200, constituted.text
        assert [u["contact_phone"] for u in constituted.json()["members"]["member_units"]] == [
            "023-41401111",
            "13688880000",
        ]
        assert client.put("/v1/committees/500120", json=body).json()["version"] == 1  # resealed the same: no change

        def phones() -> list[str] | None:
            response = client.get("/v1/committees/500120")
            return response.status_code == 200 and [
                u["contact_phone"] for u in response.json()["members"]["member_units"]
            ]

        assert eventually(phones, what="the committee read model") == ["023-41401111", "13688880000"]
        # The request hash is made without the phones and folds in their sealed form, so no guess can be checked.
        wire = asyncio.run(recorded_on_the_wire(settings.nats_url, "Committee.Constituted"))
        plain = hashlib.sha256(
            f"PUT /v1/committees/500120\n{CommitteeWrite(**body).model_dump_json()}".encode()
        ).hexdigest()
        sealed = [u["contact_phone"] for u in wire["data"]["members"]["member_units"]]
        guess = Envelope.from_dict(wire["envelope"] | {"request_hash": plain}).also_hashing(sealed).request_hash
        assert guess != wire["envelope"]["request_hash"]
        assert "13688880000" not in database_text(settings)
        assert erase(client, "committee:500120:区财政局").status_code == 201
        assert phones() == ["023-41401111", ERASED]  # the read model was not touched: its copy is sealed too
        graph = client.post(
            "/graphql", json={"query": '{ committee(jurisdiction: "500120") { memberUnits { contactPhone } } }'}
        )
        assert [u["contactPhone"] for u in graph.json()["data"]["committee"]["memberUnits"]] == ["023-41401111", ERASED]


def test_bad_personal_input_is_named_and_changes_nothing(registry, token):
    with registry.client(token()) as client:
        inspector_id = nominate(client)
        version = client.get(f"/v1/inspectors/{inspector_id}/personal").json()["version"]
        for body, field, rule in (
            ({"id_number": "500227199003071234"}, "id_number", "id_number_checksum"),
            ({"id_number": "500227199002301236"}, "id_number", "id_number_birth_date"),
            ({"id_number": "5002271990"}, "id_number", "id_number_format"),
            ({"mobile": "12345"}, "mobile", "mobile_format"),
        ):
            refused = client.put(f"/v1/inspectors/{inspector_id}/personal", json=body)
            assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"
            assert (refused.json()["field"], refused.json()["rule"]) == (field, rule), refused.text
        assert client.put(f"/v1/inspectors/{inspector_id}/personal", json={"phone": MOBILE}).status_code == 422
        assert client.get(f"/v1/inspectors/{inspector_id}/personal").json()["version"] == version
        missing = erase(client, "inspector:00000000-0000-0000-0000-000000000000")
        assert (missing.status_code, missing.json()["field"], missing.json()["rule"]) == (
            404,
            "person",
            "nothing_to_erase",
        )
        assert erase(client, f"inspector:{inspector_id}", reason="").status_code == 422
    with registry.client(token()) as client:
        person = record(client, inspector_id, {"mobile": MOBILE})["person"]
    with registry.client(token(jur="500101")) as elsewhere:
        assert erase(elsewhere, person).status_code == 403
    with registry.client(token()) as client:
        assert client.get(f"/v1/inspectors/{inspector_id}/personal").json()["mobile"] == MOBILE
