from __future__ import annotations

import dataclasses
import random
import re

import pytest

from distill.solvers.base import UnsolvableQuestion
from distill.solvers.temporal_sequences import FAMILY, clock, parse_day, span
from serve.core.records import Example
from serve.data.bbh import question_key
from serve.data.generated import bbh_question_keys
from serve.data.generators.temporal_sequences import GENERATOR, sighting_range
from tests.solver_checks import (bbh_task, distinct_texts, generated, solve_all, solve_bbh_task,
                                 teacher_gets_full_marks)

TASK = "temporal_sequences"
SIZES = tuple(GENERATOR.sizes)
PER_SIZE = 1000

# Written for these tests (not a BBH item): a gap in the middle of the day, and an hour given as "12pm".
HANDMADE = Example(
    "handmade/0", TASK,
    "Today, Greta went to the ice rink. Between what times could they have gone?\nWe know that:\n"
    "Greta woke up at 6am.\nOmar saw Greta kayaking on the canal from 6am to 9am.\n"
    "Lena saw Greta mowing the lawn from 9am to 12pm.\nKai saw Greta hiking up the ridge from 2pm to 5pm.\n"
    "Ivan saw Greta fishing off the pier from 5pm to 8pm.\nThe ice rink was closed after 8pm.\n"
    "Between what times could Greta have gone to the ice rink?",
    "(c)", ["9am to 12pm", "5pm to 8pm", "12pm to 2pm", "6am to 9am"], "test", {}, "multiple_choice")


@pytest.fixture(scope="module")
def bbh_examples():
    return bbh_task(TASK)


@pytest.fixture(scope="module")
def examples():
    return generated(f"gen:{TASK}", limit=120)


def drawn(size: str, count: int, **overrides) -> list[Example]:
    """``count`` questions straight from the generator, before the gen: source drops duplicates."""
    params = GENERATOR.params_for(size, overrides)
    rng = random.Random(f"test|{size}|{sorted(overrides.items())}")
    return [Example(f"{size}/{i}", TASK, d.question, d.answer, d.choices, "train", dict(d.meta), d.answer_type)
            for i, d in enumerate(GENERATOR.draw(rng, params) for _ in range(count))]


def test_bbh_task_is_solved(bbh_examples):
    right, wrong, unreadable = solve_bbh_task(FAMILY, TASK, samples=2)
    assert (wrong, unreadable) == ([], [])
    assert right == len(bbh_examples) == 250


@pytest.mark.parametrize("size", SIZES)
def test_every_generated_question_is_solved_distinct_and_new(size):
    questions = drawn(size, PER_SIZE)
    right, wrong, unreadable = solve_all(FAMILY, questions)
    assert (right, wrong, unreadable) == (PER_SIZE, [], [])
    keys = {question_key(e.question) for e in questions}
    assert len(keys) == PER_SIZE and not keys & bbh_question_keys()  # BBH's items and its CoT prompts' questions
    low, high = sighting_range(GENERATOR.sizes[size]["sightings"])
    assert {e.meta["sightings"] for e in questions} == set(range(low, high + 1))
    assert {e.answer for e in questions} == {"(a)", "(b)", "(c)", "(d)"}
    through_source = generated(f"gen:{TASK}/{size}", limit=PER_SIZE, split="all")
    assert solve_all(FAMILY, through_source)[0] == PER_SIZE


def test_generated_questions_are_no_bbh_questions(bbh_examples):
    keys = {question_key(e.question) for e in bbh_examples}
    for size in SIZES:
        assert not keys & {question_key(e.question) for e in drawn(size, PER_SIZE)}, size


def test_bbh_wording_is_bbh_form_and_the_varied_one_is_read():
    for example in drawn("default", 50):
        lines = example.question.split("\n")
        assert lines[0].endswith(". Between what times could they have gone?") and lines[1] == "We know that:"
        assert re.fullmatch(r"[A-Z]\w* woke up at \d{1,2}[ap]m\.", lines[2]) and " was closed after " in lines[-2]
        assert len(example.choices) == 4 and all(re.fullmatch(r"\d{1,2}[ap]m to \d{1,2}[ap]m", c)
                                                 for c in example.choices)
    varied = drawn("default", 400, wording="varied")
    assert solve_all(FAMILY, varied)[0] == len(varied)
    assert len({e.question.split("\n")[1] for e in varied}) == 3  # every 'We know that' frame turns up
    assert solve_all(FAMILY, drawn("default", 50, sightings="1"))[0] == 50  # three made-up wrong options
    assert solve_all(FAMILY, drawn("default", 50, sightings="16"))[0] == 50  # a day of one-hour slots


def test_parse_reads_what_the_generator_built():
    for example in drawn("default", 200, wording="varied"):
        day = parse_day(example.question)
        assert (day.wake, day.close, len(day.sightings)) == (example.meta["wake"], example.meta["close"],
                                                            example.meta["sightings"])
        assert day.free_slot() == example.meta["free"]


def test_parse_reads_a_handmade_question():
    day = parse_day(HANDMADE.question)
    assert (day.person, day.place, day.wake, day.close) == ("Greta", "ice rink", 6, 20)
    assert [s.seer for s in day.sightings] == ["Omar", "Lena", "Kai", "Ivan"]
    assert [s.interval for s in day.sightings] == [(6, 9), (9, 12), (14, 17), (17, 20)]
    assert day.free_slot() == (12, 14) and span(day.free_slot()) == "12pm to 2pm"
    assert FAMILY.solve(HANDMADE, random.Random(0))[1] == HANDMADE.answer


def test_off_pattern_and_ambiguous_questions_are_rejected(examples):
    with pytest.raises(UnsolvableQuestion):
        parse_day("What is the capital of France?")
    # Without one sighting the day has a second free slot, or a longer one that no option names.
    for example in examples[:20]:
        lines = example.question.split("\n")
        question = "\n".join(lines[:3] + lines[4:])
        with pytest.raises(UnsolvableQuestion):
            FAMILY.solve(dataclasses.replace(example, question=question), random.Random(0))


def test_samples_differ_in_wording(examples):
    for example in random.Random(1).sample(examples, 8):
        assert distinct_texts(FAMILY, example) >= 25, example.id


def test_samples_differ_in_wording_on_bbh(bbh_examples):
    for example in random.Random(1).sample(bbh_examples, 8):
        assert distinct_texts(FAMILY, example) >= 25, example.id


def test_teacher_gets_full_marks(examples):
    teacher_gets_full_marks(FAMILY, examples[:80] + drawn("long", 20, wording="varied") + drawn("short", 20))


def test_teacher_gets_full_marks_on_bbh(bbh_examples):
    teacher_gets_full_marks(FAMILY, random.Random(2).sample(bbh_examples, 80))


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


def _free_at(position: str) -> Example:
    """A generated question whose free slot ends the day ('end') or lies between sightings ('middle')."""
    for example in drawn("default", 50):
        ends_day = example.meta["free"][1] == example.meta["close"]
        if (position == "end") == ends_day and (ends_day or example.meta["free"][0] > example.meta["wake"]):
            return example
    raise AssertionError(position)


@pytest.mark.parametrize("style", ["default", "day_walked", "day_labels_first"])
@pytest.mark.parametrize("position", ["end", "middle"])  # back-to-back sightings; a gap in the middle of the day
def test_grader_catches_a_wrong_and_a_missing_step(position, style):
    example = _free_at(position)
    for seed in range(12):  # every step voice
        rationale, answer = FAMILY.solver(style)(example, random.Random(seed))
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


def test_grader_reads_claims_and_survives_garbage():
    example = HANDMADE
    garbage = ["", "The answer is (a).", "saw saw 13pm to 99am free free. Busy: .", "Omar saw Greta from 6am to"]
    for text in garbage:
        grade = FAMILY.grade(example.question, example.choices, text)
        assert grade.steps_right == 0 and not grade.final_right, text
    # An unmerged but equal timeline still counts; a bare final interval maps to its option.
    student = ("Omar saw Greta from 6am to 9am; busy: 6am to 9am. Lena saw Greta from 9am to 12pm; "
               "busy: 6am to 9am and 9am to 12pm. The only free time is 12pm to 2pm.")
    grade = FAMILY.grade(example.question, example.choices, student)
    assert (grade.steps, grade.steps_right, grade.final_item, grade.final_right) == (5, 3, "12pm to 2pm", True)
    assert grade.claimed_answer == example.answer


_WALKED_STATE = re.compile(r"saw \w+ from [^;,]+[;,] (?:the day:|so the day is|now) ([^.]+)\.")


def _solved_with_full_marks(examples, style):
    """(example, rationale, answer, day) for each example, once the style's rationale earned full grader marks."""
    for example in examples:
        rationale, answer = FAMILY.solver(style)(example, random.Random(0))
        grade = FAMILY.grade(example.question, example.choices, rationale)
        assert answer == example.answer and grade.steps_right == grade.steps and grade.final_right, example.id
        assert grade.claimed_answer == answer, example.id
        yield example, rationale, answer, parse_day(example.question)


def test_the_day_walked_style_answers_every_bbh_item_and_walks_the_whole_day(bbh_examples):
    for example, rationale, answer, day in _solved_with_full_marks(bbh_examples, "day_walked"):
        for step in _WALKED_STATE.findall(rationale):
            pieces = re.findall(r"(\d{1,2}[ap]m) to (\d{1,2}[ap]m) (free|busy)", step)
            assert pieces[0][0] == clock(day.wake) and pieces[-1][1] == clock(day.close), (example.id, step)
            assert all(a[1] == b[0] and a[2] != b[2] for a, b in zip(pieces, pieces[1:])), (example.id, step)
        marks = re.findall(r"is (\([a-d]\)), (a match|no)", rationale)
        assert [m for m in marks if m[1] == "a match"] == [(answer, "a match")] and len(marks) == 4, example.id


def test_a_walked_step_that_mislabels_a_free_piece_is_wrong():
    rationale, _ = FAMILY.solver("day_walked")(HANDMADE, random.Random(0))
    full = FAMILY.grade(HANDMADE.question, HANDMADE.choices, rationale)
    start = rationale.index("Kai saw")
    end = rationale.index(".", start)
    step = rationale[start:end]
    assert "12pm to 2pm free" in step, step
    wrong = rationale[:start] + step.replace("12pm to 2pm free", "12pm to 2pm busy") + rationale[end:]
    grade = FAMILY.grade(HANDMADE.question, HANDMADE.choices, wrong)
    assert grade.steps_right == full.steps_right - 1 and grade.final_right


def test_the_labels_first_style_states_each_day_label_first_and_copies_the_slot_from_its_one_free_label(bbh_examples):
    for example, rationale, _, day in _solved_with_full_marks(bbh_examples, "day_labels_first"):
        states = _WALKED_STATE.findall(rationale)
        assert len(states) == len(day.sightings), example.id
        last = re.findall(r"(free|busy): (\d{1,2}[ap]m to \d{1,2}[ap]m)", states[-1])
        assert [piece for label, piece in last if label == "free"] == [span(day.free_slot())], example.id
        assert f"free: {span(day.free_slot())}." in rationale, example.id
