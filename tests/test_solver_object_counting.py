from __future__ import annotations

import random
import re
from collections import Counter

import pytest

from distill.solvers.base import UnsolvableQuestion
from distill.solvers.object_counting import (FAMILY, _CATEGORY_OF, _CATEGORY_PLURALS, _SINGULAR_OF, parse_inventory,
                                             plural)
from serve.core.records import Example
from serve.data.generators.object_counting import GENERATOR, NOUNS
from tests.solver_checks import (bbh_task, bbh_task_is_solved, distinct_texts, generated,
                                 generated_are_solved_distinct_and_new, teacher_gets_full_marks)

TASK = "object_counting"
SOURCES = [f"gen:{TASK}/{size}" for size in GENERATOR.sizes] + [f"gen:{TASK}/default?wording=varied"]
# written for this test (no BBH item): 7 fruits among 7 items, so 8 graded steps
COUNTED = Example("own/fruits", TASK, "I have a cat, a plum, two peaches, a banana, an apple, a raspberry, and a "
                                      "grape. How many fruits do I have?", "7")


@pytest.fixture(scope="module")
def bbh():
    return bbh_task(TASK)


@pytest.fixture(scope="module")
def questions():
    return generated(f"gen:{TASK}", limit=400)


def test_every_bbh_example_is_answered_right():
    bbh_task_is_solved(FAMILY, TASK, samples=2)


@pytest.mark.parametrize("source", SOURCES)
def test_generated_questions_are_answered_right_distinct_and_new(source):
    generated_are_solved_distinct_and_new(FAMILY, generated(source, limit=1000), 1000, TASK)


def test_generator_lists_follow_the_size_and_the_category():
    params = GENERATOR.params_for("long", {"wording": "varied"})
    rng = random.Random(0)
    for _ in range(300):
        drawn = GENERATOR.draw(rng, params)
        inventory = parse_inventory(drawn.question)
        assert 11 <= len(inventory.items) == drawn.meta["items"] <= 20
        assert len({item.noun for item in inventory.items}) == len(inventory.items)
        assert inventory.category == drawn.meta["category"]
        assert len(inventory.items) - drawn.meta["distractors"] >= 2  # as in BBH
        assert sum(_CATEGORY_OF[item.noun] != inventory.category for item in inventory.items) == \
            drawn.meta["distractors"]
    exact = GENERATOR.params_for("default", {"items": "7", "distractors": "2", "max_quantity": 9})
    for _ in range(100):
        drawn = GENERATOR.draw(rng, exact)
        assert (drawn.meta["items"], drawn.meta["distractors"]) == (7, 2)
        assert all(item.quantity <= 9 for item in parse_inventory(drawn.question).items)


def test_the_lexicon_has_nouns_for_every_category_and_one_category_per_noun():
    """The solver reads the generator's NOUNS: every category it asks about has nouns, and no noun is
    listed under two categories (the solver's noun -> category map would keep only one of them)."""
    assert set(_CATEGORY_PLURALS.values()) == set(NOUNS) and all(NOUNS.values())
    listed = [noun for nouns in NOUNS.values() for noun in nouns]
    assert len(listed) == len(set(listed)) == len(_CATEGORY_OF)
    assert all(_SINGULAR_OF[plural(noun)] == noun for noun in listed)


def test_lexicon_agrees_with_the_questions_each_noun_appears_in(bbh):
    """A noun's category is the one whose questions it appears in most (distractors are rare)."""
    seen: dict[str, Counter] = {}
    for example in bbh:
        inventory = parse_inventory(example.question)
        for item in inventory.items:
            seen.setdefault(item.noun, Counter())[inventory.category] += 1
    assert set(seen) == set(_CATEGORY_OF)
    for noun, categories in seen.items():
        assert categories.most_common(1)[0][0] == _CATEGORY_OF[noun], (noun, categories)


def test_quantities_plurals_and_wordings_are_read():
    inventory = parse_inventory("I have a head of broccoli, three heads of broccoli, two mice, an onion, "
                                "and two fish. How many vegetables do I have?")
    assert [(item.quantity, item.noun) for item in inventory.items] == [
        (1, "head of broccoli"), (3, "head of broccoli"), (2, "mouse"), (1, "onion"), (2, "fish")]
    assert inventory.running_totals() == [1, 4, 4, 5, 5]
    assert _SINGULAR_OF["stalks of celery"] == "stalk of celery" and _SINGULAR_OF["strawberries"] == "strawberry"
    bought = parse_inventory("I bought seven pigs, a cow and eleven ducks. How many animals did I buy?")
    assert [item.quantity for item in bought.items] == [7, 1, 11] and bought.running_totals()[-1] == 19


def test_off_pattern_questions_are_rejected():
    with pytest.raises(UnsolvableQuestion):
        parse_inventory("What is the capital of France?")
    with pytest.raises(UnsolvableQuestion):
        parse_inventory("I have a cat and a spaceship. How many animals do I have?")
    with pytest.raises(UnsolvableQuestion):
        parse_inventory("I have a cat and a dog. How many planets do I have?")


def test_samples_differ_in_wording(questions):
    two_items = [e for e in questions if len(parse_inventory(e.question).items) == 2][:5]
    assert len(two_items) == 5
    for example in two_items + questions[:5] + [COUNTED]:
        assert distinct_texts(FAMILY, example) >= 25, example.question


def _by_category(examples, per_category):
    by_category: dict[str, list] = {}
    for example in examples:
        by_category.setdefault(parse_inventory(example.question).category, []).append(example)
    assert len(by_category) == 5
    return [e for group in by_category.values() for e in group[:per_category]]


def test_teacher_rationales_get_full_marks(questions):
    varied = generated(f"gen:{TASK}/long?wording=varied", limit=40)
    teacher_gets_full_marks(FAMILY, _by_category(questions, 30) + varied + [COUNTED])


def test_teacher_rationales_get_full_marks_on_bbh(bbh):
    teacher_gets_full_marks(FAMILY, _by_category(bbh, 40))


def test_the_category_named_style_answers_every_bbh_item_with_full_marks_and_names_each_item_s_category(bbh):
    solve = FAMILY.solver("category_named")
    for example in bbh:
        rationale, answer = solve(example, random.Random(0))
        grade = FAMILY.grade(example.question, None, rationale)
        assert answer == example.answer and grade.steps_right == grade.steps and grade.final_right, example.id
        inventory = parse_inventory(example.question)
        for item in inventory.items:
            own = _CATEGORY_OF[item.noun]
            step = _step_sentence(rationale, item.phrase)
            assert re.search(rf": (an? {own}|{own}s?), ", step), (example.id, step)
            assert ("not " in step) == (own != inventory.category), (example.id, step)


def _teacher(example, seed=0):
    return FAMILY.solve(example, random.Random(f"{seed}|{example.id}|0"))


def _step_sentence(rationale: str, item_phrase: str) -> str:
    """The sentence of the rationale that opens with the item phrase (the way a person would find it)."""
    opener = item_phrase[0].upper() + item_phrase[1:]
    return next(s for s in re.split(r"(?<=\.) ", rationale) if s.startswith(opener + " ") or s.startswith(opener + ":"))


def test_grader_catches_a_wrong_and_a_missing_step():
    example = COUNTED
    for seed in range(8):
        rationale, answer = _teacher(example, seed)
        assert answer == "7"
        full = FAMILY.grade(example.question, None, rationale)
        assert (full.steps, full.steps_right, full.final_item, full.claimed_answer) == (8, 8, "7", "7")

        # Two peaches bring the total from 1 to 3: claim 4 instead.
        step = _step_sentence(rationale, "two peaches")
        assert step.endswith("= 3.")
        wrong = rationale.replace(step, step[:-2] + "4.")
        assert FAMILY.grade(example.question, None, wrong).steps_right == 7

        # The cat is no fruit: claim it is one (and keep the total at 0, which is then inconsistent).
        cat = _step_sentence(rationale, "a cat")
        counted_cat = "A cat: 1 fruit, total 0 + 1 = 1."
        assert FAMILY.grade(example.question, None, rationale.replace(cat, counted_cat)).steps_right == 7

        missing = rationale.replace(" " + step, "")
        assert FAMILY.grade(example.question, None, missing).steps_right == 7

        wrong_final = rationale.rsplit(". ", 1)[0] + ". So I have 8 fruits."
        graded = FAMILY.grade(example.question, None, wrong_final)
        assert (graded.steps_right, graded.final_right, graded.claimed_answer) == (7, False, "8")

        truncated = rationale.rsplit(". ", 1)[0] + "."
        graded = FAMILY.grade(example.question, None, truncated)
        assert (graded.steps_right, graded.final_item, graded.final_right) == (7, None, False)


@pytest.mark.parametrize("garbage", ["", "banana banana banana", "The the the 3 + = .. ;; A", "\n\n:::",
                                     "Two two two two two two two two", "A cat: not not, total stays"])
def test_garbage_gets_no_steps(garbage):
    graded = FAMILY.grade(COUNTED.question, None, garbage)
    assert graded.steps == 8
    assert graded.steps_right == 0 and not graded.final_right
