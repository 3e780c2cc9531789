from __future__ import annotations

import random
import re
from collections import Counter

import pytest

from distill.solvers.base import UnsolvableQuestion
from distill.solvers.object_counting import FAMILY, _CATEGORY_OF, _SINGULAR_OF, parse_inventory
from serve.data.bigbench import load_task
from tests.solver_checks import distinct_texts, solve_whole_task, teacher_gets_full_marks

TASK = "object_counting"


@pytest.fixture(scope="module")
def examples():
    return load_task(TASK)


def test_every_example_is_answered_right():
    right, wrong, unreadable = solve_whole_task(FAMILY, TASK, samples=2)
    assert (wrong, unreadable) == ([], [])
    assert right == 1000


def test_lexicon_agrees_with_the_questions_each_noun_appears_in(examples):
    """A noun's category is the one whose questions it appears in most (distractors are rare)."""
    seen: dict[str, Counter] = {}
    for example in examples:
        inventory = parse_inventory(example.question)
        for item in inventory.items:
            seen.setdefault(item.noun, Counter())[inventory.category] += 1
    assert set(seen) == set(_CATEGORY_OF)
    for noun, categories in seen.items():
        assert categories.most_common(1)[0][0] == _CATEGORY_OF[noun], (noun, categories)


def test_quantities_and_plurals_are_read(examples):
    inventory = parse_inventory("I have a head of broccoli, three heads of broccoli, two mice, an onion, "
                                "and two fish. How many vegetables do I have?")
    assert [(item.quantity, item.noun) for item in inventory.items] == [
        (1, "head of broccoli"), (3, "head of broccoli"), (2, "mouse"), (1, "onion"), (2, "fish")]
    assert inventory.running_totals() == [1, 4, 4, 5, 5]
    assert _SINGULAR_OF["stalks of celery"] == "stalk of celery" and _SINGULAR_OF["strawberries"] == "strawberry"


def test_off_pattern_questions_are_rejected():
    with pytest.raises(UnsolvableQuestion):
        parse_inventory("What is the capital of France?")
    with pytest.raises(UnsolvableQuestion):
        parse_inventory("I have a cat and a spaceship. How many animals do I have?")
    with pytest.raises(UnsolvableQuestion):
        parse_inventory("I have a cat and a dog. How many planets do I have?")


def test_samples_differ_in_wording(examples):
    two_items = [e for e in examples if e.question.count(",") == 1][:5]
    for example in two_items + examples[:5]:
        assert distinct_texts(FAMILY, example) >= 25, example.question


def test_teacher_rationales_get_full_marks(examples):
    by_category: dict[str, list] = {}
    for example in examples:
        by_category.setdefault(parse_inventory(example.question).category, []).append(example)
    assert len(by_category) == 5
    for group in by_category.values():
        teacher_gets_full_marks(FAMILY, group[:40])


def _teacher(example, seed=0):
    return FAMILY.solve(example, random.Random(f"{seed}|{example.id}|0"))


def _step_sentence(rationale: str, item_phrase: str) -> str:
    """The sentence of the rationale that opens with the item phrase (the way a person would find it)."""
    opener = item_phrase[0].upper() + item_phrase[1:]
    return next(s for s in re.split(r"(?<=\.) ", rationale) if s.startswith(opener + " ") or s.startswith(opener + ":"))


def test_grader_catches_a_wrong_and_a_missing_step(examples):
    # "I have a frog, a plum, two nectarines, a banana, an orange, a raspberry, and a grape." -> 7 fruits
    example = examples[4]
    assert example.answer == "7"
    for seed in range(8):
        rationale, answer = _teacher(example, seed)
        full = FAMILY.grade(example.question, None, rationale)
        assert (full.steps, full.steps_right, full.final_item, full.claimed_answer) == (8, 8, "7", "7")

        # Two nectarines bring the total from 1 to 3: claim 4 instead.
        step = _step_sentence(rationale, "two nectarines")
        assert step.endswith("= 3.")
        wrong = rationale.replace(step, step[:-2] + "4.")
        assert FAMILY.grade(example.question, None, wrong).steps_right == 7

        # The frog is no fruit: claim it is one (and keep the total at 0, which is then inconsistent).
        frog = _step_sentence(rationale, "a frog")
        counted_frog = "A frog: 1 fruit, total 0 + 1 = 1."
        assert FAMILY.grade(example.question, None, rationale.replace(frog, counted_frog)).steps_right == 7

        missing = rationale.replace(" " + step, "")
        assert FAMILY.grade(example.question, None, missing).steps_right == 7

        wrong_final = rationale.rsplit(". ", 1)[0] + ". So I have 8 fruits."
        graded = FAMILY.grade(example.question, None, wrong_final)
        assert (graded.steps_right, graded.final_right, graded.claimed_answer) == (7, False, "8")

        truncated = rationale.rsplit(". ", 1)[0] + "."
        graded = FAMILY.grade(example.question, None, truncated)
        assert (graded.steps_right, graded.final_item, graded.final_right) == (7, None, False)


@pytest.mark.parametrize("garbage", ["", "banana banana banana", "The the the 3 + = .. ;; A", "\n\n:::",
                                     "Two two two two two two two two", "A frog: not not, total stays"])
def test_garbage_gets_no_steps(examples, garbage):
    graded = FAMILY.grade(examples[4].question, None, garbage)
    assert graded.steps == 8
    assert graded.steps_right == 0 and not graded.final_right
