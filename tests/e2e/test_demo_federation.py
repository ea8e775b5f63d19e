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
    county_a, county_b, province = answer["c530113"], answer["c530114"], answer["c530000"]
    assert county_a["jurisdiction"] == {"name": "东川区"} and county_a["schools"] == 36 and county_a["inspectors"] == 12
    assert county_b["schools"] == 36 and county_b["inspectors"] == 12
    assert province["schools"] == 36 * 3  # its own demo schools and both counties'
    assert "stopped." in done.stdout
