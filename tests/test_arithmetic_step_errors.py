"""scripts/arithmetic_step_errors.py: a student's arithmetic steps, each checked from its own previous state."""

from __future__ import annotations

import random

import pytest

from distill.solvers.multistep_arithmetic_two import FAMILY, render
from serve.data.sources import load_examples
from tests.solver_checks import load_script as load_any_script
from tests.solver_checks import write_predictions


def load_script():
    return load_any_script("arithmetic_step_errors")


@pytest.mark.parametrize("style", ["default", "op_first", "signs_apart", "places_apart"])
def test_the_teachers_own_rationales_in_every_style_have_every_step_right(style, tmp_path):
    script = load_script()
    examples = load_examples("gen:multistep_arithmetic_two", split="test", limit=6)
    outputs = [FAMILY.solver(style)(e, random.Random(0))[0] for e in examples]
    right, total, answers = script.step_counts(script.read_outputs(write_predictions(tmp_path / "teacher", [{"output": o} for o in outputs])))
    assert sum(total.values()) >= 6 * 5 and right == total and len(answers) == 6


def test_a_slip_costs_its_own_step_only_when_the_steps_after_it_follow_from_it(tmp_path):
    script = load_script()
    question = load_examples("gen:multistep_arithmetic_two", split="test", limit=1)[0].question
    states = [script.read_expression(question)]
    while len(states[-1]) > 1:
        states.append(script.rewrite(states[-1]))
    # A student that writes 1 more than the first result, then works on from its own wrong state.
    first = states[1]
    changed = next(k for k, token in enumerate(first) if token not in states[0] and token.lstrip("-").isdigit())
    slipped = [str(int(token) + 1) if k == changed else token for k, token in enumerate(first)]
    student = [states[0], slipped]
    while len(student[-1]) > 1:
        student.append(script.rewrite(student[-1]))
    chain = " = ".join(render(state) for state in student)
    right, total, answers = script.step_counts(script.read_outputs(write_predictions(tmp_path / "slip", [{"output": f"We get {chain}. So the answer is {student[-1][0]}."}])))
    assert sum(total.values()) == len(student) - 1 and sum(right.values()) == len(student) - 2
    assert answers == [(len(student) - 2, len(student) - 1)]


def test_a_state_with_parentheses_around_a_lone_number_is_stepped_by_dropping_them(tmp_path):
    script = load_script()
    # "(3 - 4)" -> "(-1)" keeps a pair the teacher drops; the right next state drops it, a wrong one does not
    right_chain = "(2 * (3 - 4)) = (2 * (-1)) = (2 * -1) = -2"
    wrong_chain = "(2 * (3 - 4)) = (2 * (-1)) = (2 * (-1))"
    right, total, _ = script.step_counts(script.read_outputs(write_predictions(tmp_path / "right", [{"output": f"We get {right_chain}."}])))
    assert total[script.LONE_PARENTHESES] == 1 and right[script.LONE_PARENTHESES] == 1
    assert sum(right.values()) == 2 and sum(total.values()) == 3  # "(2 * (-1))" itself left the pair: a slip
    right, total, _ = script.step_counts(script.read_outputs(write_predictions(tmp_path / "wrong", [{"output": f"We get {wrong_chain}."}])))
    assert total[script.LONE_PARENTHESES] == 1 and right[script.LONE_PARENTHESES] == 0


def test_the_bootstrap_interval_holds_the_rate_and_narrows_with_more_answers():
    from distill.intervals import ratio_bootstrap_interval

    few = [(3, 5), (1, 5), (4, 5), (0, 5)]
    low, high = ratio_bootstrap_interval(few)
    assert low <= 40.0 <= high and high - low > 20
    low_many, high_many = ratio_bootstrap_interval(few * 25)
    assert low_many <= 40.0 <= high_many and high_many - low_many < (high - low) / 2


def test_every_working_piece_of_the_teacher_is_right_and_a_slipped_one_is_counted_by_its_kind(tmp_path):
    script = load_script()
    examples = load_examples("gen:multistep_arithmetic_two", split="test", limit=6)
    outputs = [FAMILY.solver("places_apart")(e, random.Random(0))[0] for e in examples]
    right, total = script.working_counts(script.read_outputs(write_predictions(tmp_path / "teacher", [{"output": o} for o in outputs])))
    assert sum(total.values()) >= 6 * 5 and right == total and "signs rewritten" in total
    slipped = "Start: (21 * -8). -21 * 8 = -(21 * 8) = -(20 * 8 + 1 * 8) = -(160 + 8) = -178; -178."
    right, total = script.working_counts(script.read_outputs(write_predictions(tmp_path / "slip", [{"output": slipped}])))
    assert total == {"signs rewritten": 1, "* of a larger number": 1, "several terms (a place split)": 1,
                     "+ of a larger number": 1}
    assert +right == {"signs rewritten": 1, "* of a larger number": 1, "several terms (a place split)": 1}
