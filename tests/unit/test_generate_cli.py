"""`dudao generate` where the event stores cannot be reached: words that say what to do, not a traceback. No
server: the database URL names a port nothing listens on."""

from __future__ import annotations

import pytest

from dudao_cli.main import main
from dudao_cli.servers import free_port

pytestmark = pytest.mark.unit


def test_generate_without_a_database_says_where_it_looked_and_what_to_do_without_the_password(monkeypatch, tmp_path):
    port = free_port()
    monkeypatch.setenv("DUDAO_HOME", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", f"postgresql://dudao:s3cret-pw@127.0.0.1:{port}/dudao")
    with pytest.raises(SystemExit) as stopped:
        main(["generate", "province", "500000", "--schools", "5"])
    said = str(stopped.value.code)
    assert said.startswith(f"dudao generate: the event stores at 127.0.0.1:{port} cannot be reached")
    assert "set DATABASE_URL" in said and "run it again" in said
    assert "s3cret-pw" not in said
