from __future__ import annotations

import dataclasses
import operator
import random
import re

import pytest

from distill.solvers.arithmetic import FAMILY, UnsolvableQuestion, parse_problem
from serve.data.bigbench import load_task
from tests.solver_checks import distinct_texts, solve_whole_task, teacher_gets_full_marks

SUBTASKS = [f"{n}_digit_{op}" for n in range(1, 6) for op in ("addition", "subtraction", "multiplication", "division")]
OPERATIONS = {"+": operator.add, "-": operator.sub, "×": operator.mul, "/": operator.truediv}
EQUATION = re.compile(r"(?<![\d-])(\d+(?: [-+×/] \d+)+) = (-?\d+)")


def teacher(example, seed: int = 0) -> str:
    return FAMILY.solve(example, random.Random(f"{seed}|{example.id}|0"))[0]


def example_of(subtask: str, question: str):
    return next(e for e in load_task(f"arithmetic/{subtask}") if e.question == question)


@pytest.mark.parametrize("subtask", SUBTASKS)
def test_every_example_of_the_subtask_is_solved(subtask):
    right, wrong, unreadable = solve_whole_task(FAMILY, f"arithmetic/{subtask}", samples=2)
    assert wrong == [] and unreadable == []
    assert right == len(load_task(f"arithmetic/{subtask}"))


@pytest.mark.parametrize("subtask", SUBTASKS)
def test_every_equation_in_a_rationale_is_true(subtask):
    """Independent of the solver: evaluate each "x op y ... = z" the text states, left to right."""
    for example in load_task(f"arithmetic/{subtask}")[::7]:
        text = teacher(example)
        equations = EQUATION.findall(text)
        assert equations, text
        for left, claimed in equations:
            tokens = left.split()
            value = int(tokens[0])
            for op, number in zip(tokens[1::2], map(int, tokens[2::2])):
                value = OPERATIONS[op](value, number)
            assert value == int(claimed), (example.question, left, claimed, text)


@pytest.mark.parametrize("subtask", ["3_digit_addition", "5_digit_addition", "4_digit_subtraction"])
def test_partial_results_are_the_last_digits_of_the_result(subtask):
    for example in load_task(f"arithmetic/{subtask}")[:60]:
        problem = parse_problem(example.question)
        if problem.a < max(10, problem.b):
            continue  # one-digit sums and negative differences are checked by the equation test
        text = teacher(example)
        partials = re.findall(r"(?:so far|giving|now we have) (\d+)\.", text)
        assert partials, text
        for k, partial in enumerate(partials):
            assert partial == str(abs(problem.result) % 10 ** (k + 1)).zfill(k + 1), (text, k)
        assert int(partials[-1]) == problem.result


def test_samples_differ_in_wording():
    for subtask in ("1_digit_addition", "1_digit_subtraction", "1_digit_multiplication", "1_digit_division",
                    "2_digit_division", "3_digit_subtraction", "5_digit_multiplication", "4_digit_division"):
        for example in load_task(f"arithmetic/{subtask}")[5:8]:
            assert distinct_texts(FAMILY, example) >= 25, example.id


def test_teacher_gets_full_marks():
    for subtask in SUBTASKS:
        examples = load_task(f"arithmetic/{subtask}")
        teacher_gets_full_marks(FAMILY, random.Random(subtask).sample(examples, min(25, len(examples))))


def _sentences(text: str) -> list[str]:
    return re.split(r"(?<=\.) ", text)


@pytest.mark.parametrize("subtask, question, marker", [
    ("4_digit_addition", "What is 5940 plus 5702?", "Tens"),
    ("5_digit_subtraction", "What is 58458 minus 68759?", "Hundreds"),
    ("3_digit_multiplication", "What is 697 times 205?", "Hundreds digit"),
    ("4_digit_division", "What is 9116 divided by 86?", "Bring down 6"),
])
def test_grader_catches_a_wrong_step_and_a_missing_one(subtask, question, marker):
    example = example_of(subtask, question)
    text = teacher(example)
    full = FAMILY.grade(question, example.choices, text)
    assert full.steps_right == full.steps > 1 and full.final_right
    sentences = _sentences(text)
    index = next(i for i, s in enumerate(sentences) if s.startswith(marker))
    # the step's first "=" result off by one: that step, and only it, becomes wrong
    wrong = re.sub(r"= (\d+)", lambda m: f"= {int(m[1]) + 1}", sentences[index], count=1)
    edited = FAMILY.grade(question, example.choices, " ".join(sentences[:index] + [wrong] + sentences[index + 1:]))
    assert edited.steps_right == full.steps - 1 and edited.final_right
    missing = FAMILY.grade(question, example.choices, " ".join(sentences[:index] + sentences[index + 1:]))
    assert missing.steps_right == full.steps - 1


def test_grader_reads_the_final_claim_and_the_quoted_option():
    example = example_of("3_digit_multiplication", "What is 697 times 205?")
    text = teacher(example)
    assert FAMILY.grade(example.question, example.choices, text).claimed_answer == example.answer
    *body, closing, listing, restated = _sentences(text)  # ..., "So 697 × 205 = 142885.", options, its letter
    assert "= 142885." in closing and listing.count(" is (") == len(example.choices)
    assert re.fullmatch(r".*\b142885,? is \(e\)\.", restated) and example.answer == "(e)"
    wrong_end = text.replace(closing, closing.replace("142885", "142886"))
    grade = FAMILY.grade(example.question, example.choices, wrong_end)
    assert grade.final_item == "142886" and not grade.final_right and grade.steps_right == grade.steps
    # the listing's numbers are options, not claims: without the restated result the closing still counts
    grade = FAMILY.grade(example.question, example.choices, " ".join([*body, closing, listing]))
    assert grade.final_item == "142885" and grade.final_right


@pytest.mark.parametrize("garbage", ["", "banana banana", "Ones: = = 3 so far", "(b)" * 50, "Sum: 1 + 1 = 2."])
def test_grader_gives_garbage_no_steps(garbage):
    grade = FAMILY.grade("What is 697 times 205?", ["142885", "banana"], garbage)
    assert grade.steps == 5 and grade.steps_right == 0 and not grade.final_right


def test_exact_match_examples_get_the_number():
    example = dataclasses.replace(load_task("arithmetic/2_digit_subtraction")[0], choices=None)
    rationale, answer = FAMILY.solve(example, random.Random(0))
    assert answer == example.meta["explanation"] and "option" not in rationale
    assert FAMILY.grade(example.question, None, rationale).claimed_answer == answer


@pytest.mark.parametrize("question", ["What is the capital of France?", "What is 7 divided by 2?",
                                      "What is 7 divided by 0?", "What is -3 plus 4?",
                                      "What is 12345678 plus 1?"])
def test_off_pattern_questions_are_rejected(question):
    with pytest.raises(UnsolvableQuestion):
        parse_problem(question)
