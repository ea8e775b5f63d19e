"""A long-running process's heap once it has started (decision 055): what it built to start is set aside from the
cyclic garbage collector's passes, and young objects are looked over less often.

A service, its workers or a rebuild imports and builds some hundreds of thousands of objects (FastAPI, strawberry,
eventsourcing, OpenTelemetry, the service's own) that live as long as the process. CPython's collector looks over all
of them in every full pass, and a process taking in a backlog allocates enough to start one every few seconds: a
directory rebuild spent 0.6 s of its 4 s of CPU collecting, almost all of it over objects that cannot be garbage.
`gc.freeze()` moves what is alive at the start into a generation no pass looks at (an object there is still freed as
soon as nothing refers to it; only a cycle among them would stay). Young collections then come every 10,000 new
objects rather than 700: each is cheap, but a batch of 500 events makes a few thousand."""

from __future__ import annotations

import gc

YOUNG = 10_000  # new objects between young collections (CPython's default: 700)


def started() -> None:
    """Call once a process has built what it lives with, before its work begins: by the commands that start a
    service, its workers or a rebuild, not by a library function (a test process building service after service would
    keep each one's cycles for good)."""
    gc.collect()  # what is garbage now is freed, not kept for good
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG, older, oldest)
