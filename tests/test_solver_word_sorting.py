from __future__ import annotations

import dataclasses
import random
import re

import pytest

from distill.solvers.base import UnsolvableQuestion
from distill.solvers.word_sorting import (FAMILY, comparison, parse_words, read_state, sort_words,
                                         spelled_comparison)
from serve.core.records import Example
from serve.data.generators.word_sorting import GENERATOR, prefix_families, vocabulary
from tests.solver_checks import (bbh_task, bbh_task_is_solved, distinct_texts, generated,
                                 generated_are_solved_distinct_and_new, solve_all, teacher_gets_full_marks)

TASK = "word_sorting"
SOURCES = [f"gen:{TASK}/{size}" for size in GENERATOR.sizes] + [f"gen:{TASK}/default?wording=varied"]
_SENTENCE_END = re.compile(r"(?<=\.)\s+(?=[A-Z])")
# written for this test (no BBH item): the s- words take two tie lines, she'll sorts before sheaf
TIED = Example("own/ties", TASK, "Sort the following words alphabetically: List: shelter gelatin she'll shed "
                                 "sheaf storm", "gelatin she'll sheaf shed shelter storm")


@pytest.fixture(scope="module")
def bbh():
    return bbh_task(TASK)


@pytest.fixture(scope="module")
def questions():
    return generated(f"gen:{TASK}", limit=400)


def _sentences(rationale: str) -> list[str]:
    return _SENTENCE_END.split(rationale)


def test_every_bbh_example_is_answered_right():
    bbh_task_is_solved(FAMILY, TASK)


@pytest.mark.parametrize("source", SOURCES)
def test_generated_questions_are_answered_right_distinct_and_new(source):
    generated_are_solved_distinct_and_new(FAMILY, generated(source, limit=1000), 1000, TASK)


def test_vocabulary_is_large_and_holds_the_hard_cases():
    words = vocabulary()
    assert len(words) >= 3000 and all(re.fullmatch(r"[a-z][a-z&'.]*", w) for w in words)
    assert {"car", "card", "cardboard", "she'll", "she's", "o'clock", "r&b", "p.m"} <= set(words)
    assert all(len(family) >= 2 for family in prefix_families())


def test_every_vocabulary_word_is_sorted_among_its_neighbours():
    """Runs of 20 alphabetical neighbours share the longest prefixes the vocabulary has."""
    words, examples = list(vocabulary()), []
    for start in range(0, len(words) - 1, 20):
        run = words[start:start + 20]
        random.Random(start).shuffle(run)
        examples.append(Example(f"run/{start}", TASK, f"List: {' '.join(run)}", " ".join(sorted(run))))
    assert solve_all(FAMILY, examples) == (len(examples), [], [])
    teacher_gets_full_marks(FAMILY, examples, seeds=2)


def test_generated_lists_have_the_asked_length_and_distinct_words():
    rng = random.Random(0)
    for size, length in (("two_words", 2), ("twenty_words", 20), ("thirty_words", 30)):
        for _ in range(100):
            words = parse_words(GENERATOR.draw(rng, GENERATOR.params_for(size, {})).question)
            assert len(words) == len(set(words)) == length
    lengths = {len(parse_words(GENERATOR.draw(rng, GENERATOR.params_for("default", {})).question)) for _ in range(500)}
    assert lengths == set(range(2, 21))


def test_related_lists_tie_past_the_first_letter():
    rng = random.Random(0)
    params = GENERATOR.params_for("five_words", {"related": 1.0})
    for _ in range(200):
        plan = sort_words(parse_words(GENERATOR.draw(rng, params).question))
        assert any(tie.letter_number >= 3 for group in plan.groups for tie in group.ties)


def test_samples_differ_in_wording(questions):
    # two-word lists have the fewest choices to vary; the others add tie lines
    two_words = generated(f"gen:{TASK}/two_words", limit=3)
    for example in two_words + questions[:3] + [TIED]:
        assert distinct_texts(FAMILY, example) >= 25, example.id


def _odd(examples):
    return [e for e in examples if re.search(r"[&'.]", e.question.split("List:")[1])]  # apostrophes, r&b, p.m


def test_teacher_rationales_get_full_marks(questions):
    odd = _odd(generated(f"gen:{TASK}/thirty_words", limit=60))
    assert len(odd) >= 15
    teacher_gets_full_marks(FAMILY, random.Random(0).sample(questions, 60) + odd[:15] + [TIED])


def test_teacher_rationales_get_full_marks_on_bbh(bbh):
    teacher_gets_full_marks(FAMILY, random.Random(0).sample(bbh, 60) + _odd(bbh)[:15])


def test_symbols_and_ended_words_sort_first():
    rationale, answer = FAMILY.solve(TIED, random.Random(1))
    assert answer == TIED.answer
    assert "apostrophe: she'll; a: sheaf" in rationale
    _, answer = FAMILY.solve(dataclasses.replace(TIED, question="List: cardboard car r&b card rb"), random.Random(1))
    assert answer == "car card cardboard r&b rb"


def test_grader_catches_a_wrong_and_a_missing_step():
    example = TIED  # groups resolved over several tie lines
    question = example.question
    rationale, answer = FAMILY.solve(example, random.Random(3))
    full = FAMILY.grade(question, None, rationale)
    assert full.steps == full.steps_right and full.final_right and full.claimed_answer == answer
    sentences = _sentences(rationale)
    ties = [i for i, s in enumerate(sentences) if re.search(r"letter \d+", s)]
    assert len(ties) >= 2

    # a tie line naming the wrong letter number: only that step is lost
    wrong = sentences[:]
    wrong[ties[1]] = re.sub(r"letter (\d+)", lambda m: f"letter {int(m.group(1)) + 1}", wrong[ties[1]], count=1)
    assert FAMILY.grade(question, None, " ".join(wrong)).steps_right == full.steps - 1

    # two words swapped in the final list: two positions lost, and the claim is wrong
    final_words = answer.split()
    swapped = final_words[:]
    swapped[0], swapped[1] = swapped[1], swapped[0]
    lead = sentences[-1].split(": ", 1)[0]
    bad_final = " ".join(sentences[:-1] + [f"{lead}: {' '.join(swapped)}."])
    grade = FAMILY.grade(question, None, bad_final)
    assert grade.steps_right == full.steps - 2 and not grade.final_right
    assert grade.claimed_answer == " ".join(swapped)

    # a word left out of the final list: it and every later position are wrong
    dropped = final_words[:3] + final_words[4:]
    short_final = " ".join(sentences[:-1] + [f"{lead}: {' '.join(dropped)}."])
    assert FAMILY.grade(question, None, short_final).steps_right == full.steps - (len(final_words) - 3)

    # missing steps: one tie line, then the first-letter line (one step per bucket)
    assert FAMILY.grade(question, None, " ".join(s for i, s in enumerate(sentences) if i != ties[0])).steps_right \
        == full.steps - 1
    first_letters = len(set(word[0] for word in parse_words(question)))  # not the instruction's words
    no_buckets = " ".join(s for i, s in enumerate(sentences) if i != 1)
    assert FAMILY.grade(question, None, no_buckets).steps_right == full.steps - first_letters

    # the student's own closing counts as its claim
    assert FAMILY.grade(question, None, f"{rationale} So the answer is {answer}.").final_right


def test_grader_survives_garbage(questions):
    question = questions[200].question
    for text in ("", "The answer is (a).", "a: b; c: d. letter 9 zz- : ; ", "Sorted: ."):
        grade = FAMILY.grade(question, None, text)
        assert grade.steps_right == 0 and not grade.final_right


def test_off_pattern_questions_are_rejected():
    for question in ("Sort These Words", "apple banana apple", ""):
        with pytest.raises(UnsolvableQuestion):
            FAMILY.solve(dataclasses.replace(TIED, question=question), random.Random(0))


def test_insertion_style_puts_one_word_in_place_per_step_and_grades_each_state():
    insertion = FAMILY.__class__(FAMILY.name, FAMILY.solver("insertion"), FAMILY.grade)
    examples = bbh_task_is_solved(insertion, TASK)
    teacher_gets_full_marks(insertion, examples[::5] + [TIED])
    rationale, answer = insertion.solve(TIED, random.Random(0))
    sentences = _sentences(rationale)
    states = [s for s in sentences if s.split(" (")[0].split()[-1] in TIED.question.split()]
    assert len(states) == 6 and answer == TIED.answer
    lead = states[0].split(" shelter (")[0]
    assert states[2] == f"{lead} she'll (s): gelatin she'll shelter."
    assert states[-1].endswith("(s): gelatin she'll sheaf shed shelter storm.")
    # one state wrong (shed before she'll): one step lost, the answer still read
    wrong = rationale.replace("(s): gelatin she'll shed shelter.", "(s): gelatin shed she'll shelter.")
    assert wrong != rationale
    full, graded = FAMILY.grade(TIED.question, None, rationale), FAMILY.grade(TIED.question, None, wrong)
    assert graded.steps == full.steps == 12 and graded.steps_right == 11 and graded.final_right
    # a state left out shifts the rest: each later state is compared with the one it stands in for
    dropped = " ".join(s for s in sentences if "(g):" not in s)
    assert FAMILY.grade(TIED.question, None, dropped).steps_right < 11


def styled_rationale(style: str) -> str:
    """The ``style`` teacher checked on every BBH item (full marks on every 5th and on TIED); its TIED rationale."""
    styled = FAMILY.__class__(FAMILY.name, FAMILY.solver(style), FAMILY.grade)
    examples = bbh_task_is_solved(styled, TASK)
    teacher_gets_full_marks(styled, examples[::5] + [TIED])
    return styled.solve(TIED, random.Random(0))[0]


def assert_one_state_lost(rationale: str, state: str, misordered: str) -> None:
    wrong = rationale.replace(state, misordered, 1)
    assert wrong != rationale
    full, graded = FAMILY.grade(TIED.question, None, rationale), FAMILY.grade(TIED.question, None, wrong)
    assert graded.steps == full.steps == 12 and graded.steps_right == 11


def test_tagged_insertion_writes_each_listed_word_after_its_first_letter():
    rationale = styled_rationale("insertion_tagged")
    assert "she'll (s): g gelatin, s she'll, s shelter." in rationale
    assert_one_state_lost(rationale, "(s): g gelatin, s she'll, s shed, s shelter.", "(s): g gelatin, s shed, s she'll, s shelter.")


def test_compared_insertion_spells_out_each_tie_before_the_state():
    rationale = styled_rationale("insertion_compared")
    # she'll against shelter: they part at letter 4, an apostrophe against an l
    assert "she'll (s; shelter: apostrophe before l): g gelatin, s she'll, s shelter." in rationale
    assert comparison("hat", "hatch") == "hatch: end before c" and comparison("rd", "r&d") == "r&d: d after ampersand"
    # a word whose first letter is new to the list has no comparison
    assert re.search(r"\(g\): g gelatin, s shelter\.", rationale)
    assert_one_state_lost(rationale, "s she'll, s shed, s shelter.", "s shed, s she'll, s shelter.")


def test_a_stated_list_is_read_tagged_only_where_each_tag_starts_its_word():
    assert read_state("j jerusalem") == ["jerusalem"]
    assert read_state("a artillery, f fda, h harm") == ["artillery", "fda", "harm"]
    assert read_state("i i, j jam") == ["i", "jam"]
    # plain lists whose first word is one letter: "a" is a word here, not the tag of "zebra"
    assert read_state("a zebra") == ["a", "zebra"]
    assert read_state("artillery fda harm") == ["artillery", "fda", "harm"]
    # the rationale's other lists settle a lone pair: tagged there, a wrong tag stays a tag
    assert read_state("p impede", tagged=True) == ["impede"] and read_state("a zebra", tagged=None) == ["a", "zebra"]


def test_spelled_insertion_spells_both_words_to_where_they_part():
    rationale = styled_rationale("insertion_spelled")
    assert "she'll (s; shelter: s-h-e-' against s-h-e-l, apostrophe before l): g gelatin, s she'll, s shelter." in rationale
    assert spelled_comparison("hat", "hatch") == "hatch: h-a-t-end against h-a-t-c, end before c"
    assert re.search(r"\(g\): g gelatin, s shelter\.", rationale)
    assert_one_state_lost(rationale, "s she'll, s shed, s shelter.", "s shed, s she'll, s shelter.")
