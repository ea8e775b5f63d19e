"""Importing an office's spreadsheet of schools or inspectors: every row checked, then all recorded or none."""

from __future__ import annotations

from typing import Any

from dudao import jurisdiction as divisions
from dudao.commands import Caller
from dudao.errors import InvalidInput
from dudao.scope import check_scope
from dudao.store import ServiceApplication
from services.registry import importer
from services.registry.commands import ImportList


class ListCommands(ServiceApplication):
    def import_list(self, command: ImportList, caller: Caller) -> dict[str, Any]:
        """Check every row against the sheet's rules and the registry (every record inside `place`, which is inside
        the caller's subtree); unless a dry run, record them all in one transaction. The report says what each row
        does, or why the registry refuses it: a row the caller may not write is refused in the report, by row."""

        def authorize(record: Any) -> None:
            check_scope(caller.principal, record.jurisdiction)
            if not divisions.contains(command.place, record.jurisdiction):
                raise InvalidInput(
                    f"{record.jurisdiction} lies outside {command.place}, the place this list is imported for",
                    field="区县代码",
                    rule="outside_import_place",
                    place=command.place,
                )

        return importer.import_rows(
            self,
            command.kind,
            command.rows,
            now=command.now,
            authorize=authorize,
            envelope=caller.envelope,
            dry_run=command.dry_run,
        )
