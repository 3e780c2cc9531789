from __future__ import annotations

import random
import re
from collections import Counter

import pytest
from solver_checks import (bbh_task, bbh_task_is_solved, distinct_texts, draws_per_second, generated,
                           generated_are_solved_distinct_and_new, solve_all, teacher_gets_full_marks)

from distill.solvers.base import UnsolvableQuestion
from distill.solvers.navigate import FAMILY, parse_walk
from serve.core.records import Example
from serve.data.generators.navigate import GENERATOR, QUESTION, parse_range

TASK = "navigate"
POSITION = re.compile(r"\((-?\d+), (-?\d+)\)")


@pytest.fixture(scope="module")
def sample() -> list[Example]:
    return generated(f"gen:{TASK}", limit=400, seed=1)


def face_forward(example: Example) -> bool:
    return parse_walk(example.question).face_forward  # the question starts with the task's instruction


def walk_of(sample: list[Example], forward: bool, answer: str) -> Example:
    """A generated walk of 4 to 7 instructions of one kind and answer."""
    return next(e for e in sample if face_forward(e) == forward and e.answer == answer
                and 4 <= len(parse_walk(e.question).steps) <= 7)


def test_every_bbh_example_is_answered_right():
    examples = bbh_task_is_solved(FAMILY, TASK, samples=3)
    assert {e.answer_type for e in examples} == {"yes_no"} and not any(e.choices for e in examples)


@pytest.mark.parametrize("size", sorted(GENERATOR.sizes))
def test_generated_questions_are_solved_distinct_new_and_balanced(size):
    examples = generated(f"gen:{TASK}/{size}", limit=1000, split="all")
    generated_are_solved_distinct_and_new(FAMILY, examples, 1000, TASK)
    answers = Counter(e.answer for e in examples)
    assert 350 <= answers["yes"] <= 650, answers
    kinds = Counter(face_forward(e) for e in examples)
    assert 350 <= kinds[True] <= 650, kinds
    lowest, highest = parse_range(GENERATOR.params_for(size, {})["instructions"])
    for example in examples:
        assert example.question.startswith(QUESTION + " ") and example.answer_type == "yes_no"
        walk = parse_walk(example.question)
        assert lowest <= len(walk.steps) <= highest
        assert (walk.end.x, walk.end.y) == tuple(example.meta["end"])


def test_parameters_pick_the_kind_and_the_length():
    rng = random.Random(0)
    for kind, forward in (("turns", False), ("forward", True)):
        params = GENERATOR.params_for("default", {"kind": kind, "instructions": "7", "max_steps": 3})
        for _ in range(100):
            drawn = GENERATOR.draw(rng, params)
            walk = parse_walk(drawn.question)
            assert walk.face_forward == forward and len(walk.steps) == 7
            assert all(step.count <= 3 for step in walk.steps)
            assert drawn.answer == ("yes" if walk.returns else "no")
    with pytest.raises(ValueError):
        GENERATOR.draw(rng, GENERATOR.params_for("default", {"kind": "sideways"}))


def test_turns_walks_look_like_bbh():
    """Moves are 'Take N steps.' only; about a third of the instructions are turns; counts 1 to 10."""
    rng, params = random.Random(5), GENERATOR.params_for("default", {"kind": "turns"})
    sentences = Counter()
    for _ in range(500):
        body = GENERATOR.draw(rng, params).question.removeprefix(QUESTION)
        sentences.update(re.sub(r"\d+", "N", s.strip()) for s in re.findall(r"[^.]+\.", body))
    assert set(sentences) == {"Take N steps.", "Take N step.", "Turn left.", "Turn right.", "Turn around."}
    turns = sum(n for s, n in sentences.items() if s.startswith("Turn"))
    assert 0.2 < turns / sum(sentences.values()) < 0.5


def test_varied_wording_is_read():
    examples = generated(f"gen:{TASK}?wording=varied", limit=300)
    assert any(e.question.endswith("?") for e in examples) and any(not e.question.endswith("?") for e in examples)
    assert solve_all(FAMILY, examples)[0] == 300
    teacher_gets_full_marks(FAMILY, examples[::30])


def test_generation_is_fast():
    for size in GENERATOR.sizes:
        assert draws_per_second(GENERATOR, size, 500, size) > 500, size


def test_walk_states_follow_the_instructions():
    # Worked by hand: west 2, then north 3; the always-forward walk ends where it started.
    walk = parse_walk("Turn left. Take 2 steps. Turn right. Take 3 steps.")
    assert [(s.after.x, s.after.y, s.after.facing) for s in walk.steps] == [
        (0, 0, "west"), (-2, 0, "west"), (-2, 0, "north"), (-2, 3, "north")]
    assert not walk.face_forward and not walk.returns
    walk = parse_walk("Always face forward. Take 1 step left. Take 4 steps backward. "
                      "Take 1 step right. Take 4 steps forward.")
    assert [(s.after.x, s.after.y) for s in walk.steps] == [(-1, 0), (-1, -4), (0, -4), (0, 0)]
    assert walk.face_forward and walk.returns and walk.end.facing == "north"
    # the question sentence may come first or last
    assert parse_walk(f"{QUESTION} Take 2 steps. Turn around. Take 2 steps.").returns
    assert parse_walk("Take 2 steps. Turn around. Take 2 steps. Are you back where you began?").returns
    for question in ("What is the capital of France?", "Take 3 steps. Jump.", "Always face forward. Turn left.", "",
                     "Take 3 steps. Are you back? Take 3 steps."):
        with pytest.raises(UnsolvableQuestion):
            parse_walk(question)


def test_samples_differ_in_wording(sample):
    short = [e for e in sample if len(parse_walk(e.question).steps) == 2][:3]
    for example in sample[:5] + short:
        assert distinct_texts(FAMILY, example) >= 25, example.id


def test_samples_of_bbh_questions_differ_in_wording():
    examples = bbh_task(TASK)
    short = [e for e in examples if len(parse_walk(e.question).steps) == 2][:3]
    for example in examples[:5] + short:
        assert distinct_texts(FAMILY, example) >= 25, example.id


def test_teacher_gets_full_marks(sample):
    rng = random.Random(0)
    for kind in (True, False):
        teacher_gets_full_marks(FAMILY, rng.sample([e for e in sample if face_forward(e) == kind], 40))


def test_teacher_gets_full_marks_on_bbh():
    examples, rng = bbh_task(TASK), random.Random(0)
    for kind in (True, False):
        teacher_gets_full_marks(FAMILY, rng.sample([e for e in examples if face_forward(e) == kind], 40))


WORKING = re.compile(r"([xy]) = ([-+() \d=]+); now at \((-?\d+), (-?\d+)\)")


def test_the_sums_worked_style_answers_every_bbh_item_with_full_marks_and_each_sum_right():
    solve = FAMILY.solver("sums_worked")
    for example in bbh_task(TASK):
        rationale, answer = solve(example, random.Random(0))
        grade = FAMILY.grade(example.question, None, rationale)
        assert answer == example.answer and grade.steps_right == grade.steps and grade.final_right, example.id
        workings = WORKING.findall(rationale)
        moves = [step for step in parse_walk(example.question).steps if not step.turn]
        assert len(workings) == len(moves), example.id
        for axis, working, x, y in workings:
            values = {eval(piece, {"__builtins__": {}}) for piece in working.split(" = ")}  # digits, signs, brackets
            assert values == {int(x) if axis == "x" else int(y)}, (example.id, working)


def sentences(text: str) -> list[str]:
    return re.split(r"(?<=\.)\s+", text)


@pytest.mark.parametrize("forward", [False, True])  # a turns walk and an always-forward walk
@pytest.mark.parametrize("answer", ["yes", "no"])
def test_grader_catches_a_wrong_and_a_missing_step(sample, forward, answer):
    example = walk_of(sample, forward, answer)
    rationale, said = FAMILY.solve(example, random.Random(7))
    assert said == answer
    full = FAMILY.grade(example.question, None, rationale)
    steps = len(parse_walk(example.question).steps) + 1
    assert (full.steps, full.steps_right, full.final_right, full.final_item, full.claimed_answer) == \
        (steps, steps, True, answer, answer)

    lines = sentences(rationale)  # opening, one line per instruction, verdict
    assert len(lines) == steps + 1 and re.search(rf"\b{answer}\.$", lines[-1])
    x, y = map(int, POSITION.search(lines[2]).groups())
    wrong = lines[:2] + [POSITION.sub(f"({x + 1}, {y})", lines[2], count=1)] + lines[3:]
    assert FAMILY.grade(example.question, None, " ".join(wrong)).steps_right == steps - 1

    missing = lines[:2] + lines[3:]
    grade = FAMILY.grade(example.question, None, " ".join(missing))
    assert grade.steps_right == steps - 1 and grade.final_right

    flipped = {"yes": "no", "no": "yes"}
    verdict = re.sub(r"\b(yes|no)\.$", lambda m: flipped[m.group(1)] + ".", lines[-1])
    grade = FAMILY.grade(example.question, None, " ".join(lines[:-1] + [verdict]))
    assert grade.steps_right == steps - 1 and not grade.final_right
    assert grade.final_item == grade.claimed_answer == flipped[answer]


@pytest.mark.parametrize("forward", [False, True])
def test_multiple_choice_lists_the_options(sample, forward):
    """Older data asks with True/False options: the verdict uses the options' words and their letter."""
    walk = walk_of(sample, forward, "no")
    example = Example(walk.id, TASK, walk.question, "(a)", ["False", "True"], answer_type="multiple_choice")
    rationale, answer = FAMILY.solve(example, random.Random(7))
    assert answer == "(a)"
    full = FAMILY.grade(example.question, example.choices, rationale)
    steps = len(parse_walk(example.question).steps) + 1
    assert (full.steps, full.steps_right, full.final_right, full.claimed_answer) == (steps, steps, True, answer)

    lines = sentences(rationale)  # opening, one line per instruction, verdict, option listing, result's letter
    assert len(lines) == steps + 3
    assert lines[-2].endswith("False is (a); True is (b).")
    assert re.fullmatch(r".*\bFalse,? is \(a\)\.", lines[-1])
    verdict = lines[-3].replace("False", "True")
    grade = FAMILY.grade(example.question, example.choices, " ".join(lines[:-3] + [verdict]))
    assert grade.steps_right == steps - 1 and not grade.final_right and grade.claimed_answer == "(b)"
    # the option listing names both True and False: the verdict stays the final claim, listed or not
    listed = FAMILY.grade(example.question, example.choices, " ".join(lines[:-3] + [verdict, lines[-2]]))
    assert listed.final_item == grade.final_item == "true" and not listed.final_right
    listed = FAMILY.grade(example.question, example.choices, " ".join(lines[:-1]))
    assert listed.final_item == "false" and listed.final_right and listed.steps_right == steps
    yes_no = Example(walk.id, TASK, walk.question, "(b)", ["Yes", "No"], answer_type="multiple_choice")
    assert FAMILY.solve(yes_no, random.Random(0))[1] == "(b)"
    teacher_gets_full_marks(FAMILY, [example, yes_no])


def test_garbage_gets_no_steps(sample):
    example = sample[0]
    for text in ("", "The answer is (a).", "(((", "Turn left facing (1, 2", "\n. . . take steps north (a) option (z)"):
        for choices in (["True", "False"], None):
            grade = FAMILY.grade(example.question, choices, text)
            assert grade.steps_right == 0 and not grade.final_right


def test_the_turns_cycled_style_reads_each_new_facing_off_the_compass_it_writes():
    solve = FAMILY.solver("turns_cycled")
    turned = 0
    for example in bbh_task(TASK):
        rationale, answer = solve(example, random.Random(0))
        grade = FAMILY.grade(example.question, None, rationale)
        assert answer == example.answer and grade.steps_right == grade.steps and grade.final_right, example.id
        for side, order, old, new in re.findall(r"Turn (left|right|around) \(([^)]*)\): (\w+) becomes (\w+);", rationale):
            turned += 1
            words = re.findall(r"north|east|south|west", order)
            if side == "around":
                assert {old, new} in ({"north", "south"}, {"east", "west"}), (example.id, old, new)
            else:
                assert words[words.index(old) + 1] == new, (example.id, side, old, new)
    assert turned > 100
