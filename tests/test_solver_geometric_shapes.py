from __future__ import annotations

import random
import re

import pytest

from distill.solvers.base import UnsolvableQuestion
from distill.solvers.geometric_shapes import FAMILY, classify, parse_path
from serve.core.records import Example
from serve.data.generators.geometric_shapes import GENERATOR, OPTIONS
from tests.solver_checks import (bbh_task, bbh_task_is_solved, distinct_texts, draws_per_second,
                                 generated_are_solved_distinct_and_new, indexed_draws, teacher_gets_full_marks)

PER_SIZE = 1000
BASE = list(OPTIONS)


def drawn_examples(size: str, count: int = PER_SIZE) -> list[Example]:
    """``count`` distinct questions drawn directly from the generator (repeats skipped, as gen: does)."""
    return indexed_draws(GENERATOR, "geometric_shapes", size, count)


@pytest.fixture(scope="module")
def generated() -> dict[str, list[Example]]:
    return {size: drawn_examples(size) for size in GENERATOR.sizes}


def test_bbh_file_is_answered_right():
    bbh_task_is_solved(FAMILY, "geometric_shapes", samples=2)


def test_teacher_gets_full_marks_on_bbh():
    teacher_gets_full_marks(FAMILY, random.Random(0).sample(bbh_task("geometric_shapes"), 80))


@pytest.mark.parametrize("size", list(GENERATOR.sizes))
def test_generated_questions_are_answered_right_and_new(generated, size):
    examples = generated[size]
    generated_are_solved_distinct_and_new(FAMILY, examples, PER_SIZE)
    last_index = int(examples[-1].id.rsplit("/", 1)[1])
    assert last_index < PER_SIZE * 1.01  # repeats are rare (only small whole circles ever meet again)
    shapes = {e.meta["shape"] for e in examples}
    assert shapes == {"triangle", "kite", "trapezoid", "pentagon", "hexagon", "heptagon", "octagon", "line",
                      "sector", "ellipse"}
    teacher_gets_full_marks(FAMILY, examples[:150], seeds=2)


def test_generated_form_matches_bbh():
    bbh, drawn = bbh_task("geometric_shapes"), drawn_examples("default", 600)
    frame = re.compile(r'This SVG path element <path d="M -?\d+\.\d\d,-?\d+\.\d\d(?: (?:[ML] -?\d+\.\d\d,-?\d+\.\d\d|'
                       r'A \d+\.\d\d,\d+\.\d\d \d+\.\d\d [01],[01] \d+\.\d\d,\d+\.\d\d))+"/> draws a')
    for examples in (bbh, drawn):
        assert all(frame.fullmatch(e.question) for e in examples)
        assert {tuple(e.choices) for e in examples} == {tuple(BASE), tuple(BASE + ["trapezoid"]),
                                                        tuple(BASE + ["ellipse"])}
        assert all(len(e.choices) == 10 or e.answer == "(k)" for e in examples)
        letters = {e.answer for e in examples}
        assert letters == {"(b)", "(c)", "(d)", "(e)", "(f)", "(g)", "(i)", "(j)", "(k)"}
        repeats = sum(len(re.findall(r" M ", e.question)) for e in examples) / len(examples)
        assert 0.75 < repeats < 1.05, repeats  # BBH: 0.9 repeated moves per question


def test_paths_are_read_point_by_point():
    path = parse_path('<path d="M 10.00,10.00 L 20.00,10.00 M 20.00,10.00 L 20.00,30.00 L 10.00,10.00"/>')
    assert [(c.letter, c.role, c.number) for c in path.commands] == [
        ("M", "start", 1), ("L", "new", 2), ("M", "stay", 2), ("L", "new", 3), ("L", "close", 1)]
    assert classify(path, BASE).name == "triangle"
    kite = parse_path('<path d="M 5.00,9.00 L 3.00,5.00 L 5.00,4.00 L 7.00,5.00 L 5.00,9.00"/>')
    assert classify(kite, BASE).name == "kite"
    box = parse_path('<path d="M 1.00,1.00 L 9.00,1.00 L 9.00,4.00 L 1.00,4.00 L 1.00,1.00"/>')
    assert classify(box, BASE + ["trapezoid"]).name == "trapezoid" and classify(box, BASE).name == "rectangle"
    arcs = parse_path('<path d="M 9.00,5.00 A 4.00,4.00 0.00 1,0 1.00,5.00 A 4.00,4.00 0.00 1,0 9.00,5.00"/>')
    assert classify(arcs, BASE + ["ellipse"]).name == "ellipse" and classify(arcs, BASE).name == "circle"
    for bad in ('<path d="M 1.00,1.00 L 2.00,2.00 M 5.00,5.00 L 6.00,6.00"/>',  # two strokes
                '<path d="M 1.00,1.00 L 2.00,2.00 L 3.00,1.00"/>',  # an open polyline
                '<path d="M 1.00,1.00 L 5.00,1.00 L 5.00,5.00 L 1.00,5.00 L 1.00,1.00"/>',  # a square
                '<path d="M 1.00,1.00 Q 2.00,2.00 3.00,1.00"/>', "no path here"):
        with pytest.raises(UnsolvableQuestion):
            classify(parse_path(bad), BASE)


def test_samples_differ_in_wording(generated):
    by_shape = {}
    for example in generated["default"]:
        by_shape.setdefault(example.meta["shape"], example)
    for example in by_shape.values():
        assert distinct_texts(FAMILY, example) >= 25, example.id


def pieces(text: str) -> list[str]:
    return re.split(r"(?<=[.!?])\s+", text)


@pytest.mark.parametrize("shape", ["hexagon", "kite", "trapezoid", "sector", "line"])
def test_grader_catches_a_wrong_and_a_missing_step(generated, shape):
    # a path with a repeated move where the shape has straight sides to repeat it after
    example = next(e for e in generated["default"]
                   if e.meta["shape"] == shape and (" M " in e.question or shape == "line"))
    rationale, answer = FAMILY.solve(example, random.Random(3))
    path = parse_path(example.question)
    steps = len(path.commands) + (4 if shape in ("kite", "trapezoid") else 0) + 1  # sides count one step each
    full = FAMILY.grade(example.question, example.choices, rationale)
    assert (full.steps, full.steps_right, full.final_right, full.claimed_answer) == (steps, steps, True, answer)

    quad = shape in ("kite", "trapezoid")
    lines = pieces(rationale)  # one per command, the side lengths and the pair rule or the shape, options, letter
    assert len(lines) == len(path.commands) + (4 if quad else 3)
    renumbered = re.sub(r"point (\d+)", lambda m: f"point {int(m.group(1)) + 1}", lines[1], count=1)
    assert FAMILY.grade(example.question, example.choices, " ".join(lines[:1] + [renumbered] + lines[2:])) \
        .steps_right == steps - 1
    missing = FAMILY.grade(example.question, example.choices, " ".join(lines[:1] + lines[2:]))
    assert missing.steps_right == steps - 1 and missing.final_right
    if quad:
        sides = lines[len(path.commands)]
        longer = re.sub(r"(\d+)\.(\d)\b", lambda m: f"{int(m.group(1)) + 1}.{m.group(2)}", sides, count=1)
        assert FAMILY.grade(example.question, example.choices,
                            " ".join(lines[:len(path.commands)] + [longer] + lines[len(path.commands) + 1:])) \
            .steps_right == steps - 1

    other = "triangle" if shape != "triangle" else "pentagon"
    wrong_name = re.sub(rf"\b{shape}\b", other, lines[-3])
    grade = FAMILY.grade(example.question, example.choices, " ".join(lines[:-3] + [wrong_name]))
    assert grade.steps_right == steps - 1 and not grade.final_right and grade.final_item == other
    assert grade.claimed_answer == f"({chr(97 + example.choices.index(other))})"


def test_garbage_gets_no_steps(generated):
    example = generated["default"][0]
    for text in ("", "The answer is (a).", "(((", "point 1 point 2", "\n. . . M L A 1-2 is 3.0"):
        for choices in (example.choices, None):
            grade = FAMILY.grade(example.question, example.choices if choices else None, text)
            assert grade.steps_right == 0 and not grade.final_right


def test_generation_is_fast():
    assert draws_per_second(GENERATOR, "default", 2000, 0) > 500
