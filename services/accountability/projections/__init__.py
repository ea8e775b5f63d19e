"""Accountability read models: cases and items, notices, measures, restrictions, the summary, and copies
of the registry's policy profiles and schools."""

from services.accountability.projections.cases import (
    CASE_TABLES,
    SUMMARY,
    case_page,
    case_row,
    cases_by_id,
    cases_of,
    item_rows,
    notice_page,
    notice_rows,
    overdue_items,
    overdue_page,
    project_case,
    summary,
)
from services.accountability.projections.measures import (
    COUNTS,
    KINDS,
    MEASURE_TABLES,
    measure_counts,
    measure_page,
    measure_row,
    measures_by_id,
    project_measure,
    public_outcomes,
    restricted_names,
    restrictions,
)
from services.accountability.projections.registry_copy import COPY_TABLES, copy_registry, school_copy
from services.accountability.projections.tables import ensure_tables

__all__ = [
    "CASE_TABLES",
    "COPY_TABLES",
    "COUNTS",
    "KINDS",
    "MEASURE_TABLES",
    "SUMMARY",
    "case_page",
    "case_row",
    "cases_by_id",
    "cases_of",
    "copy_registry",
    "ensure_tables",
    "item_rows",
    "measure_counts",
    "measure_page",
    "measure_row",
    "measures_by_id",
    "notice_page",
    "notice_rows",
    "overdue_items",
    "overdue_page",
    "project_case",
    "project_measure",
    "public_outcomes",
    "restricted_names",
    "restrictions",
    "school_copy",
    "summary",
]
