"""A process that has started sets its heap aside from the collector's passes (decision 055)."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit


def test_once_started_what_the_process_built_is_frozen_and_young_collections_come_less_often():
    # in a process of its own: freezing this one would keep every later test's cycles for good
    shown = subprocess.run(
        [
            sys.executable,
            "-c",
            "import gc; import dudao.service; from dudao import heap; before = gc.get_freeze_count(); heap.started();"
            " print(before, gc.get_freeze_count() > 10_000, gc.get_threshold()[0] == heap.YOUNG)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert shown.stdout.split() == ["0", "True", "True"]
