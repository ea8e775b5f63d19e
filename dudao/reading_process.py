"""The process in which a rebuild reads its stream (`dudao.stream_reading`, decision 058): `python -m
dudao.reading_process`, started by the rebuild.

It comes up before the rebuild's first batch can be read, so what it imports is time the rebuild waits: nats-py imports
aiohttp for its websocket transport, about a fifth of a second, which a `nats://` or `tls://` URL never uses. Here it
is left out unless the URL is a websocket's."""

from __future__ import annotations

import importlib
import os
import sys


def main() -> None:
    if not os.environ.get("NATS_URL", "").lower().startswith("ws"):
        sys.modules.setdefault("aiohttp", None)  # nats-py then goes without its websocket transport
    importlib.import_module("dudao.stream_reading").main()


if __name__ == "__main__":
    main()
