from __future__ import annotations

import random
import re

import pytest

from distill.solvers.base import norm
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


BBH_SIZES = ("three_objects", "five_objects", "seven_objects")
SIZES = (*BBH_SIZES, "nine_objects")
WORDINGS = ("bbh", "varied", "heldout")
DRAWS = 1000


def family():
    from distill.solvers import FAMILIES

    return FAMILIES["tracking_shuffled_objects"]


def drawn_examples(size: str, wording: str, count: int, seed: int = 0):
    """``count`` questions straight from the generator, as Examples (no dedup, no BBH filter)."""
    from serve.core.records import Example
    from serve.data.generators.tracking_shuffled_objects import GENERATOR

    rng, params = random.Random(f"tracking|{size}|{wording}|{seed}"), GENERATOR.params_for(size, {"wording": wording})
    return [Example(f"tracking/{size}/{wording}/{i}", "tracking_shuffled_objects", d.question, d.answer, d.choices,
                    "train", dict(d.meta), d.answer_type)
            for i, d in enumerate(GENERATOR.draw(rng, params) for _ in range(count))]


def bbh_examples(size: str):
    from solver_checks import bbh_task

    return bbh_task(f"tracking_shuffled_objects_{size}")


@pytest.mark.parametrize("size", BBH_SIZES)
def test_both_styles_answer_every_bbh_question(size):
    from solver_checks import solve_all

    examples = bbh_examples(size)
    for style in ("default", "compact", "pairs"):
        styled = family().__class__(family().name, family().solver(style), family().grade)
        right, wrong, unreadable = solve_all(styled, examples)
        assert (wrong, unreadable) == ([], []) and right == len(examples) == 250, (style, size)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("wording", WORDINGS)
def test_generated_questions_are_solved_distinct_new_and_spread_over_the_letters(size, wording):
    import os
    from collections import Counter

    from solver_checks import solve_all

    from serve.data.bbh import question_key
    from serve.data.generated import bbh_question_keys

    examples = drawn_examples(size, wording, DRAWS)
    right, wrong, unreadable = solve_all(family(), examples)
    assert (right, wrong[:3], unreadable[:3]) == (DRAWS, [], [])
    keys = {question_key(e.question) for e in examples}
    assert len(keys) == DRAWS
    banned = set(bbh_question_keys())
    if os.environ.get("SCOTD_BBH_DIR"):
        banned |= {question_key(e.question) for s in BBH_SIZES for e in bbh_examples(s)}
    assert not keys & banned
    letters = Counter(e.answer for e in examples)
    options = len(examples[0].choices)
    assert len(letters) == options and min(letters.values()) > 0.6 * DRAWS / options, letters
    # both styles on a share of them
    pairs = family().__class__(family().name, family().solver("pairs"), family().grade)
    assert solve_all(pairs, examples[:100])[0] == 100


def test_bbh_wording_rebuilds_every_bbh_question_and_its_options():
    """The parsed puzzle of every BBH item, written in one of the generator's BBH frames, is the item itself."""
    from serve.data.generators.tracking_shuffled_objects import BBH_FRAMES, BBH_PEOPLE, bbh_question

    for size in BBH_SIZES:
        used = set()
        for example in bbh_examples(size):
            puzzle = parse_puzzle(example.question)
            people = list(puzzle.start)
            assert people == list(BBH_PEOPLE[:len(people)])
            swaps = [(people.index(a), people.index(b)) for a, b in puzzle.swaps]
            query = people.index(puzzle.query)
            assert [norm(item) for item in puzzle.start.values()] == [norm(c) for c in example.choices]
            for name, frame in BBH_FRAMES.items():
                if bbh_question(frame, people, example.choices, swaps, query) == example.question:
                    used.add(name)
                    break
            else:
                pytest.fail(f"no BBH frame writes {example.id}")
        assert used == set(BBH_FRAMES), size


def test_generated_source_reads_every_size_and_wording():
    from solver_checks import generated, solve_all

    for wording in WORDINGS:
        examples = generated(f"gen:tracking_shuffled_objects/nine_objects?wording={wording}", limit=20, split="all")
        assert solve_all(family(), examples)[0] == 20
        assert all(len(e.choices) == 9 and len(parse_puzzle(e.question).swaps) == 9 for e in examples)
    four = generated("gen:tracking_shuffled_objects?objects=4&swaps=6", limit=10, split="all")
    assert all(len(parse_puzzle(e.question).start) == 4 and len(parse_puzzle(e.question).swaps) == 6 for e in four)
    assert solve_all(family(), four)[0] == 10


def test_generation_is_fast():
    import time

    start = time.perf_counter()
    drawn_examples("seven_objects", "varied", 1000, seed=9)
    assert time.perf_counter() - start < 2.0  # 500 questions a second at the least


def test_heldout_pools_and_frames_share_nothing_with_varied_or_bbh():
    from serve.data.generators.tracking_shuffled_objects import BBH_FRAMES, BBH_PEOPLE, HELDOUT, VARIED

    def words(texts):
        return {w for t in texts for w in re.findall(r"[a-z]+", re.sub(r"\{\w+\}", " ", t).lower())}

    def item_words(pools):
        return words(pools.adjectives + pools.nouns + pools.titles + pools.roles)

    bbh_items = {i for frame in BBH_FRAMES.values() for i in frame.items}
    assert not set(HELDOUT.names) & (set(VARIED.names) | set(BBH_PEOPLE) | bbh_items)
    assert not item_words(HELDOUT) & (item_words(VARIED) | words(bbh_items))
    glue = {"a", "an", "the", "of", "and", "with", "their", "at", "is", "all"}
    for field in ("setups", "transitions", "swap_clauses", "endings", "openers"):
        held, seen = getattr(HELDOUT, field), getattr(VARIED, field)
        assert not {t for t in held if t} & set(seen), field
    assert not (words(HELDOUT.swap_clauses) - glue) & (words(VARIED.swap_clauses) | words(
        f.swap for f in BBH_FRAMES.values()))
    assert not set(sum(HELDOUT.ordinals, ())) & set(sum(VARIED.ordinals, ()) + ("First, ", "Then, ", "Finally, "))
    held_holds = {h for theme in HELDOUT.themes for h in theme.holds}
    assert not held_holds & ({h for theme in VARIED.themes for h in theme.holds} |
                             {f.hold.removesuffix(" a") for f in BBH_FRAMES.values()})
    assert not {e for t in HELDOUT.themes for e in t.events} & {e for t in VARIED.themes for e in t.events}
    for pools in (VARIED, HELDOUT):  # a name that is also a word of an item would blur who holds what
        assert not set(pools.names) & {w.capitalize() for w in item_words(pools)}
    # the varied pools are wide: hundreds of names, many kinds of items
    assert len(VARIED.names) >= 300 and len(HELDOUT.names) >= 150
    assert len(VARIED.adjectives) * len(VARIED.nouns) >= 500 and len(VARIED.themes) >= 5


@pytest.mark.parametrize("source", ["bbh", "bbh-wording", "varied", "heldout"])
def test_state_style_restates_everyone_quotes_the_option_and_grades_full(source):
    from solver_checks import distinct_texts, teacher_gets_full_marks

    from distill.solvers.base import quoted_option

    for size in BBH_SIZES:
        examples = (bbh_examples(size) if source == "bbh" else
                    drawn_examples(size, source.removesuffix("-wording"), 20, seed=1))[:20]
        teacher_gets_full_marks(family(), examples)
        assert min(distinct_texts(family(), e) for e in examples[:5]) >= 25
        rationale, answer = family().solve(examples[0], random.Random(1))
        assert quoted_option(rationale) == answer
        puzzle = parse_puzzle(examples[0].question)
        # the opening and a line after every swap name every person's holding
        full_lines = [s for s in rationale.split(". ") if all(f"{p} {puzzle.verb} " in s for p in puzzle.start)]
        assert len(full_lines) == len(puzzle.swaps) + 1


@pytest.mark.parametrize("wording", WORDINGS)
def test_state_style_grader_catches_a_crossed_wrong_and_a_missing_swap(wording):
    example = drawn_examples("three_objects", wording, 1, seed=7)[0]
    rationale, answer = family().solve(example, random.Random(7))
    full = family().grade(example.question, example.choices, rationale)
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
    assert family().grade(example.question, example.choices, broken).steps_right == 2
    missing = "Swap ".join(sentences[:2] + sentences[3:])
    assert family().grade(example.question, example.choices, missing).steps_right < 3
    assert family().grade(example.question, example.choices, "no idea at all").steps_right == 0


def test_unknown_style_is_a_one_line_error():
    from distill.teachers.base import TeacherConfig
    from distill.teachers.program import ProgramTeacher
    from serve.core.errors import UserError

    with pytest.raises(UserError, match="rationale_style 'fancy'.*default, compact, pairs"):
        ProgramTeacher(TeacherConfig(backend="program", model="tracking_shuffled_objects", rationale_style="fancy"),
                       None)


def test_compact_style_is_shorter_and_graded_step_by_step():
    example = drawn_examples("five_objects", "varied", 1, seed=3)[0]
    compact, answer = family().solver("compact")(example, random.Random(0))
    state, same = family().solver("default")(example, random.Random(0))
    assert answer == same == example.answer and len(compact) < 0.8 * len(state)
    graded = family().grade(example.question, example.choices, compact)
    assert graded.steps_right == graded.steps == 5 and graded.claimed_answer == answer
    # one swap line with the pair's holdings left uncrossed is one step wrong
    lines = compact.split("Swap ")
    a, b = re.match(r"\d+[:,] (\w+) and (\w+)", lines[2]).groups()
    held = dict(re.findall(r"(\w+) (?:has|is \w+(?: with)?) (?:the )?([^,.]+?)(?=,| and \w+ (?:has|is)|\.)", lines[2]))
    swapped = lines[2].replace(held[a], "\0").replace(held[b], held[a]).replace("\0", held[b])
    broken = "Swap ".join(lines[:2] + [swapped] + lines[3:])
    assert family().grade(example.question, example.choices, broken).steps_right == 4


def test_a_style_of_one_family_leaves_the_others_of_a_mixture_at_their_default():
    from distill.teachers.base import Job, TeacherConfig
    from distill.teachers.program import ProgramTeacher
    from serve.core.errors import UserError
    from serve.data.sources import load_examples

    examples = load_examples("gen:tracking_shuffled_objects/three_objects + gen:boolean_expressions", "train", 2)
    teacher = ProgramTeacher(TeacherConfig(backend="program", rationale_style="compact"),
                             type("Sampling", (), {"seed": 0})())
    texts = {job.example.task: samples[0].text
             for job, samples in teacher.sample([Job(e.id, "", 1, example=e) for e in examples])}
    assert texts["gen:tracking_shuffled_objects/three_objects"].count("Swap ") == 3
    assert "had" not in texts["gen:tracking_shuffled_objects/three_objects"]  # not the default's crossing step
    assert texts["gen:boolean_expressions/default"].startswith("Precedence") or "=" in texts["gen:boolean_expressions/default"]
    with pytest.raises(UserError, match="not a style of any program solver"):
        ProgramTeacher(TeacherConfig(backend="program", rationale_style="fancy"), None)
