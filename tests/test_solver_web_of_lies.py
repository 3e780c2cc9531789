from __future__ import annotations

import random
import re

import pytest

from distill.solvers.base import UnsolvableQuestion
from distill.solvers.web_of_lies import FAMILY, parse_web
from serve.core.records import Example
from serve.data.generators.web_of_lies import GENERATOR
from tests.solver_checks import (bbh_task, bbh_task_is_solved, distinct_texts, draws_per_second,
                                 generated_are_solved_distinct_and_new, indexed_draws, teacher_gets_full_marks)

PER_SIZE = 1000


def drawn_examples(size: str, count: int = PER_SIZE) -> list[Example]:
    return indexed_draws(GENERATOR, "web_of_lies", size, count)


@pytest.fixture(scope="module")
def generated() -> dict[str, list[Example]]:
    return {size: drawn_examples(size) for size in GENERATOR.sizes}


def test_bbh_file_is_answered_right():
    bbh_task_is_solved(FAMILY, "web_of_lies", samples=2)


def test_teacher_gets_full_marks_on_bbh():
    teacher_gets_full_marks(FAMILY, random.Random(0).sample(bbh_task("web_of_lies"), 60))


@pytest.mark.parametrize("size", list(GENERATOR.sizes))
def test_generated_questions_are_answered_right_and_new(generated, size):
    examples = generated[size]
    people = GENERATOR.params_for(size, {})["people"]
    assert all(len(parse_web(e.question).people) == people for e in examples)
    generated_are_solved_distinct_and_new(FAMILY, examples, PER_SIZE)
    assert examples[-1].id == f"web_of_lies/{size}/{PER_SIZE - 1}"  # no draw repeated an earlier one
    answers = [e.answer for e in examples]
    assert 0.45 < answers.count("yes") / len(answers) < 0.55
    teacher_gets_full_marks(FAMILY, examples[:100], seeds=2)


def test_generated_form_matches_bbh():
    bbh = bbh_task("web_of_lies")
    shape = re.compile(r"Question: \w+ (?:tells the truth|lies)\.(?: \w+ says \w+ (?:tells the truth|lies)\.){4} "
                       r"Does \w+ tell the truth\?")
    assert all(shape.fullmatch(e.question) for e in bbh)
    assert all(shape.fullmatch(e.question) for e in drawn_examples("default", 200))
    bbh_names = {n for e in bbh for n in re.findall(r"\b[A-Z]\w+\b", e.question)} - {"Question", "Does"}
    drawn_names = {n for e in drawn_examples("default", 500) for n in re.findall(r"\b[A-Z]\w+\b", e.question)}
    assert drawn_names - {"Question", "Does"} == bbh_names


def test_the_chain_is_followed():
    # Worked by hand: Ann lies; Bo's "Ann lies" is true; Cy's "Bo lies" is false; Di's "Cy lies" is true.
    web = parse_web("Question: Ann lies. Bo says Ann lies. Cy says Bo lies. Di says Cy lies. Does Di tell the truth?")
    assert [(p.name, p.truthful) for p in web.people] == [("Ann", False), ("Bo", True), ("Cy", False), ("Di", True)]
    assert web.asked == "Di" and web.answer
    for question in ("What is the capital of France?", "Question: Ann lies. Bo says Cy lies. Does Bo tell the truth?",
                     "Question: Ann lies. Bo says Ann lies. Does Cy tell the truth?",
                     "Question: Ann lies. Bo thinks Ann lies. Does Bo tell the truth?", ""):
        with pytest.raises(UnsolvableQuestion):
            parse_web(question)


def test_samples_differ_in_wording(generated):
    for example in generated["default"][:8]:
        assert distinct_texts(FAMILY, example) >= 25, example.id


def sentences(text: str) -> list[str]:
    return re.split(r"(?<=[.!?])\s+(?=[A-Z])", text)


def flip(sentence: str) -> str:
    """The sentence's conclusion (its last verdict) turned around."""
    head, verb = re.match(r"(.*) (tells the truth|lies)\.$", sentence).groups()
    return f"{head} {'lies' if verb == 'tells the truth' else 'tells the truth'}."


@pytest.mark.parametrize("index", range(6))
def test_grader_catches_a_wrong_and_a_missing_step(generated, index):
    example = generated["default"][index]
    rationale, answer = FAMILY.solve(example, random.Random(index))
    steps = len(parse_web(example.question).people) + 1
    full = FAMILY.grade(example.question, None, rationale)
    assert (full.steps, full.steps_right, full.final_right, full.claimed_answer) == (steps, steps, True, answer)

    lines = sentences(rationale)  # one line per person, then the yes/no line
    assert len(lines) == steps
    wrong = lines[:2] + [flip(lines[2])] + lines[3:]
    assert FAMILY.grade(example.question, None, " ".join(wrong)).steps_right == steps - 1
    requoted = re.sub(r"says (\w+) (tells the truth|lies)",
                      lambda m: f"says {m.group(1)} {'lies' if m.group(2) == 'tells the truth' else 'tells the truth'}",
                      lines[3])
    assert FAMILY.grade(example.question, None, " ".join(lines[:3] + [requoted] + lines[4:])).steps_right == steps - 1

    missing = lines[:1] + lines[2:]
    grade = FAMILY.grade(example.question, None, " ".join(missing))
    assert grade.steps_right == steps - 1 and grade.final_right

    flipped = {"yes": "no", "no": "yes"}
    last = re.sub(r"\b(yes|no)\.$", lambda m: flipped[m.group(1)] + ".", lines[-1])
    grade = FAMILY.grade(example.question, None, " ".join(lines[:-1] + [last]))
    assert grade.steps_right == steps - 1 and not grade.final_right and grade.claimed_answer == flipped[answer]


def test_garbage_gets_no_steps(generated):
    example = generated["default"][0]
    for text in ("", "The answer is yes.", "(((", "Ann says", "\n. . . tells the truth lies yes no"):
        grade = FAMILY.grade(example.question, None, text)
        assert grade.steps_right <= 1 and grade.steps_right == int(grade.final_right)
    assert FAMILY.grade(example.question, None, "").steps_right == 0


def test_generation_is_fast():
    assert draws_per_second(GENERATOR, "default", 2000, 0) > 500
