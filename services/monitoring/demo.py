"""Demo collection for `dudao seed`: the 2025-2026 balanced-development period with every compulsory school's
data submitted, and the county's preschool figures, through the monitoring API."""

from __future__ import annotations

import time

from dudao import jurisdiction as divisions

PERIOD = "2025-2026"
# A county's preschool figures (学前教育普及普惠), as the demo county gives them.
PRESCHOOL = {
    "resident_children": 14200,
    "enrolled_children": 13350,
    "inclusive_children": 11600,
    "public_children": 6900,
}
# How a school's pupils divide between its stages (only for the demo's invented figures).
STAGE_SHARES = {
    "primary": {"primary": 1.0},
    "junior_secondary": {"junior_secondary": 1.0},
    "nine_year": {"primary": 0.6, "junior_secondary": 0.4},
    "twelve_year": {"primary": 0.45, "junior_secondary": 0.3, "senior_secondary": 0.25},
    "complete_secondary": {"junior_secondary": 0.55, "senior_secondary": 0.45},
}


def school_values(stage: str, enrolment: int, i: int) -> dict:
    """Plausible figures that vary from school to school, so the county's CVs are not zero."""
    f = 0.8 + 0.06 * (i % 7)
    pupils = {s: max(1, round(enrolment * share)) for s, share in STAGE_SHARES[stage].items()}
    assessed = {s: n for s, n in pupils.items() if s != "senior_secondary"}

    def per_100(rate: float) -> dict:
        return {s: max(1, round(n * rate * f / 100)) for s, n in assessed.items()}

    fulltime = {s: max(2, round(n / 13)) for s, n in assessed.items()}
    return {
        "pupils": pupils,
        "fulltime_teachers": fulltime,
        "qualified_teachers": {s: min(fulltime[s], v) for s, v in per_100(6.0).items()},
        "key_teachers": {s: min(fulltime[s], v) for s, v in per_100(1.3).items()},
        "pe_arts_teachers": {s: min(fulltime[s], v) for s, v in per_100(1.1).items()},
        "teaching_floor_area": round(enrolment * 6.2 * f),
        "sports_ground_area": round(enrolment * 11 * f),
        "equipment_value": round(enrolment * 2900 * f),
        "multimedia_classrooms": max(1, round(enrolment * 2.8 * f / 100)),
    }


def load(client, schools: list[dict], jurisdiction: str = "500120", timeout: float = 60) -> int:
    """Load through the monitoring API with `client` (an httpx.Client with the instance office's token)."""
    steps = 0

    def call(method: str, path: str, body: dict | None = None, done_if: tuple[str, ...] = ()) -> dict:
        nonlocal steps
        steps += 1
        response = client.request(method, path, json=body)
        if response.status_code in (200, 201):
            return response.json()
        if response.status_code == 409 and response.json().get("rule") in done_if:
            return {}
        raise RuntimeError(f"demo step {method} {path} failed: HTTP {response.status_code} {response.text}")

    for framework in ("balanced_development", "preschool_inclusive"):
        call("POST", f"/v1/frameworks/{framework}/periods", {"period": PERIOD}, done_if=("period_already_open",))
    compulsory = [s for s in schools if s["stage"] in STAGE_SHARES]
    deadline = time.monotonic() + timeout
    while len(client.get(f"/v1/collection/balanced_development/{PERIOD}").json().get("units", [])) < len(compulsory):
        if time.monotonic() > deadline:
            raise RuntimeError(
                "monitoring has not opened the period or received the registry's schools; are the relays running?"
            )
        time.sleep(0.5)
    for i, school in enumerate(compulsory):
        path = f"/v1/submissions/balanced_development/{PERIOD}/{school['id']}"
        call(
            "PUT",
            path,
            {"values": school_values(school["stage"], school["enrolment"], i)},
            done_if=("submission_lifecycle",),
        )
        call("POST", f"{path}/submit", done_if=("submission_lifecycle",))
    if divisions.level_of(jurisdiction) is not divisions.Level.COUNTY:
        return steps  # preschool figures are the county's own; a city or province instance has none to give
    path = f"/v1/submissions/preschool_inclusive/{PERIOD}/{jurisdiction}"
    call("PUT", path, {"values": PRESCHOOL}, done_if=("submission_lifecycle",))
    call("POST", f"{path}/submit", done_if=("submission_lifecycle",))
    return steps
