"""`dudao import`: send an office's spreadsheet to the registry (schools, inspectors) or to monitoring (submissions),
which check every row and import all of it or nothing; print what they say, in the office's words."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

import httpx

from dudao import auth, jurisdiction
from dudao.config import Settings
from dudao.errors import InvalidInput, Unauthorized, Unavailable
from dudao.sheets import read_rows

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def common_jurisdiction(codes: Iterable[str], fallback: str) -> str:
    """The smallest jurisdiction containing every code, for a token that may write all the rows."""
    codes = list(dict.fromkeys(codes))
    if not codes:
        return fallback
    candidates = [codes[0], *jurisdiction.ancestors(codes[0])]  # nearest first, ending with the whole country
    return next(c for c in candidates if all(jurisdiction.contains(c, j) for j in codes))


def send_list(
    kind: str,
    path: str | Path,
    *,
    dry_run: bool = False,
    token: str | None = None,
    settings: Settings | None = None,
    out: TextIO | None = None,
) -> int:
    """`dudao import KIND FILE`: send the list to the registry, which checks every row and imports all or nothing
    (with --dry-run, only checks); print what it says; the exit code."""
    settings, out = settings or Settings.from_env(), out or sys.stdout
    file = Path(path)
    rows = read_rows(file)  # a file that cannot be read is said here, before anything is sent
    if not rows:
        print(f"{kind}: {file.name} 没有数据行 — has no data rows; nothing to import", file=out)
        return 0
    if token is None:  # a token for the smallest place holding every row's code (the registry still checks each row)
        codes = [c for r in rows if jurisdiction.is_known(c := r.cells.get("区县代码", ""))]
        token = auth.issue_dev_token(
            settings, sub="importer", roles=["admin"], jur=common_jurisdiction(codes, settings.jurisdiction)
        )
    media = "text/csv" if file.suffix.lower() == ".csv" else XLSX
    base_url = settings.service_url("registry")
    print(
        f"{kind}: sending {file.name} ({len(rows)} rows) to the registry to be {'checked' if dry_run else 'checked and imported'} …",
        file=out,
        flush=True,
    )
    try:
        response = httpx.post(
            f"{base_url}/v1/imports/{kind}",
            params={"dry_run": str(dry_run).lower()},
            content=file.read_bytes(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": media},
            timeout=600,
        )
    except httpx.TransportError as e:
        raise Unavailable(
            f"cannot reach the registry at {base_url} ({e}); is `make run` running? "
            "set DUDAO_REGISTRY_URL if it runs elsewhere"
        ) from None
    if response.status_code == 401:
        raise Unauthorized(f"the registry refused the token: {_detail(response)}; pass --token or set DUDAO_TOKEN")
    body = response.json()
    if "rows" not in body:
        print(f"nothing imported: {body.get('detail', response.text)}", file=out)
        return 1
    for error in body["errors"]:
        print(error["detail"], file=out)
    verdict = (
        f"{body['good']} good, {body['bad']} bad ({len(body['errors'])} problems)" if body["errors"] else "all good"
    )
    print(f"{kind}: {body['rows']} rows checked, {verdict}: {body['new']} new, {body['existing']} existing", file=out)
    if body["errors"]:
        print(
            "nothing imported: fix the rows above and run again (--dry-run only checks) — 未导入任何一行，请改正后重试",
            file=out,
        )
        return 1
    if dry_run:
        print("nothing imported (dry run); run again without --dry-run to import — 试导入，未写入", file=out)
        return 0
    print(f"imported {body['imported']}: {body['new']} new, {body['existing']} existing — 已全部导入", file=out)
    return 0


def _detail(response: httpx.Response) -> str:
    try:
        return response.json()["detail"]
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code} {response.text[:200]}"


def send_submissions(
    path: str | Path,
    framework: str,
    period: str,
    *,
    dry_run: bool,
    token: str | None = None,
    settings: Settings | None = None,
    out=None,
) -> int:
    """`dudao import submissions FILE --framework F --period P`: send the sheet to monitoring, print what it says."""
    settings, out = settings or Settings.from_env(), out or sys.stdout
    file = Path(path)
    if not file.is_file():
        raise InvalidInput(f"{file} does not exist; check the path", field="file", rule="file_missing")
    token = token or auth.issue_dev_token(settings, sub="importer", roles=["admin"], jur=settings.jurisdiction)
    kind = "text/csv" if file.suffix.lower() == ".csv" else XLSX
    print(f"submissions: sending {file.name} to be checked against {framework} {period} …", file=out, flush=True)
    response = httpx.post(
        f"{settings.service_url('monitoring')}/v1/imports/{framework}/{period}",
        params={"dry_run": str(dry_run).lower()},
        content=file.read_bytes(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": kind},
        timeout=600,
    )
    body = response.json()
    for e in body.get("errors", []):
        print(f"row {e['row']}, column {e['column'] or '-'}: {e['detail']} ({e['rule']})", file=out)
    if response.status_code >= 400 and "rows" not in body:
        print(f"nothing imported: {body.get('detail', response.text)}", file=out)
        return 1
    print(f"submissions: {body['rows']} rows checked, {body['good']} good, {len(body['errors'])} problems", file=out)
    if dry_run or body["errors"]:
        then = "fix the cells above and check again" if body["errors"] else "run again without --dry-run to import"
        print(f"nothing imported{' (dry run)' if dry_run else ''}; {then}", file=out)
        return 1 if body["errors"] else 0
    for f in body["failed"]:
        print(f"row {f['row']}: not entered: {f['detail']} ({f['rule']})", file=out)
    print(f"entered {len(body['imported'])} submissions as drafts; {len(body['failed'])} failed", file=out)
    return 1 if body["failed"] else 0
