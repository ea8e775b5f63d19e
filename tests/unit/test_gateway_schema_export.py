"""gateway/schema.graphql, the contract clients read, is the gateway's schema exactly as `make schema` writes it."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest
from graphql import build_schema

from gateway.schema import schema

pytestmark = pytest.mark.unit

EXPORTED = Path(__file__).resolve().parents[2] / "gateway" / "schema.graphql"
SHOWN = 40  # diff lines in the failure message


def test_the_exported_gateway_schema_is_up_to_date():
    current = schema.as_str() + "\n"  # what `make schema` (like strawberry export-schema) writes
    written = EXPORTED.read_text(encoding="utf-8") if EXPORTED.exists() else ""
    if written != current:
        diff = list(
            difflib.unified_diff(
                written.splitlines(),
                current.splitlines(),
                "gateway/schema.graphql",
                "gateway.schema:schema",
                n=1,
                lineterm="",
            )
        )
        more = f"\n... and {len(diff) - SHOWN} more lines" if len(diff) > SHOWN else ""
        pytest.fail(
            "gateway/schema.graphql is out of date: run `make schema`\n" + "\n".join(diff[:SHOWN]) + more, pytrace=False
        )


def test_the_exported_gateway_schema_parses():
    exported = build_schema(EXPORTED.read_text(encoding="utf-8"))
    assert exported.query_type is not None and "schools" in exported.query_type.fields
