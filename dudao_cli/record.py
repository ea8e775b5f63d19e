"""`dudao replay`, `dudao audit` and `dudao dead-letters`: rebuild read models or a stream, check the record
(decisions 016, 017), and see and resolve the events a consumer could not apply."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from dudao import bus
from dudao.config import Settings

if TYPE_CHECKING:
    from dudao.parts import ServiceParts

PartsOf = Callable[[str], "ServiceParts"]


def add_commands(sub: argparse._SubParsersAction, *, services: tuple[str, ...], parts_of: PartsOf) -> None:
    """The `replay` and `audit` subcommands, for `services` (whose parts `parts_of` finds by name)."""
    p = sub.add_parser(
        "replay", help="rebuild a service's read models beside the live ones and switch, or refill its stream"
    )
    p.add_argument("service", help=" | ".join(services))
    p.add_argument("--projection", action="append", help="only this read model (repeatable); default: all of them")
    p.add_argument("--stream", action="store_true", help="refill the service's own stream from its event store")
    p.set_defaults(func=partial(cmd_replay, parts_of=parts_of))

    p = sub.add_parser("audit", help="check the record")
    audit = p.add_subparsers(dest="audit_command", required=True)
    p = audit.add_parser("verify", help="recompute each service's hash chain and name the first broken link")
    p.add_argument("service", nargs="*", help=" | ".join(services) + " (default: all)")
    p.add_argument("--expect", action="append", help="NOTIFICATION=LINK: a head the upper instance holds (repeatable)")
    p.set_defaults(func=partial(cmd_audit_verify, services=services))
    p = audit.add_parser("heads", help="on an upper instance: the head of each lower instance's chain, as it arrived")
    p.add_argument("service", nargs="*", help=" | ".join(services) + " (default: all)")
    p.set_defaults(func=partial(cmd_audit_heads, services=services))

    p = sub.add_parser("dead-letters", help="events a read model or reaction could not apply, until resolved")
    letters = p.add_subparsers(dest="letters_command", required=True)
    p = letters.add_parser("list", help="the unresolved ones (with --all, the resolved ones too)")
    p.add_argument("service", nargs="*", help=" | ".join(services) + " (default: all)")
    p.add_argument("--all", action="store_true")
    p.set_defaults(func=partial(cmd_dead_letters_list, services=services))
    p = letters.add_parser("resolve", help="mark dead letters resolved, saying how (after a fix and `dudao replay`)")
    p.add_argument("service", choices=services)
    p.add_argument("id", nargs="+", type=int)
    p.add_argument("--note", required=True, help="what was done about them, e.g. 'fixed in 1.4; replayed'")
    p.set_defaults(func=cmd_dead_letters_resolve)


def cmd_replay(args: argparse.Namespace, *, parts_of: PartsOf) -> None:
    """Rebuild a service's read models beside the live ones and switch (or, with --stream, refill its stream)."""
    from dudao import replay

    settings = Settings.from_env()
    parts = parts_of(args.service)

    async def run() -> None:
        nc = await bus.connect(settings.nats_url, f"dudao-replay-{args.service}")
        try:
            js = nc.jetstream(timeout=10)
            if args.stream:
                application = await asyncio.to_thread(parts.application, settings)
                try:
                    await replay.refill_stream(settings, parts, application, js)
                finally:
                    application.close()
                return
            rebuilt = await replay.rebuild(settings, parts, js, args.projection or None)
            print(
                f"{args.service}: {len(rebuilt)} read model(s) rebuilt from {sum(r.events for r in rebuilt):,} events"
                f"{'; ' + str(sum(r.failed for r in rebuilt)) + ' events could not be applied' if any(r.failed for r in rebuilt) else ''}"
            )
        finally:
            await nc.close()

    asyncio.run(run())


def cmd_audit_verify(args: argparse.Namespace, *, services: tuple[str, ...]) -> None:
    """Recompute each service's hash chain; exit 1 naming the first broken link."""
    from dudao import chain

    settings = Settings.from_env()
    expect = {}
    for item in args.expect or []:
        number, _, link = item.partition("=")
        try:
            expect[int(number)] = bytes.fromhex(link)
        except ValueError:
            raise SystemExit(
                f"--expect takes NOTIFICATION=LINK as `dudao audit heads` prints them, not {item!r}"
            ) from None
    verdicts = [
        chain.verify(settings.database_url, s, f"{s}_events", expect=expect) for s in (args.service or services)
    ]
    if not all(v.intact for v in verdicts):
        raise SystemExit(1)


def cmd_audit_heads(args: argparse.Namespace, *, services: tuple[str, ...]) -> None:
    """On an upper instance: the head of each lower instance's hash chain, as its events brought them."""
    from dudao import chain

    settings = Settings.from_env()

    async def run() -> list[tuple[str, int, str]]:
        nc = await bus.connect(settings.nats_url, "dudao-audit-heads")
        try:
            return [
                h
                for s in (args.service or services)
                for h in await chain.heads(nc.jetstream(), s, settings.jurisdiction)
            ]
        finally:
            await nc.close()

    for origin, number, link in asyncio.run(run()):
        print(f"{origin:<24} {number}={link}")


def cmd_dead_letters_list(args: argparse.Namespace, *, services: tuple[str, ...]) -> None:
    """Print each service's dead letters: id, when, consumer, subject, error (and how it was resolved)."""
    import psycopg

    settings = Settings.from_env()
    with psycopg.connect(settings.database_url) as conn:
        for service in args.service or services:
            rows = conn.execute(
                f'SELECT id, created_at, consumer, subject, error, resolution FROM "{service}".dead_letters'
                f"{'' if args.all else ' WHERE resolved_at IS NULL'} ORDER BY id"
            ).fetchall()
            for id_, at, consumer, subject, error, resolution in rows:
                print(
                    f"{service} {id_} {at:%Y-%m-%d %H:%M} {consumer} {subject}: {error[:200]}"
                    + (f"  [resolved: {resolution}]" if resolution else "")
                )
            if not rows:
                print(f"{service}: no {'' if args.all else 'unresolved '}dead letters")


def cmd_dead_letters_resolve(args: argparse.Namespace) -> None:
    """Mark dead letters resolved with a note; /readyz is ok again once none is left unresolved."""
    import psycopg

    settings = Settings.from_env()
    with psycopg.connect(settings.database_url) as conn:
        done = conn.execute(
            f'UPDATE "{args.service}".dead_letters SET resolved_at = now(), resolution = %s'
            " WHERE id = ANY(%s) AND resolved_at IS NULL RETURNING id",
            (args.note, args.id),
        ).fetchall()
    missing = sorted(set(args.id) - {r[0] for r in done})
    print(f"{args.service}: {len(done)} dead letter(s) resolved")
    if missing:
        raise SystemExit(
            f"not found or already resolved in {args.service}: {', '.join(map(str, missing))}; see `dudao dead-letters list --all`"
        )
