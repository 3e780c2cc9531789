from __future__ import annotations

import random
import re

import pytest

from distill.solvers.base import UnsolvableQuestion
from distill.solvers.navigate import FAMILY, parse_walk
from serve.data.bigbench import load_task
from tests.solver_checks import distinct_texts, solve_whole_task, teacher_gets_full_marks

POSITION = re.compile(r"\((-?\d+), (-?\d+)\)")


@pytest.fixture(scope="module")
def examples():
    return load_task("navigate")


def face_forward(example) -> bool:
    return parse_walk(example.question).face_forward  # the question starts with the task's instruction


def test_every_example_is_answered_right():
    right, wrong, unreadable = solve_whole_task(FAMILY, "navigate", samples=3)
    assert (wrong, unreadable) == ([], [])
    assert right == 1000


def test_walk_states_follow_the_instructions():
    # Worked by hand: west 2, then north 3; the always-forward walk ends where it started.
    walk = parse_walk("Turn left. Take 2 steps. Turn right. Take 3 steps.")
    assert [(s.after.x, s.after.y, s.after.facing) for s in walk.steps] == [
        (0, 0, "west"), (-2, 0, "west"), (-2, 0, "north"), (-2, 3, "north")]
    assert not walk.face_forward and not walk.returns
    walk = parse_walk("Always face forward. Take 1 step left. Take 4 steps backward. "
                      "Take 1 step right. Take 4 steps forward.")
    assert [(s.after.x, s.after.y) for s in walk.steps] == [(-1, 0), (-1, -4), (0, -4), (0, 0)]
    assert walk.face_forward and walk.returns and walk.end.facing == "north"
    for question in ("What is the capital of France?", "Take 3 steps. Jump.", "Always face forward. Turn left.", ""):
        with pytest.raises(UnsolvableQuestion):
            parse_walk(question)


def test_samples_differ_in_wording(examples):
    short = [e for e in examples if len(parse_walk(e.question).steps) == 2][:3]
    for example in examples[:5] + short:
        assert distinct_texts(FAMILY, example) >= 25, example.id


def test_teacher_gets_full_marks(examples):
    rng = random.Random(0)
    for kind in (True, False):
        teacher_gets_full_marks(FAMILY, rng.sample([e for e in examples if face_forward(e) == kind], 40))


def sentences(text: str) -> list[str]:
    return re.split(r"(?<=\.)\s+", text)


@pytest.mark.parametrize("example_id", ["navigate/0", "navigate/1"])  # a turns walk and an always-forward walk
def test_grader_catches_a_wrong_and_a_missing_step(examples, example_id):
    example = next(e for e in examples if e.id == example_id)
    rationale, answer = FAMILY.solve(example, random.Random(7))
    full = FAMILY.grade(example.question, example.choices, rationale)
    steps = len(parse_walk(example.question).steps) + 1
    assert (full.steps, full.steps_right, full.final_right, full.claimed_answer) == (steps, steps, True, answer)

    lines = sentences(rationale)  # opening, one line per instruction, verdict, option listing, result's letter
    assert len(lines) == steps + 3
    truth = example.choices[ord(answer[1]) - 97]
    assert lines[-2].endswith("; ".join(f"{c} is ({l})" for l, c in zip("ab", example.choices)) + ".")
    assert re.fullmatch(rf".*\b{truth},? is {re.escape(answer)}\.", lines[-1])
    x, y = map(int, POSITION.search(lines[2]).groups())
    wrong = lines[:2] + [POSITION.sub(f"({x + 1}, {y})", lines[2], count=1)] + lines[3:]
    assert FAMILY.grade(example.question, example.choices, " ".join(wrong)).steps_right == steps - 1

    missing = lines[:2] + lines[3:]
    grade = FAMILY.grade(example.question, example.choices, " ".join(missing))
    assert grade.steps_right == steps - 1 and grade.final_right

    flipped = {"True": "False", "False": "True"}
    verdict = re.sub(r"True|False", lambda m: flipped[m.group()], lines[-3])
    grade = FAMILY.grade(example.question, example.choices, " ".join(lines[:-3] + [verdict]))
    assert grade.steps_right == steps - 1 and not grade.final_right
    assert grade.claimed_answer == next(f"({c})" for c in "ab" if c != answer[1])
    # the option listing names both True and False: the verdict stays the final claim, listed or not
    listed = FAMILY.grade(example.question, example.choices, " ".join(lines[:-3] + [verdict, lines[-2]]))
    assert listed.final_item == grade.final_item == flipped[truth].lower() and not listed.final_right
    listed = FAMILY.grade(example.question, example.choices, " ".join(lines[:-1]))
    assert listed.final_item == truth.lower() and listed.final_right and listed.steps_right == steps


def test_garbage_gets_no_steps(examples):
    example = examples[0]
    for text in ("", "The answer is (a).", "(((", "Turn left facing (1, 2", "\n. . . take steps north (a) option (z)"):
        for choices in (example.choices, None):
            grade = FAMILY.grade(example.question, choices, text)
            assert grade.steps_right == 0 and not grade.final_right
