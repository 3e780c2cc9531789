from __future__ import annotations

import dataclasses
import random
import re

import pytest

from distill.solvers.base import UnsolvableQuestion
from distill.solvers.temporal_sequences import FAMILY, parse_day
from serve.data.bigbench import load_task
from tests.solver_checks import distinct_texts, solve_whole_task, teacher_gets_full_marks

TASK = "temporal_sequences"


@pytest.fixture(scope="module")
def examples():
    return load_task(TASK)


def test_whole_task_is_solved(examples):
    right, wrong, unreadable = solve_whole_task(FAMILY, TASK, samples=2)
    assert (wrong, unreadable) == ([], [])
    assert right == len(examples) == 1000


def test_parse_reads_the_first_question(examples):
    # Read by hand from temporal_sequences/0: woke at 7am, five back-to-back sightings, closed after 9pm.
    day = parse_day(examples[0].question)
    assert (day.person, day.place, day.wake, day.close) == ("Susan", "coffee shop", 7, 21)
    assert [s.seer for s in day.sightings] == ["Linda", "John", "Jessica", "Steven", "Thomas"]
    assert [s.interval for s in day.sightings] == [(7, 11), (11, 12), (12, 13), (13, 14), (14, 18)]
    assert day.free_slot() == (18, 21)


def test_off_pattern_and_ambiguous_questions_are_rejected(examples):
    with pytest.raises(UnsolvableQuestion):
        parse_day("What is the capital of France?")
    # Dropping John's 11am-12pm sighting leaves two free slots (11am-12pm and 6pm-9pm): no single answer.
    question = "\n".join(line for line in examples[0].question.split("\n") if not line.startswith("John saw"))
    example = dataclasses.replace(examples[0], question=question)
    with pytest.raises(UnsolvableQuestion):
        FAMILY.solve(example, random.Random(0))


def test_samples_differ_in_wording(examples):
    for example in random.Random(1).sample(examples, 8):
        assert distinct_texts(FAMILY, example) >= 25, example.id


def test_teacher_gets_full_marks(examples):
    teacher_gets_full_marks(FAMILY, random.Random(2).sample(examples, 80))


def _steps(rationale: str, example) -> list[tuple[int, int]]:
    """(start, end) of each sighting step in the text: from '<seer> saw' to the next seer or the free-slot line."""
    day = parse_day(example.question)
    starts = [rationale.index(f"{s.seer} saw") for s in day.sightings]
    last_end = rationale.index(".", starts[-1]) + 1
    if rationale[last_end:].lstrip().lower().startswith(("busy", "taken")):  # a 'Busy so far: ...' second sentence
        last_end = rationale.index(".", last_end) + 1
    return list(zip(starts, starts[1:] + [last_end]))


def _shift_last_time(text: str) -> str:
    """Move the last clock time in ``text`` one hour later ('6pm' -> '7pm'): a wrong timeline claim."""
    *_, last = re.finditer(r"(\d{1,2})([ap]m)", text)
    later = int(last.group(1)) % 12 + 1
    return text[:last.start()] + f"{later}{last.group(2)}" + text[last.end():]


@pytest.mark.parametrize("index", [0, 4])  # back-to-back sightings; a gap in the middle of the day
def test_grader_catches_a_wrong_and_a_missing_step(examples, index):
    example = examples[index]
    for seed in range(12):  # every step voice
        rationale, answer = FAMILY.solve(example, random.Random(seed))
        full = FAMILY.grade(example.question, example.choices, rationale)
        assert full.steps == len(parse_day(example.question).sightings) + 1 == full.steps_right
        steps = _steps(rationale, example)
        start, end = steps[1]
        wrong = rationale[:start] + _shift_last_time(rationale[start:end]) + rationale[end:]
        grade = FAMILY.grade(example.question, example.choices, wrong)
        assert grade.steps_right == full.steps - 1 and grade.final_right and grade.claimed_answer == answer, wrong
        missing = rationale[:start] + rationale[end:].lstrip()
        grade = FAMILY.grade(example.question, example.choices, missing)
        assert grade.steps_right == full.steps - 1 and grade.final_right, missing
        last_step_end = steps[-1][1]
        free_line = rationale[last_step_end:].lstrip()
        wrong_free = rationale[:last_step_end] + " " + _shift_last_time(free_line[:free_line.index(".") + 1])
        grade = FAMILY.grade(example.question, example.choices, wrong_free)
        assert grade.steps_right == full.steps - 1 and not grade.final_right and grade.claimed_answer != answer


def test_grader_reads_claims_and_survives_garbage(examples):
    example = examples[0]
    garbage = ["", "The answer is (a).", "saw saw 13pm to 99am free free. Busy: .", "Linda saw Susan from 7am to"]
    for text in garbage:
        grade = FAMILY.grade(example.question, example.choices, text)
        assert grade.steps_right == 0 and not grade.final_right, text
    # An unmerged but equal timeline still counts; a bare final interval maps to its option.
    student = ("Linda saw Susan from 7am to 11am; busy: 7am to 11am. John saw Susan from 11am to 12pm; "
               "busy: 7am to 11am and 11am to 12pm. The only free time is 6pm to 9pm.")
    grade = FAMILY.grade(example.question, example.choices, student)
    assert (grade.steps, grade.steps_right, grade.final_item, grade.final_right) == (6, 3, "6pm to 9pm", True)
    assert grade.claimed_answer == example.answer
