"""Progress of a long command, for a person at a terminal or for a log (issue 22)."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import TextIO


@dataclass
class Progress:
    """A bar redrawn in place on a terminal; elsewhere (a log, a pipe) one line every few seconds, then the count."""

    label: str
    total: int
    out: TextIO = field(default_factory=lambda: sys.stdout)
    every_s: float = 5.0
    done: int = 0
    started: float = field(default_factory=time.perf_counter)
    _printed_at: float | None = None

    def advance(self, n: int) -> None:
        self.show(self.done + n)

    def show(self, done: int) -> None:
        self.done = done
        if self.out.isatty():
            filled = self.done * 30 // max(self.total, 1)
            self.out.write(f"\r{self.label:<28} [{'#' * filled:<30}] {self.done:>9,} / {self.total:,}")
            self.out.flush()
        elif self._printed_at is None or time.perf_counter() - self._printed_at >= self.every_s:
            self._printed_at = time.perf_counter()
            print(f"{self.label:<28} {self.done:>9,} / {self.total:,}", file=self.out, flush=True)

    def finish(self, note: str = "", unit: str = "events") -> float:
        took = time.perf_counter() - self.started
        rate = self.done / max(took, 1e-9)
        end = "\n" if self.out.isatty() else ""
        print(
            f"{end}{self.label:<28} {self.done:,} {unit} in {took:.1f} s ({rate:,.0f}/s){note}",
            file=self.out,
            flush=True,
        )
        return rate
