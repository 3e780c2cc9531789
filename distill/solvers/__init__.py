"""Rule-based solvers that write correct step-by-step rationales for tasks with a known algorithm.

``SOLVERS`` maps a BIG-bench task family to its solve function,
``solve(example, rng) -> (rationale, canonical answer)``; the ``program`` teacher
picks one by the example's task (its top-level name). ``GRADERS`` maps a family to
``grade(question, rationale) -> StepGrade``, which checks a student's rationale step
by step against the solver's state (used by ``scotd results``).
"""

from __future__ import annotations

import random
from typing import Callable

from serve.answers import letter
from serve.records import Example

from distill.solvers.tracking_shuffled_objects import (StepGrade, UnsolvableQuestion, grade_rationale, match_choice,
                                                      narrate, parse_puzzle)


def solve_tracking_shuffled_objects(example: Example, rng: random.Random) -> tuple[str, str]:
    rationale, final = narrate(parse_puzzle(example.question), rng)
    return rationale, letter(match_choice(final, example.choices or []))


SOLVERS: dict[str, Callable[[Example, random.Random], tuple[str, str]]] = {
    "tracking_shuffled_objects": solve_tracking_shuffled_objects,
}

GRADERS: dict[str, Callable[[str, str], StepGrade]] = {
    "tracking_shuffled_objects": grade_rationale,
}


def task_family(source: str) -> str:
    """'bigbench:tracking_shuffled_objects/five_objects' -> 'tracking_shuffled_objects'."""
    return source.split(":", 1)[-1].split("/", 1)[0]


__all__ = ["GRADERS", "SOLVERS", "StepGrade", "UnsolvableQuestion", "task_family"]
