"""scripts/word_sorting_step_errors.py: a student's insertion steps, each checked from its own previous list."""

from __future__ import annotations

import random

import pytest

from distill.solvers.word_sorting import FAMILY
from serve.data.sources import load_examples
from tests.solver_checks import load_script as load_any_script
from tests.solver_checks import write_predictions


def load_script():
    return load_any_script("word_sorting_step_errors")


@pytest.mark.parametrize("style", ["insertion", "insertion_tagged", "insertion_compared", "insertion_spelled"])
def test_the_teachers_own_rationales_have_every_state_right(style, tmp_path):
    script = load_script()
    examples = load_examples("gen:word_sorting", split="test", limit=6)
    rows = [(e.question, FAMILY.solver(style)(e, random.Random(0))[0]) for e in examples]
    predictions = [{"question": q, "output": o, "correct": True} for q, o in rows]
    counts, answers = script.step_counts(write_predictions(tmp_path / style, predictions))
    states = sum(len(e.question.split("List:")[1].split()) for e in examples)
    assert counts["right"] == counts["word is the question's next"] == counts["first letter right"] == states
    assert [total for _, total in answers] == [right for right, _ in answers]
    compares = style in ("insertion_compared", "insertion_spelled")
    assert counts["tie comparisons right"] == counts["tie comparisons"] == (counts["tie comparisons written"]
                                                                           if compares else 0)
    assert counts["tie comparisons spelled right"] == (counts["tie comparisons"] if style == "insertion_spelled" else 0)
    split = [(counts[kind], counts[kind, "answers"]) for kind in script.ANSWER_SPLIT.values()]
    assert sum(total for _, total in split) == len(examples) and all(right == total for right, total in split)
    assert counts["tie steps"] > 0 and (not compares or counts["tie comparisons"] >= counts["tie steps"])


def test_a_misplaced_word_costs_its_own_state_and_the_states_after_it_are_checked_from_it(tmp_path):
    script = load_script()
    question = "Sort the following words alphabetically: List: pear apple melon kiwi"
    output = ("Insert pear (p): pear. Insert apple (a): pear apple. Insert melon (m): melon pear apple. "
              "Insert kiwi (k): kiwi melon pear apple. Sorted: kiwi melon pear apple.")
    counts, answers = script.step_counts(write_predictions(tmp_path / "slip", [{"question": question, "output": output}]))
    # "pear apple" misplaces apple; from there, melon goes first (before pear) and so does kiwi: right
    assert counts["new word in the wrong place"] == 1 and counts["right"] == 3 and answers == [(3, 4)]
    assert script.classify(["apple", "pear"], "melon", ["pear", "apple", "melon"]) == "listed words reordered"
    assert script.classify(["apple", "pear"], "melon", ["apple", "melon"]) == "words dropped or added"


def test_a_comparison_is_checked_for_its_letters_and_its_verdict():
    script = load_script()
    counts = script.Counter()
    script.count_comparisons(counts, "harm", ["hat: r before t", "hive: a before i", "hum: a before u", "harp: m before p"],
                             "hat: r before t; hive: e before i; hum: a after u")
    assert (counts["tie comparisons"], counts["tie comparisons written"]) == (4, 3)
    assert counts["tie comparisons naming the right letters"] == 2 and counts["tie comparisons right"] == 1
    at_2, at_3, _ = script.LETTER_KINDS  # hive and hum part from harm at letter 2, hat at letter 3; harp unwritten
    assert (counts[at_2], counts[at_2, "written"], counts[at_3], counts[at_3, "written"]) == (1, 2, 1, 1)


def test_a_spelled_comparison_is_checked_for_its_spelling_apart_from_its_verdict():
    script = load_script()
    counts = script.Counter()
    teacher = ["hat: h-a-r against h-a-t, r before t", "hive: h-a against h-i, a before i"]
    # hat: spelled right, verdict right; hive: spelled wrong (h-e), the letters of its verdict still right
    script.count_comparisons(counts, "harm", teacher, "hat: h-a-r against h-a-t, r before t; hive: h-a against h-e, a before i")
    assert counts["tie comparisons spelled right"] == 1 and counts["tie comparisons naming the right letters"] == 2
    assert counts["tie comparisons right"] == 1
