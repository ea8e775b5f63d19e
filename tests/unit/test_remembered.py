"""A remembered read (decision 044): computed once per mark and key, a copy for each caller, at most `size` kept."""

from __future__ import annotations

import asyncio

import pytest

from dudao.remembered import Remembered

pytestmark = pytest.mark.unit


class Marked:
    """A connection whose read models' marks are `marks` (the directory's alone, given a string)."""

    def __init__(self, marks: str | dict[str, str] | None):
        self.marks = {"directory": marks} if isinstance(marks, str) else marks or {}
        self.asked = 0

    @property
    def mark(self) -> str:
        return self.marks["directory"]

    @mark.setter
    def mark(self, mark: str) -> None:
        self.marks["directory"] = mark

    async def fetch(self, query: str, projections: list[str]) -> list[dict[str, str]]:
        assert "read_model_marks" in query
        self.asked += 1
        return [{"mark": self.marks[p]} for p in sorted(projections) if p in self.marks]


def counting(answers: list[dict]):
    async def compute() -> dict:
        answers.append({"schools": len(answers), "r1": {"met": True}})
        return answers[-1]

    return compute


def test_an_answer_is_computed_once_per_mark_and_key():
    async def run():
        kept, conn, computed = Remembered("registry", "directory"), Marked("m1"), []
        first = await kept.answer(conn, ("510000", "v1"), counting(computed))
        again = await kept.answer(conn, ("510000", "v1"), counting(computed))
        other_place = await kept.answer(conn, ("510104", "v1"), counting(computed))
        other_profile = await kept.answer(conn, ("510000", "v2"), counting(computed))
        conn.mark = "m2"  # the directory changed
        changed = await kept.answer(conn, ("510000", "v1"), counting(computed))
        return first, again, other_place, other_profile, changed, computed, conn.asked

    first, again, other_place, other_profile, changed, computed, asked = asyncio.run(run())
    assert first == again == {"schools": 0, "r1": {"met": True}}
    assert [other_place["schools"], other_profile["schools"], changed["schools"]] == [1, 2, 3]
    assert len(computed) == 4 and asked == 5  # the mark is read every time


def test_each_caller_gets_its_own_copy():
    async def run():
        kept, conn = Remembered("registry", "directory"), Marked("m1")
        first = await kept.answer(conn, "510000", counting([]))
        first["children"] = ["changed by a caller"]
        first["r1"]["met"] = False
        return await kept.answer(conn, "510000", counting([]))

    assert asyncio.run(run()) == {"schools": 0, "r1": {"met": True}}


def test_nothing_is_remembered_before_the_read_model_has_a_mark():
    async def run():
        kept, computed = Remembered("registry", "directory"), []
        for _ in range(3):
            await kept.answer(Marked(None), "510000", counting(computed))
        return computed

    assert len(asyncio.run(run())) == 3


def test_at_most_size_answers_are_kept_the_least_recently_used_going_first():
    async def run():
        kept, conn, computed = Remembered("registry", "directory", size=2), Marked("m1"), []
        for key in ("a", "b", "a", "c"):  # "b" was used least recently when "c" came
            await kept.answer(conn, key, counting(computed))
        before = len(computed)
        await kept.answer(conn, "a", counting(computed))
        kept_a = len(computed) == before
        await kept.answer(conn, "b", counting(computed))
        return kept_a, len(computed) == before + 1

    assert asyncio.run(run()) == (True, True)


def test_a_none_answer_is_remembered_too():
    async def run():
        kept, conn, calls = Remembered("registry", "directory"), Marked("m1"), []

        async def nothing() -> None:
            calls.append(1)

        await kept.answer(conn, "x", nothing)
        await kept.answer(conn, "x", nothing)
        return len(calls)

    assert asyncio.run(run()) == 1


def test_a_read_over_two_read_models_is_computed_again_when_either_changes_and_not_before_both_have_a_mark():
    async def run():
        kept, computed = Remembered("inspection", "views", "registry-copy"), []
        conn = Marked({"views": "v1"})
        await kept.answer(conn, "510000", counting(computed))
        await kept.answer(conn, "510000", counting(computed))
        unmarked = len(computed)
        conn.marks["registry-copy"] = "r1"
        for _ in range(2):
            await kept.answer(conn, "510000", counting(computed))
        conn.marks["registry-copy"] = "r2"
        await kept.answer(conn, "510000", counting(computed))
        conn.marks["views"] = "v2"
        await kept.answer(conn, "510000", counting(computed))
        return unmarked, len(computed)

    assert asyncio.run(run()) == (2, 5)
