from __future__ import annotations

import dataclasses
import random
import re

import pytest

from distill.solvers.base import UnsolvableQuestion
from distill.solvers.word_sorting import FAMILY, parse_words
from serve.data.bigbench import load_task
from tests.solver_checks import distinct_texts, solve_whole_task, teacher_gets_full_marks

_SENTENCE_END = re.compile(r"(?<=\.)\s+(?=[A-Z])")


@pytest.fixture(scope="module")
def examples():
    return load_task("word_sorting")


def _sentences(rationale: str) -> list[str]:
    return _SENTENCE_END.split(rationale)


def _example_with(examples, *words):
    return next(e for e in examples if set(words) <= set(e.question.split()))


def test_every_example_is_answered_right():
    right, wrong, unreadable = solve_whole_task(FAMILY, "word_sorting")
    assert (wrong, unreadable) == ([], [])
    assert right == 1900


def test_samples_differ_in_wording(examples):
    # two-word lists have the fewest choices to vary; the others add tie lines
    for example in examples[:3] + [_example_with(examples, "she'll", "sheath"), examples[-1]]:
        assert distinct_texts(FAMILY, example) >= 25, example.id


def test_teacher_rationales_get_full_marks(examples):
    sample = random.Random(0).sample(examples, 60)
    odd = [e for e in examples if re.search(r"[&'.]", e.question)][:15]  # apostrophes, r&d, u.s.a
    teacher_gets_full_marks(FAMILY, sample + odd)


def test_symbols_and_ended_words_sort_first(examples):
    example = _example_with(examples, "she'll", "sheath")
    rationale, answer = FAMILY.solve(example, random.Random(1))
    assert answer.index("she'll") < answer.index("sheath")
    assert "apostrophe: she'll; a: sheath" in rationale


def test_grader_catches_a_wrong_and_a_missing_step(examples):
    example = _example_with(examples, "she'll", "sheath")  # groups resolved over several tie lines
    question = example.question
    rationale, answer = FAMILY.solve(example, random.Random(3))
    full = FAMILY.grade(question, None, rationale)
    assert full.steps == full.steps_right and full.final_right and full.claimed_answer == answer
    sentences = _sentences(rationale)
    ties = [i for i, s in enumerate(sentences) if re.search(r"letter \d+", s)]
    assert len(ties) >= 2

    # a tie line naming the wrong letter number: only that step is lost
    wrong = sentences[:]
    wrong[ties[1]] = re.sub(r"letter (\d+)", lambda m: f"letter {int(m.group(1)) + 1}", wrong[ties[1]], count=1)
    assert FAMILY.grade(question, None, " ".join(wrong)).steps_right == full.steps - 1

    # two words swapped in the final list: two positions lost, and the claim is wrong
    final_words = answer.split()
    swapped = final_words[:]
    swapped[0], swapped[1] = swapped[1], swapped[0]
    lead = sentences[-1].split(": ", 1)[0]
    bad_final = " ".join(sentences[:-1] + [f"{lead}: {' '.join(swapped)}."])
    grade = FAMILY.grade(question, None, bad_final)
    assert grade.steps_right == full.steps - 2 and not grade.final_right
    assert grade.claimed_answer == " ".join(swapped)

    # a word left out of the final list: it and every later position are wrong
    dropped = final_words[:3] + final_words[4:]
    short_final = " ".join(sentences[:-1] + [f"{lead}: {' '.join(dropped)}."])
    assert FAMILY.grade(question, None, short_final).steps_right == full.steps - (len(final_words) - 3)

    # missing steps: one tie line, then the first-letter line (one step per bucket)
    assert FAMILY.grade(question, None, " ".join(s for i, s in enumerate(sentences) if i != ties[0])).steps_right \
        == full.steps - 1
    first_letters = len(set(word[0] for word in parse_words(question)))  # not the instruction's words
    no_buckets = " ".join(s for i, s in enumerate(sentences) if i != 1)
    assert FAMILY.grade(question, None, no_buckets).steps_right == full.steps - first_letters

    # the student's own closing counts as its claim
    assert FAMILY.grade(question, None, f"{rationale} So the answer is {answer}.").final_right


def test_grader_survives_garbage(examples):
    question = examples[500].question
    for text in ("", "The answer is (a).", "a: b; c: d. letter 9 zz- : ; ", "Sorted: ."):
        grade = FAMILY.grade(question, None, text)
        assert grade.steps_right == 0 and not grade.final_right


def test_off_pattern_questions_are_rejected(examples):
    for question in ("Sort These Words", "apple banana apple", ""):
        with pytest.raises(UnsolvableQuestion):
            FAMILY.solve(dataclasses.replace(examples[0], question=question), random.Random(0))
