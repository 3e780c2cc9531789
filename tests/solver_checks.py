"""Checks every program-teacher family must pass, shared by the tests/test_solver_*.py files.

BBH files come from ``SCOTD_BBH_DIR`` (``scripts/test.sh`` and CI point it at ``../shared/bbh/bbh``);
``bbh_task`` skips, saying why, where no folder is set. Generated questions need nothing.
"""

from __future__ import annotations

import os
import random

import pytest

from distill.solvers.base import Family, UnsolvableQuestion
from serve.core.records import Example
from serve.data.sources import load_examples


def accepted(example: Example) -> set[str]:
    return {example.answer, *example.meta.get("targets", [])}


def bbh_task(task: str) -> list[Example]:
    """Every example of one BBH file, or a skip naming SCOTD_BBH_DIR."""
    if not os.environ.get("SCOTD_BBH_DIR"):
        pytest.skip("SCOTD_BBH_DIR is unset: the BBH files are evaluation data read from a folder "
                    "(scripts/test.sh sets it to ../shared/bbh/bbh when that exists)")
    from serve.data.bbh import load_task
    return load_task(task)


def generated(source: str, limit: int = 200, split: str = "train", seed: int = 0) -> list[Example]:
    return load_examples(source, split=split, limit=limit, seed=seed)


def solve_all(family: Family, examples: list[Example], samples: int = 1) -> tuple[int, list[str], list[str]]:
    """(examples solved right, ids answered wrong, ids the solver could not read)."""
    right, wrong, unreadable = 0, [], []
    for example in examples:
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


def solve_bbh_task(family: Family, task: str, samples: int = 1) -> tuple[int, list[str], list[str]]:
    return solve_all(family, bbh_task(task), samples)


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
