"""Ports picked before their servers listen must differ, even when the kernel offers the same one twice."""

from __future__ import annotations

from dudao_cli import servers


class _Offers:
    """A socket whose kernel offers the ports of `offered`, one per bind."""

    def __init__(self, offered: list[int]):
        self.offered = offered

    def __call__(self, *args):
        offered = self.offered

        class _Socket:
            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return False

            def bind(self, address):
                self.port = offered.pop(0)

            def getsockname(self):
                return ("127.0.0.1", self.port)

        return _Socket()


def test_a_port_offered_again_is_not_handed_out_twice(monkeypatch):
    monkeypatch.setattr(servers, "_HANDED_OUT", set())
    monkeypatch.setattr(servers.socket, "socket", _Offers([44311, 44311, 44311, 44312]))
    assert [servers.free_port(), servers.free_port()] == [44311, 44312]
