"""The event store: one eventsourcing Application per service on PostgreSQL, one schema per service."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from typing import Any, TypeVar
from uuid import UUID

import psycopg
from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent, project_aggregate
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    JSONTranscoder,
    OperationalError,
    ProcessRecorder,
    ProgrammingError,
    RecordConflictError,
    Tracking,
    Transcoding,
)
from psycopg.sql import SQL, Identifier

from dudao import chain, metrics, profiles
from dudao import jurisdiction as divisions
from dudao.blobs import BlobStore, store_from_settings
from dudao.commands import Caller
from dudao.config import Settings
from dudao.errors import DATABASE_DOWN, RETRY_AFTER_S, Conflict, NotFound, PreconditionFailed
from dudao.events import Envelope
from dudao.personal import KeyRing, MemoryKeys, PersonKeys, SealedAsDict

A = TypeVar("A", bound=Aggregate)
CONCURRENT_ATTEMPTS = 3  # tries of a change without If-Match that another writer keeps overtaking


def ensure_schema(settings: Settings, schema: str) -> None:
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')


class DateAsISO(Transcoding):
    """Calendar dates (terms, deadlines) in event state, as ISO strings."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class _Queued:
    """A save waiting for the writer (group commit, decision 042): its recordings once a group wrote it, or `alone`
    once a group failed and it must be written by itself."""

    __slots__ = ("processing_event", "recordings", "alone")

    def __init__(self, processing_event: ProcessingEvent[UUID]):
        self.processing_event = processing_event
        self.recordings: list[Any] | None = None
        self.alone = False


class ServiceApplication(Application[UUID]):
    """A service's write side. Every save names the envelope its events carry.

    The envelope is stamped into each event's own state (the stored events table has no
    metadata columns), so it is persisted with the event and travels with it on NATS.
    """

    service: str = ""

    def __init__(self, settings: Settings):
        if not self.service:
            raise ProgrammingError(f"{type(self).__name__} must name its service")
        self.settings = settings
        self._writer = threading.Lock()
        self._queue: list[_Queued] = []  # saves waiting for the writer, taken together by the next to hold it
        self._grouped: threading.Lock | None = None if settings.event_store == "memory" else threading.Lock()
        self._down_until = 0.0  # while PostgreSQL is away, writes fail at once until then (see _record)
        if settings.event_store == "memory":  # the fast tier: the same application, its adapters in memory
            super().__init__(env=settings.eventsourcing_env(self.service))
            self.keys: PersonKeys | MemoryKeys = MemoryKeys(settings.jurisdiction)
            self.profiles: ProfileCopy | MemoryProfiles = MemoryProfiles()
            return
        if settings.create_tables:  # else the owner has (dudao.roles.provision)
            ensure_schema(settings, self.service)
        super().__init__(env=settings.eventsourcing_env(self.service))
        # How long a write waits for a connection, per attempt (eventsourcing takes whole seconds and tries 10 times).
        self.recorder.datastore.pool.timeout = settings.pg_write_wait_s  # type: ignore[attr-defined]
        if settings.create_tables:  # as the owner: each event is linked into the hash chain as it is stored
            chain.install(settings.database_url, self.service, self.recorder.events_table_name)  # type: ignore[attr-defined]
        # The keys that seal personal data: deleted when a person is erased (decision 019).
        ring = KeyRing(settings.kek_dir(self.service))  # the KEKs that wrap them, outside the database (decision 026)
        self.keys = PersonKeys(self.recorder.datastore, self.service, settings.jurisdiction, ring)  # type: ignore[attr-defined]
        self.keys.ensure()
        self.profiles = ProfileCopy(self.recorder.datastore)  # type: ignore[attr-defined]

    @functools.cached_property
    def blobs(self) -> BlobStore:
        """Where evidence files go (DUDAO_BLOB_URL); events keep only their digests."""
        return store_from_settings(self.settings)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())
        transcoder.register(SealedAsDict())

    def construct_recorder(self) -> ProcessRecorder:
        # A process recorder: reactions commit their new events together with the upstream position.
        return self.factory.process_recorder()

    def _record(self, processing_event: ProcessingEvent[UUID]):  # type: ignore[override]
        envelope = processing_event.saved_kwargs.pop("envelope", None)
        processing_event.tracking = processing_event.saved_kwargs.pop("tracking", None)
        if not isinstance(envelope, Envelope):
            raise ProgrammingError("save() needs envelope=Envelope(...): every event says who, where and why")
        for event in processing_event.events:
            object.__setattr__(event, "envelope", envelope.as_dict())
        # The event table's lock serialises every writer anyway. Queueing this process's writers
        # here first keeps its threads from convoying on that lock (measured: +30% HTTP commands/s).
        self._refuse_while_down()
        if processing_event.tracking is not None or processing_event.saved_kwargs or self._grouped is None:
            with self._writer:
                recordings = self._record_alone(processing_event)
        else:
            recordings = self._record_grouped(processing_event)
        for event in processing_event.events:
            metrics.EVENTS_APPENDED.add(1, {"service": self.service, "event": type(event).__qualname__})
        return recordings

    def _record_grouped(self, processing_event: ProcessingEvent[UUID]):
        """Group commit (decision 042): the saves that queued while another was being written go in together, in
        one transaction, by whichever of their threads takes the writer next; each thread gets its own recordings.
        If the group's transaction fails, nothing of it was written and each save is written alone, as if never
        grouped, so a conflict or a refusal reaches exactly the save it belongs to."""
        mine = _Queued(processing_event)
        with self._grouped:
            self._queue.append(mine)
        with self._writer:
            if mine.recordings is not None:
                return mine.recordings  # written in a group another thread wrote
            if not mine.alone:
                with self._grouped:
                    group, self._queue = self._queue, []
                if len(group) > 1 and self._record_group(group):
                    return mine.recordings
            return self._record_alone(processing_event)

    def _record_group(self, group: list[_Queued]) -> bool:
        together: ProcessingEvent[UUID] = ProcessingEvent()
        for queued in group:
            together.events += queued.processing_event.events
            together.aggregates.update(queued.processing_event.aggregates)
        try:
            recordings = self._record_alone(together)
        except Exception:
            for queued in group:
                queued.alone = True
            return False
        at = 0
        for queued in group:
            count = len(queued.processing_event.events)
            queued.recordings, at = recordings[at : at + count], at + count
        return True

    def _record_alone(self, processing_event: ProcessingEvent[UUID]):
        """Write one save (or one group) under the writer; PostgreSQL away makes the next writes fail at once."""
        self._refuse_while_down()  # the write queued ahead of this one just found the database away
        try:
            return super()._record(processing_event)
        except DATABASE_DOWN:
            self._down_until = time.monotonic() + RETRY_AFTER_S
            raise

    def _refuse_while_down(self) -> None:
        """A write just found PostgreSQL away: the next ones for a few seconds fail at once instead of each waiting
        its own attempts out (they would queue behind one another on the writer lock), then one tries again."""
        if time.monotonic() < self._down_until:
            raise OperationalError("the database was unavailable a moment ago")

    def save_new(self, aggregate: A, envelope: Envelope) -> A:
        """Save a newly created aggregate; a retry with the same idempotency key returns the first one."""
        try:
            self.save(aggregate, envelope=envelope)
            return aggregate
        except RecordConflictError:
            first = next(iter(self.events.get(aggregate.id, lte=1)))
            earlier = Envelope.from_dict(getattr(first, "envelope", {}))
            if not envelope.idempotency_key or earlier.request_hash != envelope.request_hash:
                raise Conflict(
                    "this Idempotency-Key was already used for a different request; use a new key",
                    field="Idempotency-Key",
                    rule="idempotency_key_reused",
                ) from None
            return self.repository.get(aggregate.id)

    @staticmethod
    def _already_done(envelopes: list[dict[str, str]], envelope: Envelope) -> bool:
        """Whether this caller's idempotency key already changed the aggregate (then the retry changes nothing),
        from the envelopes of the events the command's one load read."""
        for stamped in envelopes:
            earlier = Envelope.from_dict(stamped)
            if earlier.idempotency_key == envelope.idempotency_key and earlier.actor == envelope.actor:
                if earlier.request_hash != envelope.request_hash:
                    raise Conflict(
                        "this Idempotency-Key was already used for a different request; use a new key",
                        field="Idempotency-Key",
                        rule="idempotency_key_reused",
                    )
                return True
        return False

    def get(self, aggregate_id: UUID, kind: type[A], *, envelopes: list[dict[str, str]] | None = None) -> A:
        """The aggregate of this kind (else 404); `envelopes` collects its events' envelopes from the same read."""

        def noting(events: Iterable[Any]) -> Iterator[Any]:
            for event in events:
                envelopes.append(getattr(event, "envelope", {}))  # type: ignore[union-attr]
                yield event

        def project(aggregate: Any, events: Iterable[Any]) -> Any:
            return project_aggregate(aggregate, events if envelopes is None else noting(events))

        try:
            aggregate = self.repository.get(aggregate_id, projector_func=project)
        except AggregateNotFoundError:
            raise NotFound(f"no {kind.__name__.lower()} with id {aggregate_id}", field="id") from None
        if not isinstance(aggregate, kind):
            raise NotFound(f"no {kind.__name__.lower()} with id {aggregate_id}", field="id")
        return aggregate

    def has_tracked(self, tracking: Tracking) -> bool:
        """Whether this exact upstream position was already processed (tracking rows are one per position)."""
        if self.settings.event_store == "memory":
            return self.recorder.has_tracking_id(tracking.application_name, tracking.notification_id)
        recorder = self.recorder
        statement = SQL("SELECT 1 FROM {0}.{1} WHERE application_name = %s AND notification_id = %s").format(
            Identifier(recorder.datastore.schema), Identifier(recorder.tracking_table_name)
        )
        with recorder.datastore.get_connection() as conn, conn.cursor() as cursor:
            cursor.execute(statement, (tracking.application_name, tracking.notification_id))
            return cursor.fetchone() is not None

    def profile_at(self, code: str, *keys: str) -> profiles.Effective:
        """The policy profile in force at `code`, from this service's copy of the registry's profiles, setting every
        key in `keys` (else a 409 naming the one it lacks)."""
        path = [*divisions.ancestors(code), code]
        return profiles.required(profiles.effective(code, self.profiles.along(path)), *keys)

    def exists(self, aggregate_id: UUID) -> bool:
        return bool(self.recorder.select_events(aggregate_id, limit=1))

    def change(
        self,
        aggregate_id: UUID,
        kind: type[A],
        expected_version: int | None,
        envelope: Envelope,
        command: Callable[[A], Any],
        authorize: Callable[[A], Any] | None = None,
    ) -> A:
        """Load, authorise, check `If-Match`, apply `command`, save.

        A concurrent writer makes it a 409 when the caller named the version it changes (`If-Match`). Without one,
        the command is tried again on what the other writer left, a few times, with every check and rule again: the
        caller asked for the change, not for a version of the aggregate. A command that creates other aggregates (an
        escalation opening an interview) returns them as a list; they are saved in the same transaction.
        """
        attempt = 1
        while True:
            envelopes: list[dict[str, str]] = []  # read with the aggregate: a retry is found without a second read
            aggregate = self.get(aggregate_id, kind, envelopes=envelopes)
            if authorize is not None:
                authorize(aggregate)
            if envelope.idempotency_key and self._already_done(envelopes, envelope):
                return aggregate
            if expected_version is not None and aggregate.version != expected_version:
                raise PreconditionFailed(
                    f"version {expected_version} is stale; the current version is {aggregate.version}",
                    field="If-Match",
                    current_version=aggregate.version,
                )
            created = command(aggregate)
            others = [a for a in created if isinstance(a, Aggregate)] if isinstance(created, list) else []
            try:
                self.save_checked(aggregate, *others, envelope=envelope)
                return aggregate
            except Conflict:
                if expected_version is not None or attempt == CONCURRENT_ATTEMPTS:
                    raise
                attempt += 1

    def act(
        self,
        aggregate_id: UUID,
        kind: type[A],
        caller: Caller,
        command: Callable[[A], Any],
        authorize: Callable[[A], Any] | None = None,
    ) -> A:
        """`change` on behalf of a caller: its envelope, and its `If-Match` version."""
        return self.change(aggregate_id, kind, caller.expected_version, caller.envelope, command, authorize)

    def save_checked(self, *aggregates: Aggregate, envelope: Envelope) -> None:
        """Save in one transaction; if another writer got to any of them first, a 409 (never a half-save)."""
        try:
            self.save(*aggregates, envelope=envelope)
        except RecordConflictError:
            raise Conflict("changed by someone else meanwhile; reload and retry", rule="concurrent_update") from None


class ProfileCopy:
    """The service's copy of the registry's policy profiles, in `<schema>.profile_copy` (its projection keeps it)."""

    def __init__(self, datastore: Any):
        self.datastore = datastore

    def along(self, path: list[str]) -> dict[str, tuple[int, dict[str, Any]]]:
        """Each place of `path` that has a profile: its version and own values."""
        statement = SQL(
            "SELECT jurisdiction, version, values FROM {0}.profile_copy WHERE jurisdiction = ANY(%s)"
        ).format(Identifier(self.datastore.schema))
        with self.datastore.get_connection() as conn, conn.cursor() as cursor:
            cursor.execute(statement, (path,))
            return {r["jurisdiction"]: (r["version"], r["values"]) for r in cursor.fetchall()}


class MemoryProfiles:
    """The profile copy of an application on the in-memory recorders: what the test keeps in it."""

    def __init__(self) -> None:
        self.kept: dict[str, tuple[int, dict[str, Any]]] = {}

    def keep(self, code: str, version: int, values: dict[str, Any]) -> None:
        self.kept[code] = (version, values)

    def along(self, path: list[str]) -> dict[str, tuple[int, dict[str, Any]]]:
        return {code: self.kept[code] for code in path if code in self.kept}


def event_name(topic: str) -> tuple[str, str]:
    """`services.registry.domain:School.Registered` -> ("School", "Registered")."""
    qualname = topic.split(":", 1)[-1]
    aggregate, _, event = qualname.rpartition(".")
    return aggregate.rpartition(".")[-1] or aggregate, event
