"""The dev runner and the command line as an operator meets them (issue 22)."""

from __future__ import annotations

import io
import os
import subprocess
import sys

from dudao import progress
from dudao.config import Settings


def test_every_command_reaches_the_servers_on_the_ports_dudao_up_was_given(monkeypatch):
    for name in ("DATABASE_URL", "NATS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DUDAO_PG_PORT", "56001")
    monkeypatch.setenv("DUDAO_NATS_PORT", "15001")
    settings = Settings.from_env()
    assert (
        settings.database_url == "postgresql://postgres@127.0.0.1:56001/dudao"
        and settings.nats_url == "nats://127.0.0.1:15001"
    )
    assert settings.eventsourcing_env("registry")["POSTGRES_PORT"] == "56001"  # `dudao replay` and the rest
    monkeypatch.setenv("DATABASE_URL", "postgresql://dudao@db.example:5432/dudao")
    assert Settings.from_env().database_url == "postgresql://dudao@db.example:5432/dudao"  # an explicit URL wins


def test_dudao_token_outside_an_instances_home_refuses_and_says_where_it_looked(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUDAO_")} | {
        "DUDAO_HOME": str(tmp_path / "nowhere")
    }
    run = subprocess.run(
        [sys.executable, "-m", "dudao_cli", "token", "--role", "admin", "--jur", "500120"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode != 0 and run.stdout == ""
    assert f"no signing key at {tmp_path / 'nowhere' / 'dev-key.pem'}" in run.stderr and "nothing issued" in run.stderr
    assert not (tmp_path / "nowhere").exists()  # no key made that nobody would accept
    made = subprocess.run(
        [sys.executable, "-m", "dudao_cli", "token", "--create-key", "--role", "admin", "--jur", "500120"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (
        made.returncode == 0 and made.stdout.startswith("eyJ") and (tmp_path / "nowhere" / "dev-key.pem").is_file()
    )  # compose's dev-key


def test_progress_on_a_log_is_a_line_every_few_seconds_not_one_per_item(monkeypatch):
    clock = iter(float(t) for t in range(0, 10_000))
    monkeypatch.setattr(progress.time, "perf_counter", lambda: next(clock))  # one second per look at the clock
    out = io.StringIO()  # not a terminal
    shown = progress.Progress("demo data", 139, out, every_s=5)
    for done in range(1, 140):
        shown.show(done)
    shown.finish(unit="steps")
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue() and 25 <= len(lines) <= 30, (
        lines
    )  # 139 updates at one per second: about one line in 5
    assert lines[-1].startswith("demo data") and "139 steps in" in lines[-1]
