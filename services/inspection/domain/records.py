"""What units and teams hand in, checked: scored self-evaluation items, evidence file records, findings."""

from __future__ import annotations

import re

from dudao.errors import InvalidInput
from dudao.rules import choice, flag, text
from services.inspection.domain.activity_terms import FindingArea, Severity

SHA256 = re.compile(r"[0-9a-fA-F]{64}")
MEDIA_TYPE = re.compile(r"[\w.+-]+/[\w.+-]+", re.ASCII)


def scored_item(item: dict, i: int) -> dict:
    score = item.get("score")
    if isinstance(score, bool) or not isinstance(score, int | float) or not 0 <= score <= 100:
        raise InvalidInput(f"items.{i}.score must be from 0 to 100", field=f"items.{i}.score", rule="score_range")
    return {
        "item": text(item.get("item"), f"items.{i}.item"),
        "score": float(score),
        "comment": text(item.get("comment", ""), f"items.{i}.comment", required=False),
    }


def evidence_record(file: dict, i: int) -> dict:
    field = f"evidence.{i}"
    sha256, size, media_type = file.get("sha256"), file.get("size"), file.get("media_type")
    if not (isinstance(sha256, str) and SHA256.fullmatch(sha256)):
        raise InvalidInput("sha256 must be 64 hex digits", field=f"{field}.sha256", rule="sha256_format")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise InvalidInput("size must be a whole number of bytes", field=f"{field}.size", rule="size_range")
    if not (isinstance(media_type, str) and MEDIA_TYPE.fullmatch(media_type)):
        raise InvalidInput(
            "media_type must look like application/pdf", field=f"{field}.media_type", rule="media_type_format"
        )
    return {
        "name": text(file.get("name"), f"{field}.name"),
        "sha256": sha256.lower(),
        "size": size,
        "media_type": media_type,
    }


def finding(raw: dict, i: int) -> dict:
    """A finding as it goes into events: validated, with plain values."""
    field = f"findings.{i}"
    return {
        "finding_id": text(raw.get("finding_id"), f"{field}.finding_id"),
        "area": choice(FindingArea, raw.get("area"), f"{field}.area").value,
        "severity": choice(Severity, raw.get("severity"), f"{field}.severity").value,
        "description": text(raw.get("description"), f"{field}.description"),
        "evidence": text(raw.get("evidence", ""), f"{field}.evidence", required=False),
        "rule_broken": text(raw.get("rule_broken", ""), f"{field}.rule_broken", required=False),
        "needs_rectification": flag(raw.get("needs_rectification"), f"{field}.needs_rectification"),
        "looks_illegal": flag(raw.get("looks_illegal"), f"{field}.looks_illegal"),
    }


def plain(finding: dict) -> dict:
    return {**finding, "area": str(finding["area"]), "severity": str(finding["severity"])}
