"""`make bench-province` in small (issue 24): the benchmark runs end to end on a generated province of 1,000 schools
and ends with one JSON line holding exactly the keys the issue names, so neither it nor the generator rots."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KEYS = {
    "events",
    "http_over_raw",
    "relay_events_per_s",
    "replay_events_per_s",
    "dashboard_qps_50",
    "dashboard_p99_ms_50",
    "dashboard_p50_ms_1",
    "rollup_p99_ms",
    "recompute_ms",
    "catch_up_s",
}

pytestmark = pytest.mark.e2e


def test_the_province_benchmark_runs_on_a_small_province_and_ends_with_its_figures():
    run = subprocess.run(
        [sys.executable, "bench/province.py", "--province", "500000", "--schools", "1000", "--months", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    assert set(figures) == KEYS
    assert figures["rollup_p99_ms"] > 0 and figures["recompute_ms"] > 0
    assert figures["events"] > 1000 and figures["relay_events_per_s"] > 0 and figures["replay_events_per_s"] > 0
    assert "could not be applied" not in run.stdout  # every generated event fits the read models
