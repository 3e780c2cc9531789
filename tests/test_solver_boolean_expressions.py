"""The boolean_expressions program teacher and generator: BBH's file, generated questions of every
size, the rewrite chain checked against Python's own evaluation, and the step grader."""

from __future__ import annotations

import random

import pytest
from solver_checks import (bbh_task, bbh_task_is_solved, distinct_draws, distinct_texts, each_rationale,
                           generated_are_solved_distinct_and_new, rewrite_chain, solve_all, teacher_gets_full_marks)

from distill.solvers.base import UnsolvableQuestion
from distill.solvers.boolean_expressions import FAMILY, read_expression
from serve.core.records import Example
from serve.data.bbh import question_key
from serve.data.generators.boolean_expressions import GENERATOR

TASK = "boolean_expressions"
QUESTIONS_PER_SIZE = 1000
WORKED = "not ( True ) or ( False ) is"  # not a BBH item (checked below)


def drawn(size: str, count: int = QUESTIONS_PER_SIZE, **overrides) -> list[Example]:
    """``count`` distinct generated questions that are not BBH items, as the gen: source keeps them."""
    return distinct_draws(GENERATOR, TASK, size, count, 4 * count, overrides)


def python_value(text: str) -> str:
    """Python's own reading of an expression: the independent check, used only here."""
    return str(eval(text, {"__builtins__": {}})).lower()  # noqa: S307 - the text is True/False/not/and/or/()


def check_chain(example: Example, rationale: str) -> None:
    states = rewrite_chain(rationale)
    assert states[0] == " ".join(read_expression(example.question)), rationale
    assert states[-1].lower() == example.answer, rationale
    for before, after in zip(states, states[1:]):
        assert python_value(after) == python_value(before), (before, after)
        # one operator per step: a not, or an and/or with its operands, and any lone brackets
        removed = {word: before.split().count(word) - after.split().count(word) for word in ("not", "and", "or")}
        assert sum(removed.values()) <= 1 and len(after.split()) < len(before.split()), (before, after)


@pytest.fixture(scope="module")
def bbh():
    return bbh_task(TASK)


def test_every_bbh_item_is_solved():
    bbh_task_is_solved(FAMILY, TASK, samples=2)


def test_bbh_rationales_rewrite_one_operator_at_a_time(bbh):
    each_rationale(FAMILY, bbh, check_chain)


def test_bbh_rationales_get_full_marks(bbh):
    teacher_gets_full_marks(FAMILY, bbh[::5])


def test_bbh_size_draws_bbh_shapes(bbh):
    """BBH's items are all 8 tokens, and the default size draws from the same expressions."""
    assert {len(read_expression(e.question)) for e in bbh} == {GENERATOR.parameters["tokens"]}
    assert all(e.question.endswith(" is") for e in bbh)
    assert question_key(WORKED) not in {question_key(e.question) for e in bbh}


@pytest.mark.parametrize("size", list(GENERATOR.sizes))
def test_generated_questions_are_solved(size):
    examples = drawn(size)
    tokens = GENERATOR.params_for(size, {})["tokens"]
    generated_are_solved_distinct_and_new(FAMILY, examples, QUESTIONS_PER_SIZE)
    for example in examples:
        expression = read_expression(example.question)
        assert len(expression) == tokens and example.question == " ".join(expression) + " is"
        assert python_value(" ".join(expression)) == example.answer
    each_rationale(FAMILY, examples[:200], check_chain)
    teacher_gets_full_marks(FAMILY, examples[:100], seeds=3)


def test_varied_wording_is_read():
    examples = drawn("default", 200, wording="varied")
    assert len({e.question.split()[0] for e in examples}) > 3
    assert solve_all(FAMILY, examples)[0] == len(examples)


def test_generated_questions_are_uniform_over_the_expressions():
    """2122 expressions have 8 tokens; 4000 uniform draws see about 1790 of them."""
    rng, params = random.Random(7), GENERATOR.params_for("default", {})
    seen = {GENERATOR.draw(rng, params).question for _ in range(4000)}
    assert 1700 < len(seen) <= 2122


def test_worked_example():
    example = Example("x/0", TASK, WORKED, "false", None, answer_type="true_false")
    rationale, answer = FAMILY.solve(example, random.Random(0))
    assert answer == "false"
    assert "not ( True ) or ( False ) = not True or False = False or False = False." in rationale


def test_samples_differ_in_wording():
    for example in drawn("default", 10):
        assert distinct_texts(FAMILY, example) >= 20, example.question


def test_grader_catches_a_wrong_a_missing_and_a_final_step():
    example = Example("x/0", TASK, "True and not ( False or True ) or False is", "false", None)
    # states: the question; True and not True or False; True and False or False; False or False; False
    rationale, _ = FAMILY.solve(example, random.Random(0))
    assert FAMILY.grade(example.question, None, rationale).steps == 4
    wrong = rationale.replace("= True and False or False =", "= True and True or False =")
    grade = FAMILY.grade(example.question, None, wrong)
    assert (grade.steps_right, grade.final_right) == (3, True)
    missing = rationale.replace(" = False or False", "")
    grade = FAMILY.grade(example.question, None, missing)
    assert (grade.steps, grade.steps_right, grade.final_right) == (4, 3, True)
    chain_end = rationale.index("= False or False = False") + len("= False or False = ")
    flipped = rationale[:chain_end] + "True."
    grade = FAMILY.grade(example.question, None, flipped)
    assert (grade.steps_right, grade.final_item, grade.final_right, grade.claimed_answer) == (3, "true", False, "true")
    grade = FAMILY.grade(example.question, None, f"{rationale} So the answer is False.")
    assert grade.steps_right == grade.steps and grade.claimed_answer == "false"


def test_grader_gives_garbage_nothing_and_never_raises():
    question = "True and not ( False or True ) or False is"
    for text in ("", "The answer is False.", "I am not sure.", "( ( = ) not and . ;", "\n\n; . ,"):
        grade = FAMILY.grade(question, None, text)
        assert grade.steps == 4 and grade.steps_right == 0
    rng = random.Random(0)
    words = ["True", "False", "not", "and", "or", "(", ")", "=", ".", ";", ":", "is"]
    for _ in range(300):
        FAMILY.grade(question, None, " ".join(rng.choice(words) for _ in range(rng.randrange(40))))


@pytest.mark.parametrize("question", ["What is the capital of France?", "True is", "True and is",
                                      "( True and False is", "not is", ""])
def test_unreadable_questions_are_refused(question):
    with pytest.raises(UnsolvableQuestion):
        FAMILY.solve(Example("x/0", TASK, question, "true", None), random.Random(0))


def test_op_first_style_answers_every_bbh_example_and_is_graded_like_the_default():
    op_first = FAMILY.__class__(FAMILY.name, FAMILY.solver("op_first"), FAMILY.grade)
    examples = bbh_task_is_solved(op_first, "boolean_expressions")
    teacher_gets_full_marks(op_first, examples[::10])
    rationale, _ = op_first.solve(Example("hand/0", "boolean_expressions", "not ( True ) and ( True ) is", "false",
                                          answer_type="true_false"), random.Random(0))
    assert "not True = False; False and True" in rationale and rationale.count(" = ") == 3
