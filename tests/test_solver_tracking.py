from __future__ import annotations

import random

import pytest

from distill.solvers.tracking_shuffled_objects import UnsolvableQuestion, match_choice, narrate, parse_puzzle

QUESTION = ("Alice, Bob, and Claire are dancers at a square dance. At the start of a song, they each have a partner: "
            "Alice is dancing with Patrick, Bob is dancing with Karl, and Claire is dancing with Izzi. \n\n"
            "Throughout the song, the dancers often trade partners. First, Bob and Claire switch partners. "
            "Then, Claire and Alice switch partners. Finally, Claire and Bob switch partners. "
            "At the end of the dance, Alice is dancing with ")


def brute_force(question: str) -> dict[str, str]:
    """Independent replay: swap the names inside the assignment text itself."""
    puzzle = parse_puzzle(question)
    holders = {item: person for person, item in puzzle.start.items()}
    for a, b in puzzle.swaps:
        item_a = next(i for i, p in holders.items() if p == a)
        item_b = next(i for i, p in holders.items() if p == b)
        holders[item_a], holders[item_b] = b, a
    return {person: item for item, person in holders.items()}


def test_solver_answers_and_narration_agree():
    puzzle = parse_puzzle(QUESTION)
    assert puzzle.start == {"Alice": "Patrick", "Bob": "Karl", "Claire": "Izzi"}
    assert puzzle.swaps == [("Bob", "Claire"), ("Claire", "Alice"), ("Claire", "Bob")]
    expected = brute_force(QUESTION)["Alice"]
    rationale, final = narrate(puzzle, random.Random(0))
    assert final == expected
    assert rationale.rstrip(".").endswith(f"Alice is dancing with {expected}")
    assert match_choice(final, ["Patrick.", "Karl.", "Izzi."]) == ["Patrick", "Karl", "Izzi"].index(expected)


def test_samples_differ_in_wording_but_not_in_answer():
    puzzle = parse_puzzle(QUESTION)
    samples = [narrate(puzzle, random.Random(k)) for k in range(30)]
    assert len({text for text, _ in samples}) >= 20
    assert len({final for _, final in samples}) == 1


def test_off_pattern_question_is_rejected():
    with pytest.raises(UnsolvableQuestion):
        parse_puzzle("What is the capital of France?")
