"""The wheel an image installs (issue 22): everything the code reads beside itself goes with it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]

# Run in the fresh venv, from a directory outside the checkout: what the installed wheel finds.
CHECK = """
import json, dudao, gateway
from pathlib import Path
from dudao import jurisdiction
from services.monitoring.application import SHIPPED as FRAMEWORKS
from services.registry.application.policy import shipped_profiles
print(json.dumps({
    "from": dudao.__file__,
    "frameworks": sorted(p.name for p in FRAMEWORKS.glob("*.json")),
    "profiles": sorted(p["jurisdiction"] for p in shipped_profiles()),
    "divisions": len(jurisdiction.all_jurisdictions()),
    "changes": jurisdiction.retired("220381") is not None,
    "source": (Path(jurisdiction.__file__).with_name("data") / "jurisdictions.source.json").is_file(),
    "schema": (Path(gateway.__file__).with_name("schema.graphql")).is_file(),
}))
"""


def test_the_wheel_installed_in_a_fresh_venv_carries_the_frameworks_profiles_and_divisions(tmp_path):
    source = tmp_path / "src"
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", str(tmp_path / "dist"), str(source)],
        check=True,
        capture_output=True,
    )
    [wheel] = (tmp_path / "dist").glob("dudao-*.whl")

    fresh = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(fresh)], check=True)
    python = fresh / "bin" / "python"
    subprocess.run([*pip, "--python", str(python), "install", "--no-deps", str(wheel)], check=True, capture_output=True)
    # The dependencies come from the test's own environment, by path (its editable install of the checkout is not
    # read: a path added by a .pth line is not a site directory, so its own .pth files are not run).
    fresh_site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(fresh_site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    found = subprocess.run([python, "-c", CHECK], cwd=tmp_path, capture_output=True, text=True)
    assert found.returncode == 0, found.stderr
    answer = json.loads(found.stdout)
    assert answer["from"].startswith(fresh_site), answer["from"]  # the installed copy, not the checkout
    assert answer["frameworks"] == sorted(p.name for p in (ROOT / "services/monitoring/frameworks").glob("*.json"))
    assert answer["profiles"] == sorted(p.stem for p in (ROOT / "services/registry/policy_profiles").glob("*.json"))
    assert answer["divisions"] > 3000 and answer["changes"] and answer["source"] and answer["schema"], answer
