"""What a word-sorting student gets wrong in the insertion styles: each state it wrote, checked against
the state the program teacher would write from the student's own previous state.

    python scripts/word_sorting_step_errors.py runs/pilot/words-insertion/eval-export

Reads ``predictions.jsonl`` of ``scotd eval`` runs on word sorting (BBH or generated) whose outputs are in
the ``insertion``, ``insertion_tagged``, ``insertion_compared`` or ``insertion_spelled`` style ("Insert harm (h): artillery fda harm vegetate."). For
each stated word: is it the question's next word, is its first letter right, and is the new state the
previous one with that word put before the first listed word that sorts after it? A wrong state is
classed by what differs: only the new word's place, the order of the words already listed, or which
words are listed (dropped, invented). The right states are also split by whether the stated word's first
letter is already in the list, so that placing it needs the letters after the first (a tie), or not;
for ``insertion_compared`` and ``insertion_spelled`` answers, each comparison the teacher would write
from the student's own list is looked up among the student's: written at all, naming the right two
letters (also by the letter where the words part), right, and (spelled) both words spelled right. Last, the answers right on lists with and without two words that share a
first letter.
Prints a markdown table per run (for the right states a 95% bootstrap interval over answers) and writes
it with ``--out``.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from distill.eval_folder import eval_rows
from distill.step_report import column_name, print_step_table, step_rate_cell, step_report_args
from distill.solvers.base import UnsolvableQuestion
from distill.solvers.word_sorting import (INSERTED, comparison, parse_words, rationale_sentences, read_state,
                                         spelled_comparison, tagged_form, tie_comparisons)

KINDS = ("right", "new word in the wrong place", "listed words reordered", "words dropped or added")
# answers by whether two words of the question share a first letter (so the list has a tie to break)
ANSWER_SPLIT = {False: "answers right, no two words share a first letter",
                True: "answers right, two words share a first letter"}
# steps by whether the stated word's first letter is already listed: (row of the right ones, steps)
TIE_SPLIT = {True: ("right, first letter already listed (a tie)", "tie steps"),
             False: ("right, first letter new to the list", "steps without a tie")}


def put_in(listed: list[str], word: str) -> list[str]:
    """``listed`` with ``word`` before the first word that sorts after it (the teacher's step)."""
    at = next((k for k, other in enumerate(listed) if other > word), len(listed))
    return listed[:at] + [word] + listed[at:]


def classify(listed: list[str], word: str, stated: list[str]) -> str:
    if stated == put_in(listed, word):
        return KINDS[0]
    if sorted(stated) == sorted(listed + [word]):
        return KINDS[1] if [w for w in stated if w != word] == listed else KINDS[2]
    return KINDS[3]


COMPARISON_KINDS = ("tie comparisons written", "tie comparisons naming the right letters", "tie comparisons right",
                    "tie comparisons spelled right")


LETTER_KINDS = ("written comparisons at letter 2 naming the right letters", "... at letter 3", "... at letter 4 or later")


def count_comparisons(counts: Counter, word: str, teacher: list[str], written: str) -> None:
    """The teacher's comparisons of ``word`` ("hat: r before t") against the ones written, matched by
    listed word; the written ones also by the letter where the two words part."""
    said = dict(item.split(": ", 1) for item in written.split("; ") if ": " in item)
    for listed, verdict in (item.split(": ", 1) for item in teacher):
        got = said.get(listed)
        # insertion_spelled writes "h-a-r against h-a-t, r before t": the spelling, then the verdict
        spelling, _, verdict_alone = verdict.rpartition(", ")
        got_spelling, _, got_alone = (got or "").rpartition(", ")
        letters_right = got is not None and got_alone.split()[::2] == verdict_alone.split()[::2]
        counts["tie comparisons"] += 1
        counts[COMPARISON_KINDS[0]] += got is not None
        counts[COMPARISON_KINDS[1]] += letters_right
        counts[COMPARISON_KINDS[2]] += got == verdict
        counts[COMPARISON_KINDS[3]] += bool(spelling) and got_spelling == spelling
        if got is not None:
            at = LETTER_KINDS[min(len(os.path.commonprefix([word, listed])), 3) - 1]
            counts[at, "written"] += 1
            counts[at] += letters_right


def step_counts(eval_dir: Path) -> tuple[Counter, list[tuple[int, int]]]:
    """Counts of each state kind and of the stated words' checks, and (states right, states) per answer."""
    counts, answers = Counter(), []
    for row in eval_rows(eval_dir):
        try:
            words = parse_words(row["question"])
        except UnsolvableQuestion:
            continue
        listed, right, states = [], 0, 0
        steps = [m.group("word", "letter", "comparisons", "list")
                 for m in map(INSERTED.match, rationale_sentences(row["output"])) if m]
        compares = any(compared for _, _, compared, _ in steps)  # an insertion_compared or _spelled answer
        spells = any(" against " in (compared or "") for _, _, compared, _ in steps)
        tagged = tagged_form([stated for *_, stated in steps])
        for index, (word, letter, compared, stated) in enumerate(steps):
            ties = tie_comparisons(word, listed, spelled_comparison if spells else comparison)
            if compares:
                count_comparisons(counts, word, ties, compared or "")
            counts["word is the question's next"] += index < len(words) and word == words[index]
            counts["first letter right"] += letter == word[0]
            state = read_state(stated, tagged)
            kind = classify(listed, word, state)
            counts[kind] += 1
            right_kind, steps_kind = TIE_SPLIT[bool(ties)]
            counts[steps_kind] += 1
            counts[right_kind] += kind == KINDS[0]
            right, states, listed = right + (kind == KINDS[0]), states + 1, state
        answers.append((right, states))
        answer_kind = ANSWER_SPLIT[len({w[0] for w in words}) < len(words)]
        counts[answer_kind, "answers"] += 1
        counts[answer_kind] += bool(row.get("correct"))
    return counts, answers


def main() -> int:
    args = step_report_args(__doc__)
    results = {path: step_counts(path) for path in args.evals}
    columns = [column_name(path, len(answers)) for path, (_, answers) in results.items()]
    rows = {kind: [step_rate_cell(counts[kind], sum(counts[k] for k in KINDS), answers if kind == KINDS[0] else None)
                   for counts, answers in results.values()]
            for kind in (*KINDS, "word is the question's next", "first letter right")}
    for kind, steps_kind in TIE_SPLIT.values():
        rows[kind] = [step_rate_cell(counts[kind], counts[steps_kind]) for counts, _ in results.values()]
    if any(counts["tie comparisons"] for counts, _ in results.values()):
        for kind in COMPARISON_KINDS:
            rows[kind] = [step_rate_cell(counts[kind], counts["tie comparisons"]) for counts, _ in results.values()]
        for kind in LETTER_KINDS:
            rows[kind] = [step_rate_cell(counts[kind], counts[kind, "written"]) for counts, _ in results.values()]
    for kind in ANSWER_SPLIT.values():
        rows[kind] = [step_rate_cell(counts[kind], counts[kind, "answers"]) for counts, _ in results.values()]
    print_step_table("states written", rows, columns, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
