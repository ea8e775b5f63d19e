"""`make demo-federation` as a user meets it: a province and two counties, each a real `dudao up`, linked."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.e2e


def test_the_province_answers_for_its_linked_counties(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "dudao.federation_demo", "--home", str(tmp_path), "--no-wait"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert done.stdout.count("now sourced into") == 8  # two counties × four services
    answer = json.loads(done.stdout.split("answers:\n", 1)[1].split("\n\nadmin token", 1)[0])["data"]
    # The demo exits 0 only once the province answers for each county what the county answers for itself.
    for code in ("530113", "530114"):
        board = answer[f"c{code}"]
        assert board["staffing"]["schools"] == 36 and board["staffing"]["inspectors"] == 12, board
        assert {"framework": "balanced_development", "jurisdiction": code, "passes": False} in board["latestVerdicts"]
    province = answer["c530000"]
    assert province["staffing"]["schools"] == 36 * 3 and province["routineCoverage"]["schools"] == 20 * 3  # its own and both counties'
    assert {v["jurisdiction"] for v in province["latestVerdicts"]} == {"530000", "530113", "530114"}
    assert "stopped." in done.stdout
