"""Effective policy profiles: combine places' own values from the nation down, nearest place winning."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dudao import jurisdiction as divisions


@dataclass(frozen=True)
class Effective:
    """The values in force at a jurisdiction, each with the profile (place and version) it comes from."""

    jurisdiction: str
    values: dict[str, Any]
    sources: dict[str, tuple[str, int]]
    chain: list[tuple[str, int]]

    @property
    def version(self) -> str:
        """Which profile versions were combined, e.g. `000000@1/500000@2/500120@3`: recorded with every decision."""
        return "/".join(f"{code}@{version}" for code, version in self.chain)

    def get(self, key: str) -> Any:
        return self.values.get(key)


def effective(code: str, profiles: Mapping[str, tuple[int, Mapping[str, Any]]]) -> Effective:
    """Combine the profiles from the nation down to `code`; the nearest place that sets a key wins."""
    path = list(reversed(divisions.ancestors(code))) + [code]
    values: dict[str, Any] = {}
    sources: dict[str, tuple[str, int]] = {}
    chain: list[tuple[str, int]] = []
    for place in path:
        if place not in profiles:
            continue
        version, own = profiles[place]
        chain.append((place, version))
        for key, value in own.items():
            values[key], sources[key] = value, (place, version)
    return Effective(jurisdiction=code, values=values, sources=sources, chain=chain)
