from __future__ import annotations

import math
import random
import re
import statistics

import pytest
from solver_checks import (bbh_task, bbh_task_is_solved, distinct_texts, draws_per_second, generated,
                           generated_are_solved_distinct_and_new, solve_all, teacher_gets_full_marks)

from distill.solvers.base import UnsolvableQuestion, quoted_option
from distill.solvers.dyck_languages import FAMILY, trace
from serve.core.records import Example
from serve.data.generators.dyck_languages import GENERATOR, parse_range

TASK = "dyck_languages"
FRAME = "Complete the rest of the sequence, making sure that the parentheses are closed properly. Input: "
# Written by hand for these tests (no BBH item): the stack after each of its 10 symbols, then 4 closers.
HAND_MADE = "[ < ( ( { } ) < > ("
HAND_MADE_STACKS = ["[", "[ <", "[ < (", "[ < ( (", "[ < ( ( {", "[ < ( (", "[ < (", "[ < ( <", "[ < (", "[ < ( ("]


def hand_made(question: str = FRAME + HAND_MADE) -> Example:
    return Example("hand/0", TASK, question, ") ) > ]", None, answer_type="text")


@pytest.fixture(scope="module")
def sample() -> list[Example]:
    return generated(f"gen:{TASK}", limit=300, seed=1)


def with_four_choices(example: Example, gold: str) -> Example:
    """The same question as multiple choice over the gold closing sequence and three wrong ones."""
    wrong = [c for c in (")", "] }", "> > )", "} ]", ") ]") if c != gold][:3]
    choices = [gold, *wrong]
    random.Random(example.id).shuffle(choices)
    return Example(example.id, TASK, example.question, f"({'abcd'[choices.index(gold)]})", choices,
                   answer_type="multiple_choice")


def test_every_bbh_example_is_answered_right():
    bbh_task_is_solved(FAMILY, TASK, samples=2)


@pytest.mark.parametrize("size", sorted(GENERATOR.sizes))
def test_generated_questions_are_solved_distinct_and_new(size):
    examples = generated(f"gen:{TASK}/{size}", limit=1000, split="all")
    generated_are_solved_distinct_and_new(FAMILY, examples, 1000, TASK)
    for example in examples:
        assert example.question.startswith(FRAME) and example.answer_type == "text"


def test_sizes_keep_their_shapes():
    for size, params in GENERATOR.sizes.items():
        merged = GENERATOR.params_for(size, {})
        lengths, opens = parse_range(merged["length"]), parse_range(merged["open"])
        rng = random.Random(size)
        for _ in range(300):
            drawn = GENERATOR.draw(rng, merged)
            symbols = drawn.question.rsplit("Input: ", 1)[1].split()
            steps = trace(symbols)
            assert lengths[0] <= len(symbols) <= lengths[1]
            assert opens[0] <= len(steps[-1].stack) <= opens[1]
            assert len(drawn.answer.split()) == len(steps[-1].stack) == drawn.meta["open"]
            assert max(len(step.stack) for step in steps) == drawn.meta["depth"]
            if "depth" in params:
                assert parse_range(params["depth"])[0] <= drawn.meta["depth"] <= parse_range(params["depth"])[1]


def test_default_size_spreads_like_bbh():
    """A log-uniform 2-99 length puts about a quarter under 7 and a quarter over 33, as BBH has."""
    rng, params = random.Random(0), GENERATOR.params_for(None, {})
    draws = [GENERATOR.draw(rng, params).meta for _ in range(3000)]
    quartiles = statistics.quantiles([d["length"] for d in draws], n=4)
    assert 4 <= quartiles[0] <= 8 and 10 <= quartiles[1] <= 18 and 28 <= quartiles[2] <= 42
    depth_median = statistics.median(d["depth"] for d in draws)
    assert 4 <= depth_median <= 8
    for d in draws:  # the natural depth band: sqrt(length) to 2.5 sqrt(length), as far as the length allows
        root = math.sqrt(d["length"])
        assert max(math.ceil(root), d["open"]) <= d["depth"] <= min(max(math.ceil(root), int(2.5 * root)),
                                                                     (d["length"] + d["open"]) // 2)


def test_parameters_set_the_shape_exactly():
    params = GENERATOR.params_for("default", {"length": "12", "depth": "4", "open": "2"})
    rng = random.Random(3)
    for _ in range(50):
        drawn = GENERATOR.draw(rng, params)
        assert drawn.meta == {"length": 12, "open": 2, "depth": 4}
    with pytest.raises(ValueError):
        GENERATOR.draw(rng, GENERATOR.params_for("default", {"length": "6", "depth": "9"}))
    with pytest.raises(ValueError):
        GENERATOR.draw(rng, GENERATOR.params_for("default", {"length": "4", "open": "1"}))  # parity


def test_varied_wording_is_read():
    examples = generated(f"gen:{TASK}?wording=varied", limit=300)
    assert len({e.question.split(":")[0] for e in examples}) >= 4
    assert solve_all(FAMILY, examples)[0] == 300
    teacher_gets_full_marks(FAMILY, examples[::30])


def test_generation_is_fast():
    for size in GENERATOR.sizes:
        assert draws_per_second(GENERATOR, size, 500, size) > 500, size


def test_multiple_choice_quotes_the_matching_option(sample):
    for example in sample[:40]:
        question = with_four_choices(example, example.answer)
        rationale, answer = FAMILY.solve(question, random.Random(0))
        assert answer == question.answer
        assert quoted_option(rationale) == answer
        listing = "; ".join(f"{choice} is ({'abcd'[i]})" for i, choice in enumerate(question.choices))
        assert f"{listing}. " in rationale
        assert re.search(rf"{re.escape(example.answer)},? is {re.escape(answer)}\.$", rationale)
        grade = FAMILY.grade(question.question, question.choices, rationale)
        assert grade.claimed_answer == answer and grade.final_right and grade.final_item == example.answer
        assert grade.steps_right == grade.steps
        # the listing's brackets are the options', not steps or the closing: without the restated
        # result the rationale's own closing is still the final claim
        listed_only = rationale[: rationale.rindex(f"{listing}.") + len(listing) + 1]
        grade = FAMILY.grade(question.question, question.choices, listed_only)
        assert grade.final_item == example.answer and grade.final_right and grade.steps_right == grade.steps
    teacher_gets_full_marks(FAMILY, [with_four_choices(e, e.answer) for e in sample[::15]])


def test_samples_differ_in_wording(sample):
    shortest = sorted(sample, key=lambda e: len(e.question))[:5]
    for example in shortest + sample[:5]:
        assert distinct_texts(FAMILY, example) >= 25, example.question


def test_samples_of_bbh_questions_differ_in_wording():
    examples = bbh_task(TASK)
    for example in sorted(examples, key=lambda e: len(e.question))[:5] + examples[:5]:
        assert distinct_texts(FAMILY, example) >= 25, example.id


def test_teacher_rationales_get_full_marks(sample):
    teacher_gets_full_marks(FAMILY, sample[::10])


def test_teacher_rationales_get_full_marks_on_bbh():
    teacher_gets_full_marks(FAMILY, bbh_task(TASK)[::10])


def test_every_step_restates_the_whole_stack():
    for question in (FRAME + HAND_MADE, HAND_MADE):  # the bare sequence reads the same
        rationale, answer = FAMILY.solve(hand_made(question), random.Random(3))
        steps = rationale.split("; ")[:10]
        assert [step.rsplit(" ", len(stack.split()))[1:] for step, stack in zip(steps, HAND_MADE_STACKS)] == \
            [stack.split() for stack in HAND_MADE_STACKS]
        assert answer == ") ) > ]" and rationale.endswith(") ) > ].")


def test_grader_catches_a_wrong_and_a_missing_step():
    example = hand_made()  # 10 stacks and the closing: 11 steps
    for seed in range(8):
        rationale, _ = FAMILY.solve(example, random.Random(seed))
        parts = rationale.split("; ")
        assert parts[6].endswith(" [ < (")  # the stack after the 7th symbol, )
        wrong = parts[:6] + [parts[6][: -len("[ < (")] + "[ <"] + parts[7:]
        grade = FAMILY.grade(example.question, None, "; ".join(wrong))
        assert (grade.steps, grade.steps_right, grade.final_item, grade.final_right) == (11, 10, ") ) > ]", True)
        missing = parts[:3] + parts[4:]
        assert FAMILY.grade(example.question, None, "; ".join(missing)).steps_right == 10
        reversed_closing = rationale[: rationale.rindex(") ) > ]")] + "] > ) )."
        grade = FAMILY.grade(example.question, None, reversed_closing)
        assert (grade.steps_right, grade.final_item, grade.final_right, grade.claimed_answer) == \
            (10, "] > ) )", False, "] > ) )")
        truncated = "; ".join(parts[:5])  # stops after five symbols, no closing
        grade = FAMILY.grade(example.question, None, truncated)
        assert (grade.steps_right, grade.final_item, grade.final_right) == (5, None, False)


def test_grader_gives_garbage_nothing_and_never_raises():
    question = FRAME + HAND_MADE
    for text in ("", "The answer is ) ) > ].", "I am not sure.", "( ( ( [ ] ; ] ) ; (c) . ;;", "\n\n; . ,"):
        grade = FAMILY.grade(question, None, text)
        assert grade.steps == 11 and grade.steps_right == 0 and not grade.final_right
    rng = random.Random(0)
    for _ in range(200):
        text = " ".join(rng.choice(["(", ")", "[", "]", "{", "}", "<", ">", ";", ".", ",", ":", "stack", "option (b)"])
                        for _ in range(rng.randrange(30)))
        FAMILY.grade(question, [") ]", "] }"], text)


@pytest.mark.parametrize("question", ["What is the capital of France?", "( ]", "( [ ] )", "( a )", "",
                                      FRAME + "( [ ] )", FRAME + "< }"])
def test_unreadable_questions_are_refused(question):
    example = Example("x/0", TASK, question, "", None)
    with pytest.raises(UnsolvableQuestion):
        FAMILY.solve(example, random.Random(0))


def test_pop_each_style_closes_one_bracket_a_sentence_and_is_graded_like_the_default(sample):
    pop_each = FAMILY.__class__(FAMILY.name, FAMILY.solver("pop_each"), FAMILY.grade)
    assert solve_all(pop_each, sample)[0] == len(sample)
    teacher_gets_full_marks(pop_each, sample[::10])
    example = hand_made()
    rationale, answer = pop_each.solve(example, random.Random(0))
    assert answer == example.answer
    closing = re.split(r"from the top: ", rationale, maxsplit=1)[1]
    pops = closing.split("; ")[:-1]
    # top first, each the closer of the opener on top, and the stack left after it
    stacks = HAND_MADE_STACKS[-1].split()
    for pop in pops:
        top = stacks.pop()
        assert pop.startswith(f"{top} ") and f" {')]}>'['([{<'.index(top)]}, " in pop and \
            pop.endswith(" ".join(stacks) or "nothing")
    assert not stacks
    # a student that dropped a pop is caught by the final answer, not credited
    dropped = rationale.replace(pops[1] + "; ", "").replace(answer, " ".join(answer.split()[1:]))
    assert not pop_each.grade(example.question, None, dropped).final_right


def test_pop_each_style_answers_every_bbh_example():
    pop_each = FAMILY.__class__(FAMILY.name, FAMILY.solver("pop_each"), FAMILY.grade)
    bbh_task_is_solved(pop_each, TASK)
    teacher_gets_full_marks(pop_each, bbh_task(TASK)[::10])
