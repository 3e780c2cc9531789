"""The multistep_arithmetic_two program teacher and generator: BBH's file, generated questions of every
size, the rewrite chain checked against Python's own arithmetic, and the step grader."""

from __future__ import annotations

import random
import re

import pytest
from solver_checks import (bbh_task, bbh_task_is_solved, distinct_draws, distinct_texts, each_rationale,
                           generated_are_solved_distinct_and_new, rewrite_chain, solve_all, teacher_gets_full_marks)

from distill.solvers.base import UnsolvableQuestion
from distill.solvers.multistep_arithmetic_two import FAMILY, read_expression, render
from serve.core.records import Example
from serve.data.bbh import question_key
from serve.data.generators.multistep_arithmetic_two import GENERATOR

TASK = "multistep_arithmetic_two"
QUESTIONS_PER_SIZE = 1000
WORKED = "((2 + 7 * -3) - (8 - -5 * 4 + 1)) ="  # not a BBH item (checked below)
_NUMBER = re.compile(r"(?<![\d)])-?\d+")
_PRODUCT = re.compile(r"(-?\d+) \* (-?\d+)")


def drawn(size: str, count: int = QUESTIONS_PER_SIZE, **overrides) -> list[Example]:
    """``count`` distinct generated questions that are not BBH items, as the gen: source keeps them."""
    return distinct_draws(GENERATOR, TASK, size, count, 2 * count, overrides)


def python_value(text: str) -> int:
    """Python's own arithmetic on an expression: the independent check, used only here."""
    return eval(text, {"__builtins__": {}})  # noqa: S307 - the text is digits, + - * and brackets


def check_chain(example: Example, rationale: str) -> None:
    states = rewrite_chain(rationale)
    assert states[0] == render(read_expression(example.question)), rationale
    assert states[-1] == example.answer, rationale
    for before, after in zip(states, states[1:]):
        assert python_value(after) == python_value(before), (before, after)
        numbers_before, numbers_after = len(_NUMBER.findall(before)), len(_NUMBER.findall(after))
        if numbers_after < numbers_before:  # one operation: two numbers become one
            assert numbers_after == numbers_before - 1, (before, after)
        else:  # a product written as partial products, each with a factor of one non-zero digit
            new_products = set(_PRODUCT.findall(after)) - set(_PRODUCT.findall(before))
            assert new_products, (before, after)
            for a, b in new_products:
                assert min(len(a.strip("-0")), len(b.strip("-0"))) == 1, (before, after)


@pytest.fixture(scope="module")
def bbh():
    return bbh_task(TASK)


def test_every_bbh_item_is_solved():
    bbh_task_is_solved(FAMILY, TASK, samples=2)


def test_bbh_rationales_do_one_operation_per_step(bbh):
    each_rationale(FAMILY, bbh, check_chain)


def test_bbh_rationales_get_full_marks(bbh):
    teacher_gets_full_marks(FAMILY, bbh[::5])


def test_default_size_has_bbh_shape(bbh):
    shape = re.compile(r"\(\((-?\d(?: [-+*] -?\d){3})\) [-+*] \((-?\d(?: [-+*] -?\d){3})\)\) =")
    assert all(shape.fullmatch(e.question) for e in bbh)
    assert all(shape.fullmatch(e.question) for e in drawn("default", 200))
    assert question_key(WORKED) not in {question_key(e.question) for e in bbh}


@pytest.mark.parametrize("size", list(GENERATOR.sizes))
def test_generated_questions_are_solved(size):
    examples = drawn(size)
    generated_are_solved_distinct_and_new(FAMILY, examples, QUESTIONS_PER_SIZE)
    for example in examples:
        assert python_value(example.question.removesuffix(" =")) == int(example.answer)
    each_rationale(FAMILY, examples[:150], check_chain)
    teacher_gets_full_marks(FAMILY, examples[:60], seeds=2)


@pytest.mark.parametrize("overrides", [{"wording": "varied"}, {"largest": 99}, {"depth": 1}, {"operands": 2}])
def test_other_parameters_are_solved(overrides):
    examples = drawn("default", 200, **overrides)
    assert solve_all(FAMILY, examples)[0] == len(examples)
    each_rationale(FAMILY, examples[:100], check_chain)


def test_worked_example():
    example = Example("x/0", TASK, WORKED, "-48", None, answer_type="number")
    rationale, answer = FAMILY.solve(example, random.Random(0))
    assert answer == "-48"
    assert ("((2 + 7 * -3) - (8 - -5 * 4 + 1)) = ((2 + -21) - (8 - -5 * 4 + 1)) = (-19 - (8 - -5 * 4 + 1)) = "
            "(-19 - (8 - -20 + 1)) = (-19 - (28 + 1)) = (-19 - 29) = -48.") in rationale


def test_products_of_two_long_numbers_go_through_partial_products():
    example = Example("x/0", TASK, "((5 + 34) * (3 * 6)) =", "702", None, answer_type="number")
    rationale, answer = FAMILY.solve(example, random.Random(0))
    assert answer == "702"
    assert "(39 * 18) = (39 * 10 + 39 * 8) = (390 + 39 * 8) = (390 + 312) = 702." in rationale
    inside = Example("x/1", TASK, "(7 - 12 * 305) =", "-3653", None, answer_type="number")
    rationale, answer = FAMILY.solve(inside, random.Random(0))
    assert answer == "-3653"
    assert "(7 - 12 * 305) = (7 - (12 * 300 + 12 * 5)) = (7 - (3600 + 12 * 5)) = (7 - (3600 + 60))" in rationale


def test_samples_differ_in_wording():
    for example in drawn("default", 10):
        assert distinct_texts(FAMILY, example) >= 20, example.question


def test_grader_catches_a_wrong_a_missing_and_a_final_step():
    example = Example("x/0", TASK, WORKED, "-48", None)
    rationale, _ = FAMILY.solve(example, random.Random(0))
    assert FAMILY.grade(WORKED, None, rationale).steps == 6
    wrong = rationale.replace("(-19 - (28 + 1))", "(-19 - (12 + 1))")
    grade = FAMILY.grade(WORKED, None, wrong)
    assert (grade.steps_right, grade.final_right) == (5, True)
    missing = rationale.replace(" = (-19 - 29)", "")
    grade = FAMILY.grade(WORKED, None, missing)
    assert (grade.steps, grade.steps_right, grade.final_right) == (6, 5, True)
    flipped = rationale[:rationale.index("= -48") + 2] + "48."
    grade = FAMILY.grade(WORKED, None, flipped)
    assert (grade.steps_right, grade.final_item, grade.final_right, grade.claimed_answer) == (5, "48", False, "48")
    spaced = rationale.replace("(-19 - 29)", "( -19-29 )")  # spacing is not graded
    assert FAMILY.grade(WORKED, None, f"{spaced} So the answer is -48.").steps_right == 6


def test_grader_gives_garbage_nothing_and_never_raises():
    for text in ("", "The answer is -48.", "I am not sure.", "( ( = ) - * . ;", "\n\n; . ,"):
        grade = FAMILY.grade(WORKED, None, text)
        assert grade.steps == 6 and grade.steps_right == 0
    rng = random.Random(0)
    words = ["-19", "29", "(", ")", "-", "+", "*", "=", ".", ";", ":", "-48", "(-19"]
    for _ in range(300):
        FAMILY.grade(WORKED, None, " ".join(rng.choice(words) for _ in range(rng.randrange(40))))


@pytest.mark.parametrize("question", ["What is the capital of France?", "5 =", "(3 + ) =", "((2 - 1) =",
                                      "3 4 =", ""])
def test_unreadable_questions_are_refused(question):
    with pytest.raises(UnsolvableQuestion):
        FAMILY.solve(Example("x/0", TASK, question, "0", None), random.Random(0))


def test_op_first_style_states_each_operation_beside_its_operands_and_is_graded_like_the_default():
    from distill.solvers.expression_steps import changed_span

    op_first = FAMILY.__class__(FAMILY.name, FAMILY.solver("op_first"), FAMILY.grade)
    examples = bbh_task_is_solved(op_first, "multistep_arithmetic_two")
    teacher_gets_full_marks(op_first, examples[::10])
    rationale, _ = op_first.solve(examples[0], random.Random(0))
    operations = re.findall(r"(?:^|\. )(\(?-?\d+ [-+*] -?\d+\)?) = (-?\d+);", rationale)
    assert len(operations) == 7  # one a step
    for operation in operations:
        left = operation[0].strip("()")
        a, op, b = left.split()
        assert int(operation[1]) == {"+": int(a) + int(b), "-": int(a) - int(b), "*": int(a) * int(b)}[op]
    # the result equals a neighbour: the operation is "2 * 1", not "* 1"
    assert changed_span("2 * 1 + 2".split(), "2 + 2".split(), ("+", "-", "*")) == (["2", "*", "1"], ["2"])
    assert changed_span("( 3 + 4 ) * 2".split(), "7 * 2".split(), ("+", "-", "*")) == (["(", "3", "+", "4", ")"], ["7"])


def test_signs_apart_style_works_magnitudes_only_and_is_graded_like_the_default():
    from distill.solvers.multistep_arithmetic_two import signed_working

    signs_apart = FAMILY.__class__(FAMILY.name, FAMILY.solver("signs_apart"), FAMILY.grade)
    examples = bbh_task_is_solved(signs_apart, "multistep_arithmetic_two")
    teacher_gets_full_marks(signs_apart, examples[::10])
    for a in range(-25, 26):
        for b in range(-25, 26):
            for sign in "+-*":
                pieces = signed_working(a, sign, b)
                assert pieces[0] == f"{a} {sign} {b}" and pieces[-1] == str(eval(pieces[0]))
                assert all(eval(piece) == eval(pieces[0]) for piece in pieces)  # each piece equals the last
                # the last working piece: two non-negative numbers (the larger first when subtracted),
                # at most a minus sign in front of the whole
                last = re.fullmatch(r"-?\(?(\d+) ([-+*]) (\d+)\)?", pieces[-2] if len(pieces) > 1 else pieces[0])
                assert last and (last[2] != "-" or int(last[1]) >= int(last[3])), pieces
    rationale, answer = signs_apart.solve(examples[0], random.Random(0))
    assert "-1 + 2 = 2 - 1 = 1;" in rationale and "-4 * -7 = 4 * 7 = 28;" in rationale and answer == "24"


def test_places_apart_style_works_one_place_at_a_time_and_is_graded_like_the_default():
    from distill.solvers.multistep_arithmetic_two import nonzero_digits, signed_working

    places_apart = FAMILY.__class__(FAMILY.name, FAMILY.solver("places_apart"), FAMILY.grade)
    examples = bbh_task_is_solved(places_apart, "multistep_arithmetic_two")
    teacher_gets_full_marks(places_apart, examples[::10])
    for a in range(-130, 131, 3):
        for b in range(-130, 131, 7):
            for sign in "+-*":
                if sign == "*" and min(nonzero_digits(str(a)), nonzero_digits(str(b))) >= 2:
                    continue  # split into partial products at the state level before any working
                signs = signed_working(a, sign, b)
                pieces = signed_working(a, sign, b, by_places=True)
                assert pieces[:len(signs) - 1] == signs[:-1] and pieces[-1] == signs[-1]
                assert all(eval(piece) == eval(pieces[0]) for piece in pieces), pieces
                # the operation that gives the value adds, subtracts or multiplies one non-zero digit
                last = re.fullmatch(r"-?\(?(\d+) ([-+*]) (\d+)\)?", pieces[-2] if len(pieces) > 1 else pieces[0])
                assert last, pieces
                small = min(nonzero_digits(last[1]), nonzero_digits(last[3])) if last[2] == "*" else nonzero_digits(last[3])
                assert small <= 1 or (last[2] == "*" and min(int(last[1]), int(last[3])) < 2), pieces
                for product in re.findall(r"(\d+) \* (\d+)", " ".join(pieces[len(signs) - 1:-1])):
                    assert max(map(nonzero_digits, product)) <= 1 or min(map(int, product)) < 2, pieces
    assert signed_working(-21, "*", 8, by_places=True) == ["-21 * 8", "-(21 * 8)", "-(20 * 8 + 1 * 8)", "-(160 + 8)", "-168"]
    assert signed_working(168, "+", 35, by_places=True) == ["168 + 35", "168 + 30 + 5", "198 + 5", "203"]
    assert signed_working(1, "+", 45, by_places=True) == ["1 + 45", "45 + 1", "46"]
    rationale, answer = places_apart.solve(examples[0], random.Random(0))
    assert "46 - 22 = 46 - 20 - 2 = 26 - 2 = 24;" in rationale and answer == "24"
