from __future__ import annotations

import operator
import random
import re
from functools import lru_cache

import pytest

from distill.solvers.arithmetic import FAMILY, UnsolvableQuestion, parse_problem
from serve.core.records import Example
from serve.data.bbh import question_key
from serve.data.generated import bbh_question_keys
from serve.data.generators.arithmetic import GENERATOR, OPERATIONS, divisors
from tests.solver_checks import distinct_texts, generated, solve_all, teacher_gets_full_marks

SUBTASKS = [f"{n}_digit_{op}" for n in range(1, 6) for op in ("addition", "subtraction", "multiplication", "division")]
PER_SIZE = 1000
OPERATORS = {"+": operator.add, "-": operator.sub, "×": operator.mul, "/": operator.truediv}
EQUATION = re.compile(r"(?<![\d-])(\d+(?: [-+×/] \d+)+) = (-?\d+)")


@lru_cache(maxsize=None)
def every_question(subtask: str) -> frozenset[str]:
    """All the questions a size can ask, spelled out (only for sizes small enough to list)."""
    params = GENERATOR.sizes[subtask]
    word, _, compute = OPERATIONS[params["operation"]]
    top = 10 ** params["digits"]
    if params["operation"] == "division":
        pairs = [(0, b) for b in range(1, top)] + [(a, b) for a in range(1, top) for b in divisors(a)]
    else:
        pairs = [(a, b) for a in range(top) for b in range(top)]
    return frozenset(f"What is {a} {word} {b}?" for a, b in pairs)


def exhaustive(subtask: str) -> bool:
    """Sizes holding fewer than PER_SIZE questions: 100 per 1-digit operation (32 divisions), 572 2-digit divisions."""
    return GENERATOR.sizes[subtask]["digits"] == 1 or subtask == "2_digit_division"


@lru_cache(maxsize=None)
def examples_of(subtask: str) -> tuple[Example, ...]:
    """PER_SIZE questions through the gen: source, or every question of a small size, drawn straight from the
    generator until each has turned up (so the check does not hang on the source's draw budget)."""
    if not exhaustive(subtask):
        return tuple(generated(f"gen:arithmetic/{subtask}", limit=PER_SIZE, split="all"))
    params, rng, found = GENERATOR.params_for(subtask, {}), random.Random(subtask), {}
    for _ in range(400_000):
        drawn = GENERATOR.draw(rng, params)
        found.setdefault(drawn.question, Example(f"{subtask}/{len(found)}", "arithmetic", drawn.question,
                                                 drawn.answer, drawn.choices, "train", drawn.meta, drawn.answer_type))
        if len(found) == len(every_question(subtask)):
            break
    return tuple(found.values())


def teacher(example, seed: int = 0) -> str:
    return FAMILY.solve(example, random.Random(f"{seed}|{example.id}|0"))[0]


def question(text: str) -> Example:
    """A question written for a test, as the generator would draw it."""
    problem = parse_problem(text)
    return Example(f"handmade/{text}", "arithmetic", text, str(problem.result), None, "test", {}, "number")


@pytest.mark.parametrize("subtask", SUBTASKS)
def test_every_generated_question_of_the_subtask_is_solved_distinct_and_new(subtask):
    examples = examples_of(subtask)
    right, wrong, unreadable = solve_all(FAMILY, list(examples), samples=2)
    assert (right, wrong, unreadable) == (len(examples), [], [])
    assert all(e.answer_type == "number" and e.choices is None for e in examples)
    keys = {question_key(e.question) for e in examples}
    assert len(keys) == len(examples) and not keys & bbh_question_keys()
    if exhaustive(subtask):  # every question there is comes out (compared by count: a failing diff is huge)
        assert len(examples) == len(every_question(subtask)) < PER_SIZE
        assert not {e.question for e in examples} - every_question(subtask)
    else:
        assert len(examples) == PER_SIZE


def test_the_source_yields_every_question_of_a_one_digit_size():
    for subtask in SUBTASKS[:4]:
        examples = generated(f"gen:arithmetic/{subtask}", limit=len(every_question(subtask)), split="all")
        assert {e.question for e in examples} == every_question(subtask), subtask


def test_raw_draws_repeat_little_and_follow_the_size():
    for subtask in ("3_digit_addition", "4_digit_division", "5_digit_multiplication"):
        params = GENERATOR.params_for(subtask, {})
        rng = random.Random(subtask)
        draws = [GENERATOR.draw(rng, params) for _ in range(PER_SIZE)]
        assert len({d.question for d in draws}) >= 0.97 * PER_SIZE, subtask
        assert all(max(d.meta["a"], d.meta["b"]) < 10 ** params["digits"] for d in draws)
        assert max(max(d.meta["a"], d.meta["b"]) for d in draws) >= 10 ** (params["digits"] - 1)


@pytest.mark.parametrize("subtask", SUBTASKS)
def test_every_equation_in_a_rationale_is_true(subtask):
    """Independent of the solver: evaluate each "x op y ... = z" the text states, left to right."""
    for example in examples_of(subtask)[::13]:
        text = teacher(example)
        equations = EQUATION.findall(text)
        assert equations, text
        for left, claimed in equations:
            tokens = left.split()
            value = int(tokens[0])
            for op, number in zip(tokens[1::2], map(int, tokens[2::2])):
                value = OPERATORS[op](value, number)
            assert value == int(claimed), (example.question, left, claimed, text)


@pytest.mark.parametrize("subtask", ["3_digit_addition", "5_digit_addition", "4_digit_subtraction"])
def test_partial_results_are_the_last_digits_of_the_result(subtask):
    for example in examples_of(subtask)[:60]:
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
        for example in examples_of(subtask)[5:8]:
            assert distinct_texts(FAMILY, example) >= 25, example.id


def test_teacher_gets_full_marks():
    for subtask in SUBTASKS:
        teacher_gets_full_marks(FAMILY, random.Random(subtask).sample(examples_of(subtask), 25))


def test_symbols_wording_is_read():
    for subtask in SUBTASKS:
        examples = generated(f"gen:arithmetic/{subtask}?wording=symbols", limit=30, split="all")
        assert all(re.fullmatch(r"What is \d+ [-+×/] \d+\?", e.question) for e in examples)
        assert solve_all(FAMILY, examples)[0] == len(examples)
        teacher_gets_full_marks(FAMILY, examples[:5], seeds=2)


def _sentences(text: str) -> list[str]:
    return re.split(r"(?<=\.) ", text)


@pytest.mark.parametrize("subtask, marker", [
    ("4_digit_addition", "Tens"),
    ("5_digit_subtraction", "Hundreds"),
    ("3_digit_multiplication", "Hundreds digit"),
    ("4_digit_division", "Bring down"),
])
def test_grader_catches_a_wrong_step_and_a_missing_one(subtask, marker):
    checked = 0
    for example in examples_of(subtask)[:40]:
        text = teacher(example)
        sentences = _sentences(text)
        index = next((i for i, s in enumerate(sentences) if s.startswith(marker)), None)
        if index is None:  # a small operand: no such step
            continue
        full = FAMILY.grade(example.question, example.choices, text)
        assert full.steps_right == full.steps > 1 and full.final_right
        # the step's first "=" result off by one: that step, and only it, becomes wrong
        wrong = re.sub(r"= (\d+)", lambda m: f"= {int(m[1]) + 1}", sentences[index], count=1)
        edited = FAMILY.grade(example.question, example.choices,
                              " ".join(sentences[:index] + [wrong] + sentences[index + 1:]))
        assert edited.steps_right == full.steps - 1 and edited.final_right, (example.question, wrong)
        missing = FAMILY.grade(example.question, example.choices, " ".join(sentences[:index] + sentences[index + 1:]))
        assert missing.steps_right == full.steps - 1, example.question
        checked += 1
    assert checked >= 10


def test_grader_reads_the_final_claim():
    example = question("What is 697 times 205?")
    text = teacher(example)
    assert FAMILY.grade(example.question, None, text).claimed_answer == example.answer == "142885"
    *body, closing = _sentences(text)
    assert "142885" in closing and "option" not in text
    wrong_end = text.replace(closing, closing.replace("142885", "142886"))
    grade = FAMILY.grade(example.question, None, wrong_end)
    assert grade.final_item == "142886" and not grade.final_right and grade.steps_right == grade.steps


def test_choices_are_still_read_and_quoted():
    """BIG-bench listed numbers among words; the solver still answers such a question with a letter."""
    choices = ["142885", "banana", "142785", "house", "9"]
    example = Example("handmade/choices", "arithmetic", "What is 697 times 205?", "(a)", choices, "test", {},
                      "multiple_choice")
    text, answer = FAMILY.solve(example, random.Random(0))
    assert answer == "(a)" and text.count(" is (") >= len(choices)
    *body, listing, restated = _sentences(text)
    assert FAMILY.grade(example.question, choices, text).claimed_answer == "(a)"
    # the listing's numbers are options, not claims: without the restated result the closing still counts
    grade = FAMILY.grade(example.question, choices, " ".join([*body, listing]))
    assert grade.final_item == "142885" and grade.final_right


@pytest.mark.parametrize("garbage", ["", "banana banana", "Ones: = = 3 so far", "(b)" * 50, "Sum: 1 + 1 = 2."])
def test_grader_gives_garbage_no_steps(garbage):
    grade = FAMILY.grade("What is 697 times 205?", None, garbage)
    assert grade.steps == 5 and grade.steps_right == 0 and not grade.final_right


def test_generated_questions_get_the_number():
    for subtask in ("2_digit_subtraction", "4_digit_division"):
        for example in examples_of(subtask)[:20]:
            rationale, answer = FAMILY.solve(example, random.Random(0))
            assert answer == example.answer and "option" not in rationale and "(a)" not in rationale
            assert FAMILY.grade(example.question, None, rationale).claimed_answer == answer


@pytest.mark.parametrize("text", ["What is the capital of France?", "What is 7 divided by 2?",
                                  "What is 7 divided by 0?", "What is -3 plus 4?", "What is 7 / 2?",
                                  "What is 12345678 plus 1?", "What is 3 * 4?"])
def test_off_pattern_questions_are_rejected(text):
    with pytest.raises(UnsolvableQuestion):
        parse_problem(text)


@pytest.mark.parametrize("params", [{"digits": 0}, {"digits": 7}, {"operation": "modulo"}, {"wording": "bbh2"}])
def test_the_generator_refuses_what_it_cannot_draw(params):
    with pytest.raises(ValueError):
        GENERATOR.draw(random.Random(0), GENERATOR.params_for(None, params))
