from __future__ import annotations

import random
import re

import pytest
import solver_checks
from solver_checks import distinct_texts, solve_whole_task, teacher_gets_full_marks

from distill.solvers.base import UnsolvableQuestion, quoted_option
from distill.solvers.dyck_languages import FAMILY
from serve.core.records import Example
from serve.data.bigbench import convert_example, load_task, read_task, task_file

TASK = "dyck_languages"


def as_exact_match() -> list[Example]:
    """Every example with its one right closing sequence (the best of its 84 target_scores) as a text target."""
    data = read_task(TASK)
    return [convert_example(TASK, i, {"input": raw["input"], "target": max(raw["target_scores"],
                                                                           key=raw["target_scores"].get)},
                            str(task_file(TASK))) for i, raw in enumerate(data["examples"])]


def loaded() -> list[Example]:
    """What load_task gives; its 84 choices overflow the letters (a)-(z), so until the loader decides, exact match."""
    try:
        return load_task(TASK)
    except IndexError:
        return as_exact_match()


@pytest.fixture(scope="module")
def examples() -> list[Example]:
    return loaded()


def with_four_choices(example: Example, gold: str) -> Example:
    """The same question as multiple choice over the gold closing sequence and three wrong ones."""
    wrong = [c for c in (")", "] }", "> > )", "} ]", ") ]") if c != gold][:3]
    choices = [gold, *wrong]
    random.Random(example.id).shuffle(choices)
    return Example(example.id, TASK, example.question, f"({'abcd'[choices.index(gold)]})", choices,
                   answer_type="multiple_choice")


def test_every_example_is_answered_right(monkeypatch):
    try:
        load_task(TASK)
    except IndexError:
        monkeypatch.setattr(solver_checks, "load_task", lambda task: as_exact_match())
    right, wrong, unreadable = solve_whole_task(FAMILY, TASK, samples=2)
    assert (wrong, unreadable) == ([], [])
    assert right == 1000


def test_multiple_choice_quotes_the_matching_option():
    for example in as_exact_match()[:40]:
        question = with_four_choices(example, example.answer)
        rationale, answer = FAMILY.solve(question, random.Random(0))
        assert answer == question.answer
        assert quoted_option(rationale) == answer
        listing = "; ".join(f"{choice} is ({'abcd'[i]})" for i, choice in enumerate(question.choices))
        assert f"{listing}. " in rationale and re.search(rf"{re.escape(example.answer)},? is {re.escape(answer)}\.$", rationale)
        grade = FAMILY.grade(question.question, question.choices, rationale)
        assert grade.claimed_answer == answer and grade.final_right and grade.final_item == example.answer
        assert grade.steps_right == grade.steps
        # the listing's brackets are the options', not steps or the closing: without the restated
        # result the rationale's own closing is still the final claim
        listed_only = rationale[: rationale.rindex(f"{listing}.") + len(listing) + 1]
        grade = FAMILY.grade(question.question, question.choices, listed_only)
        assert grade.final_item == example.answer and grade.final_right and grade.steps_right == grade.steps
    teacher_gets_full_marks(FAMILY, [with_four_choices(e, e.answer) for e in as_exact_match()[::100]])


def test_samples_differ_in_wording(examples):
    shortest = sorted(examples, key=lambda e: len(e.question))[:5]
    for example in shortest + examples[:5]:
        assert distinct_texts(FAMILY, example) >= 25, example.question


def test_teacher_rationales_get_full_marks(examples):
    teacher_gets_full_marks(FAMILY, examples[::20])


def test_every_step_restates_the_whole_stack():
    example = as_exact_match()[0]
    assert example.question == "{ [ [ [ { [ ] } ] ]"
    rationale, answer = FAMILY.solve(example, random.Random(3))
    stacks = ["{", "{ [", "{ [ [", "{ [ [ [", "{ [ [ [ {", "{ [ [ [ { [", "{ [ [ [ {", "{ [ [ [", "{ [ [", "{ ["]
    steps = rationale.split("; ")[:10]
    assert [step.rsplit(" ", len(stack.split()))[1:] for step, stack in zip(steps, stacks)] == \
        [stack.split() for stack in stacks]
    assert answer == "] }" and rationale.endswith("] }.")


def test_grader_catches_a_wrong_and_a_missing_step():
    example = as_exact_match()[0]  # { [ [ [ { [ ] } ] ]  -> 10 stacks and the closing: 11 steps
    for seed in range(8):
        rationale, _ = FAMILY.solve(example, random.Random(seed))
        parts = rationale.split("; ")
        assert parts[6].endswith(" { [ [ [ {")  # the stack after the 7th symbol, ]
        wrong = parts[:6] + [parts[6][: -len("{ [ [ [ {")] + "{ [ [ {"] + parts[7:]
        grade = FAMILY.grade(example.question, None, "; ".join(wrong))
        assert (grade.steps, grade.steps_right, grade.final_item, grade.final_right) == (11, 10, "] }", True)
        missing = parts[:3] + parts[4:]
        assert FAMILY.grade(example.question, None, "; ".join(missing)).steps_right == 10
        reversed_closing = rationale[: rationale.rindex("] }")] + "} ]."
        grade = FAMILY.grade(example.question, None, reversed_closing)
        assert (grade.steps_right, grade.final_item, grade.final_right, grade.claimed_answer) == \
            (10, "} ]", False, "} ]")
        truncated = "; ".join(parts[:5])  # stops after five symbols, no closing
        grade = FAMILY.grade(example.question, None, truncated)
        assert (grade.steps_right, grade.final_item, grade.final_right) == (5, None, False)


def test_grader_gives_garbage_nothing_and_never_raises():
    question = "{ [ [ [ { [ ] } ] ]"
    for text in ("", "The answer is ] }.", "I am not sure.", "( ( ( [ ] ; ] ) ; (c) . ;;", "\n\n; . ,"):
        grade = FAMILY.grade(question, None, text)
        assert grade.steps == 11 and grade.steps_right == 0 and not grade.final_right
    rng = random.Random(0)
    for _ in range(200):
        text = " ".join(rng.choice(["(", ")", "[", "]", "{", "}", "<", ">", ";", ".", ",", ":", "stack", "option (b)"])
                        for _ in range(rng.randrange(30)))
        FAMILY.grade(question, [") ]", "] }"], text)


@pytest.mark.parametrize("question", ["What is the capital of France?", "( ]", "( [ ] )", "( a )", ""])
def test_unreadable_questions_are_refused(question):
    example = Example("x/0", TASK, question, "", None)
    with pytest.raises(UnsolvableQuestion):
        FAMILY.solve(example, random.Random(0))
