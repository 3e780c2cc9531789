"""Checks every program-teacher family must pass, shared by the tests/test_solver_*.py files."""

from __future__ import annotations

import random

from distill.solvers.base import Family, UnsolvableQuestion
from serve.core.records import Example
from serve.data.bigbench import load_task


def accepted(example: Example) -> set[str]:
    return {example.answer, *example.meta.get("targets", [])}


def solve_whole_task(family: Family, task: str, samples: int = 1) -> tuple[int, list[str], list[str]]:
    """(examples solved right, ids answered wrong, ids the solver could not read) over a whole BIG-bench task."""
    right, wrong, unreadable = 0, [], []
    for example in load_task(task):
        try:
            answers = {family.solve(example, random.Random(f"0|{example.id}|{k}"))[1] for k in range(samples)}
        except UnsolvableQuestion:
            unreadable.append(example.id)
            continue
        if answers <= accepted(example):
            right += 1
        else:
            wrong.append(example.id)
    return right, wrong, unreadable


def distinct_texts(family: Family, example: Example, samples: int = 30) -> int:
    """How many different rationales the program teacher writes for one question in ``samples`` draws."""
    return len({family.solve(example, random.Random(f"0|{example.id}|{k}"))[0] for k in range(samples)})


def teacher_gets_full_marks(family: Family, examples: list[Example], seeds: int = 5) -> None:
    for example in examples:
        for seed in range(seeds):
            rationale, answer = family.solve(example, random.Random(f"{seed}|{example.id}|0"))
            grade = family.grade(example.question, example.choices, rationale)
            assert grade.steps > 0, example.id
            assert grade.steps_right == grade.steps and grade.final_right, (example.id, rationale, grade)
            if grade.claimed_answer is not None:
                assert grade.claimed_answer == answer, (example.id, rationale, grade)
