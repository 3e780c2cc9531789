from __future__ import annotations

import random
import re

import pytest

from distill.solvers.base import UnsolvableQuestion, norm
from distill.solvers.logical_deduction import FAMILY, deduce, parse_puzzle
from serve.core.answers import letter
from serve.core.records import Example
from serve.data.bigbench import load_task
from solver_checks import distinct_texts, solve_whole_task, teacher_gets_full_marks

SUBTASKS = ("three_objects", "five_objects", "seven_objects")


def _examples(subtask: str) -> list[Example]:
    return load_task(f"logical_deduction/{subtask}")


@pytest.mark.parametrize("subtask", SUBTASKS)
def test_whole_task_is_answered_right(subtask):
    right, wrong, unreadable = solve_whole_task(FAMILY, f"logical_deduction/{subtask}")
    assert (wrong, unreadable) == ([], [])
    assert right == len(_examples(subtask))


def test_clues_of_every_setting_are_read_as_orders():
    books = parse_puzzle("On a shelf, there are three books: a red book, a gray book, and a green book. "
                         "The green book is the leftmost. The red book is to the right of the gray book.")
    assert books.fixed == [("green book", 1, "The green book is the leftmost")]
    assert [pair[:2] for pair in books.before] == [("gray book", "red book")]
    assert books.solutions() == [("green book", "gray book", "red book")]
    cars = parse_puzzle("In an antique car show, there are five vehicles: a bus, a truck, a sedan, a tractor, and "
                        "a minivan. The bus is the second-newest. The truck is newer than the bus. The sedan is the "
                        "third-oldest. The minivan is older than the tractor.")
    assert cars.solutions() == [("minivan", "tractor", "sedan", "bus", "truck")]
    golf = parse_puzzle("In a golf tournament, there were three golfers: Ada, Eli, and Rob. Eli finished "
                        "second-to-last. Rob finished below Ada.")
    assert golf.solutions() == [("Ada", "Eli", "Rob")]
    fruit = parse_puzzle("A fruit stand sells three fruits: kiwis, pears, and plums. The plums are the "
                         "second-most expensive. The kiwis are more expensive than the pears.")
    assert fruit.solutions() == [("pears", "plums", "kiwis")]


def test_unreadable_or_ambiguous_questions_are_refused():
    with pytest.raises(UnsolvableQuestion):
        parse_puzzle("What is the capital of France?")
    with pytest.raises(UnsolvableQuestion):
        parse_puzzle("On a shelf, there are three books: a red book, a gray book, and a green book. "
                     "The red book is heavier than the gray book.")
    two_orders = Example("x", "logical_deduction", "On a shelf, there are three books: a red book, a gray book, "
                         "and a green book. The red book is the leftmost.", "(a)",
                         ["The red book is the leftmost.", "The gray book is the leftmost.",
                          "The green book is the leftmost."])
    with pytest.raises(UnsolvableQuestion):
        FAMILY.solve(two_orders, random.Random(0))


def _rows(puzzle, text: str) -> list[list[str]]:
    """Every row 'gray, ?, red, ?, ?' the text states, as lists of short names and '?'."""
    item = "(?:\\?|" + "|".join(re.escape(puzzle.short(o)) for o in puzzle.objects) + ")"
    row_pattern = rf"(?<![\w?])(?:{item}, ){{{len(puzzle.objects) - 1}}}{item}(?=\.)"
    return [row.split(", ") for row in re.findall(row_pattern, text)]


@pytest.mark.parametrize("subtask", SUBTASKS)
def test_every_step_restates_a_row_that_grows_to_the_answer(subtask):
    for example in _examples(subtask)[:60]:
        rationale, answer = FAMILY.solve(example, random.Random(example.id))
        puzzle = parse_puzzle(example.question)
        rows = _rows(puzzle, rationale)
        assert rows, rationale
        for before, after in zip(rows, rows[1:]):  # each row keeps every spot the last one filled
            assert all(a == "?" or a == b for a, b in zip(before, after)), rationale
        assert "?" not in rows[-1] and answer == example.answer
        options = [c.rstrip(".") for c in example.choices]
        listing = "; ".join(f"{option} is {letter(i)}" for i, option in enumerate(options))
        assert "So the answer is" not in rationale and f"{listing}. " in rationale
        assert re.search(rf"{re.escape(options[ord(answer[1]) - 97])},? is {re.escape(answer)}\.$", rationale)
        # the listing names every option: the grader must read the rationale's own claim, not the
        # listing's last option, even when the restated result after it is missing
        listed_only = rationale[: rationale.rindex(f"{listing}.") + len(listing) + 1]
        grade = FAMILY.grade(example.question, example.choices, listed_only)
        assert grade.final_right and grade.steps_right == grade.steps, listed_only


def test_samples_differ():
    for subtask in SUBTASKS:
        for example in _examples(subtask)[:5]:
            assert distinct_texts(FAMILY, example) >= 25, example.id


@pytest.mark.parametrize("subtask", SUBTASKS)
def test_teacher_gets_full_marks(subtask):
    teacher_gets_full_marks(FAMILY, random.Random(1).sample(_examples(subtask), 40))


def _long_example() -> Example:
    """A real question with fixed clues and at least two chain steps after them."""
    for example in _examples("seven_objects"):
        puzzle = parse_puzzle(example.question)
        if puzzle.fixed and len(deduce(puzzle, range(len(puzzle.fixed)))) - len(puzzle.fixed) >= 2:
            return example
    raise AssertionError("no such question")


def test_grader_catches_a_wrong_and_a_missing_step_and_reads_garbage_as_nothing():
    example = _long_example()
    puzzle = parse_puzzle(example.question)
    rationale, answer = FAMILY.solve(example, random.Random(3))
    full = FAMILY.grade(example.question, example.choices, rationale)
    assert full.steps == len(deduce(puzzle, range(len(puzzle.fixed)))) + 1 == full.steps_right
    middle = deduce(puzzle, range(len(puzzle.fixed)))[len(puzzle.fixed)]  # the first chain step
    row = puzzle.row(middle.spots)
    spots = list(middle.spots)
    first, second = [i for i, o in enumerate(spots) if o][:2]
    spots[first], spots[second] = spots[second], spots[first]  # two objects traded: a wrong row
    swapped = puzzle.row(spots)
    wrong = FAMILY.grade(example.question, example.choices, rationale.replace(row, swapped))
    assert wrong.steps_right == full.steps - 1 and wrong.final_right
    missing = re.sub(r"[^.]*" + re.escape(row) + r"\.\s*", "", rationale, count=1)
    assert missing != rationale
    assert FAMILY.grade(example.question, example.choices, missing).steps_right == full.steps - 1
    for garbage in ("The answer is (a).", "", "?, ?, ?", "black, black, black, black, black, black, black.",
                    "option (z), nothing" * 3):
        grade = FAMILY.grade(example.question, example.choices, garbage)
        assert grade.steps_right == 0 and not grade.final_right


def test_grader_reads_the_final_claim():
    example = _long_example()
    puzzle = parse_puzzle(example.question)
    rationale, answer = FAMILY.solve(example, random.Random(5))
    full = FAMILY.grade(example.question, example.choices, rationale)
    final_row = puzzle.row(puzzle.solutions()[0])
    body = rationale[: rationale.index(final_row) + len(final_row) + 1]
    wrong_index = next(i for i, c in enumerate(example.choices) if letter(i) != answer)
    claim = FAMILY.grade(example.question, example.choices, f"{body} So {example.choices[wrong_index]}")
    assert claim.final_item == norm(example.choices[wrong_index].split(" is ")[0].split(" finished ")[0]
                                    .split(" are ")[0])
    assert not claim.final_right and claim.steps_right == full.steps - 1
    assert claim.claimed_answer == letter(wrong_index)  # no option quoted: the claim's own option


@pytest.mark.parametrize("subtask", SUBTASKS)
def test_open_spots_named_in_a_step_are_where_it_fills(subtask):
    """'the only open spot left of the gray book' must be left of it in the row that step states."""
    sides = {"left of": -1, "above": -1, "before": -1, "right of": 1, "below": 1, "after": 1}
    for example in _examples(subtask)[::5]:
        puzzle = parse_puzzle(example.question)
        names = "|".join(re.escape(o) for o in puzzle.objects)
        rationale, _ = FAMILY.solve(example, random.Random(example.id))
        previous = ["?"] * len(puzzle.objects)
        for sentence in re.split(r"(?<=\.) ", rationale):
            rows = _rows(puzzle, sentence)
            if not rows:
                continue
            spots = rows[-1]
            new = [i for i, (a, b) in enumerate(zip(previous, spots)) if a == "?" and b != "?"]
            where = re.search(rf"open spots? (between|left of|right of|above|below|before|after) (?:the )?({names})"
                              rf"(?: and (?:the )?({names}))?", sentence)
            if where:
                at = spots.index(puzzle.short(where.group(2)))
                if where.group(1) == "between":
                    end = spots.index(puzzle.short(where.group(3)))
                    assert all(at < i < end for i in new), sentence
                else:
                    assert all((i - at) * sides[where.group(1)] > 0 for i in new), sentence
            previous = spots
