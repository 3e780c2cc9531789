from __future__ import annotations

import random
import re

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


def test_grader_gives_teacher_rationales_full_marks_and_catches_a_wrong_step():
    from distill.solvers.tracking_shuffled_objects import grade_rationale

    puzzle = parse_puzzle(QUESTION)
    for seed in range(40):  # every template, listing order and restating choice
        rationale, final = narrate(puzzle, random.Random(seed))
        grade = grade_rationale(QUESTION, None, rationale)
        assert (grade.steps, grade.steps_right, grade.final_item, grade.final_right) == (3, 3, final.lower(), True)
    # After Bob and Claire switch, Bob dances with Izzi and Claire with Karl: claim the reverse.
    wrong_first = ("At the start, Alice is dancing with Patrick, Bob is dancing with Karl and Claire is dancing with "
                   "Izzi. First, Bob and Claire swap, so Bob is dancing with Karl and Claire is dancing with Izzi. "
                   "Second, Claire and Alice swap, so Claire is dancing with Patrick and Alice is dancing with Karl. "
                   "Third, Claire and Bob swap, so Claire is dancing with Izzi and Bob is dancing with Patrick. "
                   "At the end, Alice is dancing with Karl.")
    grade = grade_rationale(QUESTION, None, wrong_first)
    assert grade.steps_right == 2 and grade.final_item == "karl" and grade.final_right is True
    truncated = wrong_first.split(" Third,")[0]  # the third swap never stated
    grade = grade_rationale(QUESTION, None, truncated)
    assert grade.steps_right == 1 and grade.final_item == "karl"
    assert grade_rationale(QUESTION, None, "The answer is (a).").steps_right == 0


def test_results_step_check_reads_an_eval_folder(tmp_path):
    import json

    from distill.results import step_check

    puzzle = parse_puzzle(QUESTION)
    good, final = narrate(puzzle, random.Random(3))
    choices = ["Patrick.", "Karl.", "Izzi."]
    right_letter = "(" + "abc"[match_choice(final, choices)] + ")"
    tracking = {"task": "tracking_shuffled_objects/three_objects", "question": QUESTION, "choices": choices}
    rows = [{"id": "t/0", **tracking, "output": good, "parsed": right_letter},
            {"id": "t/1", **tracking, "output": "I am not sure.", "parsed": "(a)"},
            # a mixture: a row of a task without a grader is left out, not counted as a miss
            {"id": "s/0", "task": "strategyqa", "question": "Is ice cold?", "choices": None, "output": "Yes.",
             "parsed": "yes"}]
    (tmp_path / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "summary.json").write_text(json.dumps({"mode": "cot", "source": "mixed"}))
    counts = {"steps": 6, "steps_right": 3, "answers": 2, "answer_follows_claim": 1}
    assert step_check(tmp_path) == {**counts, "by_task": {"tracking_shuffled_objects/three_objects": counts}}
    (tmp_path / "predictions.jsonl").write_text(json.dumps(rows[-1]) + "\n")
    assert step_check(tmp_path) is None  # no row has a grader


SUBTASKS = ("three_objects", "five_objects", "seven_objects")


def test_both_styles_answer_every_question_of_every_subtask():
    from solver_checks import solve_whole_task

    from distill.solvers import FAMILIES

    family = FAMILIES["tracking_shuffled_objects"]
    for style in ("default", "pairs"):
        styled = family.__class__(family.name, family.solver(style), family.grade)
        for subtask in SUBTASKS:
            right, wrong, unreadable = solve_whole_task(styled, f"tracking_shuffled_objects/{subtask}")
            assert (wrong, unreadable) == ([], []) and right > 0, (style, subtask)


def test_state_style_restates_everyone_quotes_the_option_and_grades_full():
    from solver_checks import distinct_texts, teacher_gets_full_marks

    from distill.solvers import FAMILIES
    from distill.solvers.base import quoted_option
    from serve.data.bigbench import load_task

    family = FAMILIES["tracking_shuffled_objects"]
    for subtask in SUBTASKS:
        examples = load_task(f"tracking_shuffled_objects/{subtask}")[:20]
        teacher_gets_full_marks(family, examples)
        assert min(distinct_texts(family, e) for e in examples[:5]) >= 25
        rationale, answer = family.solve(examples[0], random.Random(1))
        assert quoted_option(rationale) == answer
        people = parse_puzzle(examples[0].question).start
        # the opening and a line after every swap name every person's holding
        full_lines = [s for s in rationale.split(". ") if all(f"{p} has" in s for p in people)]
        assert len(full_lines) == len(parse_puzzle(examples[0].question).swaps) + 1


def test_state_style_grader_catches_a_crossed_wrong_and_a_missing_swap():
    from distill.solvers import FAMILIES

    family = FAMILIES["tracking_shuffled_objects"]
    example = next(e for e in __import__("serve.data.bigbench", fromlist=["x"]).load_task(
        "tracking_shuffled_objects/three_objects") if len(set(parse_puzzle(e.question).start.values())) == 3)
    rationale, answer = family.solve(example, random.Random(7))
    full = family.grade(example.question, example.choices, rationale)
    assert full.steps_right == full.steps == 3 and full.claimed_answer == answer
    sentences = rationale.split("Swap ")
    # swap 2 left uncrossed: "now A has X and B has Y" restates the old holdings
    second = sentences[2]
    before = re.search(r"(\w+) (?:had|was \w+(?: with)?) (.+?) and (\w+) (?:had|was \w+(?: with)?) (.+?)[,;.] ",
                       second)
    assert before, second
    a, item_a, b, item_b = before.groups()
    after_old = re.search(r"(?:now|the swap|Now) (.+?)\.", second.split(before.group(0))[1]).group(0)
    uncrossed = after_old.replace(item_b, "\0").replace(item_a, item_b).replace("\0", item_a)
    broken = rationale.replace(second, second.replace(after_old, uncrossed, 1))
    assert family.grade(example.question, example.choices, broken).steps_right == 2
    missing = "Swap ".join(sentences[:2] + sentences[3:])
    assert family.grade(example.question, example.choices, missing).steps_right < 3
    assert family.grade(example.question, example.choices, "no idea at all").steps_right == 0


def test_unknown_style_is_a_one_line_error():
    from distill.teachers.base import TeacherConfig
    from distill.teachers.program import ProgramTeacher
    from serve.core.errors import UserError

    with pytest.raises(UserError, match="rationale_style 'fancy'.*default, pairs"):
        ProgramTeacher(TeacherConfig(backend="program", model="tracking_shuffled_objects", rationale_style="fancy"),
                       None)
