from __future__ import annotations

import os
import random
import re
from collections import Counter
from functools import lru_cache

import pytest

from distill.solvers.base import UnsolvableQuestion, norm
from distill.solvers.logical_deduction import FAMILY, KINDS, Puzzle, deduce, parse_puzzle
from serve.core.answers import letter
from serve.core.records import Example
from serve.data.bbh import question_key
from serve.data.generators.logical_deduction import GENERATOR, WORDINGS
from solver_checks import bbh_task, distinct_texts, generated, solve_all, teacher_gets_full_marks

TASK = "logical_deduction"
BBH_TASKS = tuple(f"{TASK}_{size}" for size in ("three_objects", "five_objects", "seven_objects"))
SIZES = tuple(GENERATOR.sizes)  # three to nine objects
COUNTS = {size: GENERATOR.sizes[size]["objects"] for size in SIZES}
SOURCES = tuple(f"gen:{TASK}/{size}?wording={wording}" for size in SIZES for wording in GENERATOR.wordings)
EVERY = tuple(f"bbh:{task}" for task in BBH_TASKS) + SOURCES  # BBH ones skip without SCOTD_BBH_DIR
DRAWS = 1000


@lru_cache(maxsize=None)
def _generated(source: str) -> tuple[Example, ...]:
    return tuple(generated(source, limit=DRAWS))


def _examples(source: str) -> list[Example]:
    if source.startswith("bbh:"):
        return bbh_task(source[len("bbh:"):])
    return list(_generated(source))


def _params(source: str) -> dict:
    size, _, wording = source.split("/", 1)[1].partition("?wording=")
    return GENERATOR.params_for(size, {"wording": wording})


@pytest.mark.parametrize("task", BBH_TASKS)
def test_every_bbh_example_is_answered_right(task):
    examples = bbh_task(task)
    right, wrong, unreadable = solve_all(FAMILY, examples)
    assert (wrong, unreadable) == ([], [])
    assert right == len(examples) == 250


@pytest.mark.parametrize("source", SOURCES)
def test_generated_questions_are_answered_right_distinct_unique_and_new(source):
    examples = _examples(source)
    assert solve_all(FAMILY, examples) == (DRAWS, [], [])
    keys = {question_key(e.question) for e in examples}
    assert len(keys) == DRAWS
    for example in examples:  # the solver's own search finds the generator's hidden order, and only it
        assert parse_puzzle(example.question).solutions(limit=2) == [tuple(example.meta["order"])], example.question
    if os.environ.get("SCOTD_BBH_DIR"):
        assert not keys & {question_key(e.question) for task in BBH_TASKS for e in bbh_task(task)}


@pytest.mark.parametrize("source", SOURCES)
def test_generated_clue_sets_look_like_bbh(source):
    """n - 1 clues as a rule, fixed spots mixed with orders, no clue the others imply, the options
    in listing order at one spot, and the right letter spread evenly."""
    examples, n = _examples(source), _params(source)["objects"]
    puzzles = [parse_puzzle(e.question) for e in examples]
    clue_counts = Counter(len(p.fixed) + len(p.before) for p in puzzles)
    assert clue_counts[n - 1] >= 0.9 * DRAWS and set(clue_counts) <= {n - 1, n, n + 1}, clue_counts
    fixed_share = sum(len(p.fixed) for p in puzzles) / sum(clue_counts.elements())
    assert 0.15 < fixed_share < 0.65
    assert sum(1 for p in puzzles if p.fixed and p.before) >= 0.3 * DRAWS
    for puzzle in puzzles[:150]:
        for k in range(len(puzzle.fixed) + len(puzzle.before)):
            fixed = [c for i, c in enumerate(puzzle.fixed) if i != k]
            before = [c for i, c in enumerate(puzzle.before) if i + len(puzzle.fixed) != k]
            assert len(Puzzle(puzzle.kind, puzzle.objects, fixed, before).solutions(limit=2)) == 2
    for example, puzzle in zip(examples, puzzles):  # option k names the k-th listed object, all at one spot
        assert all(o in c for c, o in zip(example.choices, puzzle.objects))
        assert len({c.replace(o, "X", 1) for c, o in zip(example.choices, puzzle.objects)}) == 1
    letters = Counter(e.answer for e in examples)
    assert set(letters) == {letter(i) for i in range(n)}
    assert all(abs(count - DRAWS / n) < 0.3 * DRAWS / n for count in letters.values()), letters


def _frame(question: str, choices: list[str]) -> tuple[str, str, frozenset[tuple[str, str]]]:
    """(opening and scene with the count blanked, how an object is listed, (setting, clue or option
    with every object blanked) for each clue and option)."""
    puzzle = parse_puzzle(question)
    head = re.sub(r"\b(three|five|seven|nine)\b", "N", question.partition(": ")[0])
    listing = re.sub(r"\b(an?) \w+", r"\1 X", question.partition(": ")[2].partition(". ")[0])
    listed = "article" if listing.startswith(("a ", "an ")) else "bare"
    predicates = set()
    for sentence in [c for _, _, c in puzzle.fixed] + [c for _, _, c in puzzle.before] + list(choices):
        for obj in sorted(puzzle.objects, key=len, reverse=True):
            sentence = re.sub(rf"\b(?:[Tt]he )?{re.escape(obj)}\b", "X", sentence)
        predicates.add((puzzle.kind, sentence.rstrip(".")))
    return head, listed, frozenset(predicates)


def test_bbh_wording_writes_every_bbh_frame_pool_and_clue_form():
    bbh = [e for task in BBH_TASKS for e in bbh_task(task)]
    heads, listings, predicates, pools = set(), set(), set(), {}
    for size in ("three_objects", "five_objects", "seven_objects"):
        for example in _examples(f"gen:{TASK}/{size}?wording=bbh"):
            head, listed, said = _frame(example.question, example.choices)
            heads.add(head)
            listings.add((head, listed))
            predicates |= said
            pools.setdefault(parse_puzzle(example.question).kind, set()).update(
                parse_puzzle(example.question).objects)
    for example in bbh:
        head, listed, said = _frame(example.question, example.choices)
        assert head in heads and (head, listed) in listings, head
        assert said <= predicates, said - predicates
        puzzle = parse_puzzle(example.question)
        assert set(puzzle.objects) <= pools[puzzle.kind]


def test_every_setting_is_drawn_and_read():
    kinds = {wording: {parse_puzzle(e.question).kind for e in _examples(f"gen:{TASK}/five_objects?wording={wording}")}
             for wording in GENERATOR.wordings}
    assert set().union(*kinds.values()) == set(KINDS)
    assert not kinds["varied"] & kinds["heldout"] and not kinds["bbh"] & kinds["heldout"]


def test_heldout_pools_and_phrasings_share_nothing_with_varied():
    def phrases(wording):
        return {t for s in WORDINGS[wording].settings
                for t in (*s.earlier, *s.later, s.first, s.last, s.from_start, s.from_end)}

    def pool(wording):
        return {o for s in WORDINGS[wording].settings for o in s.pool}

    assert not phrases("heldout") & phrases("varied") and not pool("heldout") & pool("varied")
    assert not pool("heldout") & pool("bbh") and not pool("varied") & pool("bbh")
    assert len({w.opening for w in WORDINGS.values()}) == len(WORDINGS)


def test_sizes_and_the_objects_parameter():
    rng = random.Random(0)
    for size, count in COUNTS.items():
        drawn = GENERATOR.draw(rng, GENERATOR.params_for(size, {}))
        assert len(drawn.choices) == count == len(parse_puzzle(drawn.question).objects)
    assert len(GENERATOR.draw(rng, GENERATOR.params_for(None, {"objects": 6})).choices) == 6
    with pytest.raises(ValueError):
        GENERATOR.draw(rng, GENERATOR.params_for(None, {"objects": 10}))
    first = GENERATOR.draw(random.Random(5), GENERATOR.params_for("nine_objects", {}))
    assert first == GENERATOR.draw(random.Random(5), GENERATOR.params_for("nine_objects", {}))


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
    queue = parse_puzzle("At a bakery, four people wait in a queue: Ivy, Hal, Ned and Fay. Hal stands at the back. "
                         "Fay stands in front of Ivy. Ned stands ahead of Fay.")
    assert queue.solutions() == [("Ned", "Fay", "Ivy", "Hal")]
    tower = parse_puzzle("In a tower, three tenants each rent one floor: Bo, Cy, and Di. Cy lives on the second "
                         "floor from the top. Di lives on a lower floor than Bo.")
    assert tower.solutions() == [("Di", "Cy", "Bo")]


def test_unreadable_or_ambiguous_questions_are_refused():
    with pytest.raises(UnsolvableQuestion):
        parse_puzzle("What is the capital of France?")
    with pytest.raises(UnsolvableQuestion):
        parse_puzzle("On a shelf, there are three books: a red book, a gray book, and a green book. "
                     "The red book is heavier than the gray book.")
    with pytest.raises(UnsolvableQuestion):  # a clue phrased for another setting
        parse_puzzle("In a golf tournament, there were three golfers: Ada, Eli, and Rob. Eli is the leftmost.")
    two_orders = Example("x", TASK, "On a shelf, there are three books: a red book, a gray book, "
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


@pytest.mark.parametrize("source", EVERY)
def test_every_step_restates_a_row_that_grows_to_the_answer(source):
    for example in _examples(source)[:40]:
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
    for source in (f"bbh:{BBH_TASKS[1]}", *SOURCES[::2]):
        if source.startswith("bbh:") and not os.environ.get("SCOTD_BBH_DIR"):
            continue
        for example in _examples(source)[:3]:
            assert distinct_texts(FAMILY, example) >= 25, example.id


@pytest.mark.parametrize("source", EVERY)
def test_teacher_gets_full_marks(source):
    examples = _examples(source)
    teacher_gets_full_marks(FAMILY, random.Random(1).sample(examples, 40 if source.startswith("bbh:") else 15))


def _long_example() -> Example:
    """A generated question with fixed clues and at least two chain steps after them."""
    for example in _examples(f"gen:{TASK}/seven_objects?wording=bbh"):
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


@pytest.mark.parametrize("source", EVERY)
def test_open_spots_named_in_a_step_are_where_it_fills(source):
    """'the only open spot left of the gray book' must be left of it in the row that step states."""
    sides = {word: side for kind in KINDS.values() for word, side in zip(kind.sides, (-1, 1))}
    words = "|".join(sorted(sides, key=len, reverse=True))
    for example in _examples(source)[:100:5]:
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
            where = re.search(rf"open spots? (between|{words}) (?:the )?({names})(?: and (?:the )?({names}))?",
                              sentence)
            if where:
                at = spots.index(puzzle.short(where.group(2)))
                if where.group(1) == "between":
                    end = spots.index(puzzle.short(where.group(3)))
                    assert all(at < i < end for i in new), sentence
                else:
                    assert all((i - at) * sides[where.group(1)] > 0 for i in new), sentence
            previous = spots


@pytest.mark.parametrize("size", ["three_objects", "five_objects", "seven_objects"])
def test_numbered_spots_style_answers_every_bbh_question_and_is_graded_like_the_default(size):
    from solver_checks import bbh_task, bbh_task_is_solved, teacher_gets_full_marks

    numbered = FAMILY.__class__(FAMILY.name, FAMILY.solver("numbered_spots"), FAMILY.grade)
    bbh_task_is_solved(numbered, f"logical_deduction_{size}")
    examples = bbh_task(f"logical_deduction_{size}")
    teacher_gets_full_marks(numbered, examples[::10])
    n = {"three_objects": 3, "five_objects": 5, "seven_objects": 7}[size]
    for example in examples[:20]:
        rationale, _ = numbered.solve(example, random.Random(example.id))
        rows = re.findall(r"1 [^,]+(?:, \d+ [^,.]+)+", rationale)
        assert rows and all([int(s.split()[0]) for s in row.split(", ")] == list(range(1, n + 1)) for row in rows)
        # a numbered row with one object moved is a wrong step
        last = rows[-1]
        names = [s.split(" ", 1)[1] for s in last.split(", ")]
        swapped = ", ".join(f"{k} {name}" for k, name in enumerate([names[1], names[0], *names[2:]], start=1))
        wrong = numbered.grade(example.question, example.choices, rationale.replace(last, swapped))
        assert wrong.steps_right < numbered.grade(example.question, example.choices, rationale).steps_right
