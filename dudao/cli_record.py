"""`dudao replay` and `dudao audit`: rebuild read models or a stream, and check the record (decisions 016, 017)."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from dudao import bus
from dudao.config import Settings

if TYPE_CHECKING:
    from dudao.service import ServiceParts

PartsOf = Callable[[str], "ServiceParts"]


def add_commands(sub: argparse._SubParsersAction, *, services: tuple[str, ...], parts_of: PartsOf) -> None:
    """The `replay` and `audit` subcommands, for `services` (whose parts `parts_of` finds by name)."""
    p = sub.add_parser("replay", help="rebuild a service's read models beside the live ones and switch, or refill its stream")
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
                    await replay.refill_stream(settings, application, js)
                finally:
                    application.close()
                return
            rebuilt = await replay.rebuild(settings, parts, js, args.projection or None)
            print(f"{args.service}: {len(rebuilt)} read model(s) rebuilt from {sum(r.events for r in rebuilt):,} events"
                  f"{'; ' + str(sum(r.failed for r in rebuilt)) + ' events could not be applied' if any(r.failed for r in rebuilt) else ''}")
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
            raise SystemExit(f"--expect takes NOTIFICATION=LINK as `dudao audit heads` prints them, not {item!r}") from None
    verdicts = [chain.verify(settings.database_url, s, f"{s}_events", expect=expect) for s in (args.service or services)]
    if not all(v.intact for v in verdicts):
        raise SystemExit(1)


def cmd_audit_heads(args: argparse.Namespace, *, services: tuple[str, ...]) -> None:
    """On an upper instance: the head of each lower instance's hash chain, as its events brought them."""
    from dudao import chain

    settings = Settings.from_env()

    async def run() -> list[tuple[str, int, str]]:
        nc = await bus.connect(settings.nats_url, "dudao-audit-heads")
        try:
            return [h for s in (args.service or services) for h in await chain.heads(nc.jetstream(), s, settings.jurisdiction)]
        finally:
            await nc.close()

    for origin, number, link in asyncio.run(run()):
        print(f"{origin:<24} {number}={link}")
