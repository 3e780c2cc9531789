"""Solve ``word_sorting`` (BBH's file and generated questions) and narrate the sort as a rationale.

A question is an instruction, then a list of lower-case words separated by spaces: "Sort the
following words alphabetically: List: shelter gelatin she'll shed" (generated questions may
word the instruction otherwise; ``parse_words`` reads only what follows "List:", and the
rationale does not repeat the instruction). The target is the words in Python ``sorted`` order
joined by spaces (checked against BIG-bench's 1900 targets and BBH's 250). A few words hold an
ampersand, an apostrophe or a dot ("r&d", "o'dell", "p.m"): in that order these come before
every letter, and a word that has ended comes before any longer word it starts ("o" before
"o'dell").

Algorithm: a most-significant-letter bucket sort. Bucket the words by first letter; in each
bucket holding several words, find the longest prefix they all share and bucket them again by
the letter after it; repeat until every bucket holds one word. Reading the buckets in order
gives the sorted list.

Rationale, one sentence per step:

    First letters: shelter (s), gelatin (g), she'll (s), shed (s), storm (s).
    By first letter: g: gelatin; s: shelter, she'll, shed, storm.
    The s- words differ at letter 2: h: shelter, she'll, shed; t: storm.
    The she- words differ at letter 4: apostrophe: she'll; d: shed; l: shelter.
    So the s- words go: she'll, shed, shelter, storm.
    Sorted: gelatin she'll shed shelter storm.

Each first-letter group of several words gets its tie lines (depth first, buckets in order),
then, when it took more than one tie line, its words in order. Buckets keep the words in list
order; "end" labels a word that has no letter there. The lead-in of each kind of sentence is
drawn from ``rng`` once per rationale. Graded steps: each first-letter bucket, each tie line
(prefix, letter number and buckets), and each position of the final list.

The ``insertion`` style (``teacher.rationale_style``) builds the sorted list one word at a time, in
the question's order, restating it after every word:

    Insert shelter (s): shelter. Insert gelatin (g): gelatin shelter. Insert she'll (s): gelatin
    she'll shelter. Insert shed (s): gelatin she'll shed shelter. ... Sorted: gelatin she'll shed ...

The default's "By first letter" line gathers each letter's words from anywhere in the list, a search
a 135M student gets wrong (it drops, invents and misfiles words: the shipped reasoner scores 9.2% on
BBH's file although 96.5% of the first letters it writes are right). Here each state is the one
before it with one word put in place, so a step reads only the line before it and the next word of
the question: the student copies the list and decides, word by word, whether the new word goes
first. The states restate n(n+1)/2 words for a list of n: 1.4x the default's tokens on BBH's lists,
1.2x on generated ones (grouping each state under its first letters made it 2.4x, so they are plain).
Piloted from the base (docs/RESULTS.md, word sorting), the student copied the lists and wrote the new
word's first letter right (97%) but put the new word in the wrong place in 572 of 1,083 steps
(scripts/word_sorting_step_errors.py, each step from the student's own previous list): the placement
needs the first letters of the listed words, which plain states leave implicit. ``insertion_tagged``
writes each listed word after its first letter ("Insert harm (h): a artillery, f fda, h harm, v
vegetate."), so the choice at each word of the copy is between two letters; 1.65x plain's tokens.
Its student got 92% of its states right where the new word's first letter was new to the list and 40%
where that letter was already listed: a tie, decided by letters the state never shows.
``insertion_compared`` adds those letters: when the new word's first letter is listed, the step first
compares it with each listed word of that letter at the first place they differ ("Insert harm (h; hat:
r before t; hive: a before i): a artillery, h harm, h hat, h hive, v vegetate."), so the word goes
before the first listed word it comes "before", and past the ones it comes "after". Its student wrote the
comparisons but named the right two letters in 9% of them: it cannot read a word's letters past the first,
nor can the base (scripts/spelling_probe.py: letter 2 right 37%). ``insertion_spelled`` spells both
words, one character a token, up to where they part, so the letters compared are the ones just written
("Insert harm (h; hat: h-a-r against h-a-t, r before t): ..."; "end" where a word has ended): spelling
becomes a skill practised on every tie of every list, over the generator's vocabulary. Piloted from the
base it lost 6 points to the tagged style (docs/RESULTS.md): the student spelled 16.5% of the tied
pairs right, the third letter almost never.
Graded steps: each state, in order, and each position of the final list.
"""

from __future__ import annotations

import os
import random
import re
from dataclasses import dataclass
from typing import Optional, Sequence

from distill.solvers.base import Family, StepGrade, UnsolvableQuestion, norm

_WORD = re.compile(r"[a-z][a-z&'.]*")
_SYMBOL_NAMES = {"": "end", "&": "ampersand", "'": "apostrophe", ".": "dot"}


def bucket_label(word: str, index: int) -> str:
    """What the sort compares at ``index`` (0-based): the letter, a symbol's name, or "end"."""
    char = word[index:index + 1]
    return _SYMBOL_NAMES.get(char, char)


@dataclass
class Split:
    """One bucketing step: words sharing ``prefix`` sorted by the character after it."""
    prefix: str
    buckets: list[tuple[str, list[str]]]  # (label, words in list order), labels in sort order

    @property
    def letter_number(self) -> int:  # 1-based, as the rationale says it
        return len(self.prefix) + 1


def split(words: list[str], prefix: str) -> Split:
    index = len(prefix)
    keys = sorted({word[index:index + 1] for word in words})  # "" sorts first: a word that ended
    return Split(prefix, [(bucket_label(key, 0), [w for w in words if w[index:index + 1] == key]) for key in keys])


def resolve(words: list[str]) -> tuple[list[Split], list[str]]:
    """(tie splits in narration order, the words sorted) for words that share a first letter."""
    if len(words) == 1:
        return [], words
    tie = split(words, os.path.commonprefix(words))
    ties, order = [tie], []
    for _, bucket in tie.buckets:
        sub_ties, sub_order = resolve(bucket)
        ties, order = ties + sub_ties, order + sub_order
    return ties, order


@dataclass
class Group:
    letter: str
    ties: list[Split]
    order: list[str]


@dataclass
class Sort:
    words: list[str]  # as the question lists them
    first: Split  # by first letter
    groups: list[Group]  # first-letter buckets of several words, in order

    @property
    def result(self) -> list[str]:
        resolved = {group.letter: group.order for group in self.groups}
        return [w for label, bucket in self.first.buckets for w in resolved.get(label, bucket)]


def parse_words(question: str) -> list[str]:
    text = question.rsplit("List:", 1)[-1].split("Sorted:", 1)[0]
    words = text.split()
    if not words:
        raise UnsolvableQuestion("no words to sort")
    for word in words:
        if not _WORD.fullmatch(word):
            raise UnsolvableQuestion(f"'{word}' is not a lower-case word")
    if len(set(words)) != len(words):
        raise UnsolvableQuestion("the list repeats a word")
    return words


def sort_words(words: list[str]) -> Sort:
    first = split(words, "")
    groups = [Group(label, *resolve(bucket)) for label, bucket in first.buckets if len(bucket) > 1]
    plan = Sort(words, first, groups)
    assert plan.result == sorted(words), words  # the narration must reach Python's order
    return plan


# --------------------------------------------------------------------------- narration

_FIRST_LETTERS = ("First letters: {pairs}.", "Each word's first letter: {pairs}.", "The words begin with: {pairs}.",
                  "Start with the first letters: {pairs}.", "Look at the first letters: {pairs}.",
                  "Initial letters: {pairs}.", "Noting each first letter: {pairs}.",
                  "The first letter of each word: {pairs}.")
_BY_FIRST = ("By first letter: {buckets}.", "Grouped by first letter: {buckets}.",
             "Grouping them by first letter in order: {buckets}.", "In order of first letter: {buckets}.",
             "Bucketing by first letter: {buckets}.", "Sorted by first letter: {buckets}.",
             "First-letter groups in order: {buckets}.", "Now group by first letter: {buckets}.")
_TIES = ("The {prefix}- words differ at letter {number}: {buckets}.",
         "For the {prefix}- words, letter {number} decides: {buckets}.",
         "The {prefix}- words split at letter {number}: {buckets}.",
         "Within {prefix}-, compare letter {number}: {buckets}.",
         "Comparing letter {number} of the {prefix}- words: {buckets}.")
_GROUP_ORDERS = ("So the {letter}- words go: {words}.", "That orders the {letter}- words: {words}.",
                 "The {letter}- words in order: {words}.", "So the {letter}- group is: {words}.")
_FINAL_LEADS = ("Sorted", "So the sorted list is", "All together", "Putting the groups in order",
                "The full order is", "In alphabetical order", "Joining the groups", "Final order")


def _buckets(split_: Split) -> str:
    return "; ".join(f"{label}: {', '.join(words)}" for label, words in split_.buckets)


def narrate(plan: Sort, rng: random.Random) -> str:
    pairs = ", ".join(f"{word} ({bucket_label(word, 0)})" for word in plan.words)
    lines = [rng.choice(_FIRST_LETTERS).format(pairs=pairs), rng.choice(_BY_FIRST).format(buckets=_buckets(plan.first))]
    tie_line, group_line = rng.choice(_TIES), rng.choice(_GROUP_ORDERS)  # one voice per rationale
    for group in plan.groups:
        lines += [tie_line.format(prefix=tie.prefix, number=tie.letter_number, buckets=_buckets(tie))
                  for tie in group.ties]
        if len(group.ties) > 1:  # after a single tie line the group's order is already on that line
            lines.append(group_line.format(letter=group.letter, words=", ".join(group.order)))
    lines.append(f"{rng.choice(_FINAL_LEADS)}: {' '.join(plan.result)}.")
    return " ".join(lines)


def solve(example, rng: random.Random) -> tuple[str, str]:
    plan = sort_words(parse_words(example.question))
    return narrate(plan, rng), " ".join(plan.result)


_INSERT_LEADS = ("Insert", "Add", "Place", "Put in")


def insertion_states(words: list[str]) -> list[list[str]]:
    """The sorted list after each word of ``words`` is put in."""
    return [sorted(words[:count]) for count in range(1, len(words) + 1)]


def _plain(state: list[str]) -> str:
    return " ".join(state)


def _tagged(state: list[str]) -> str:  # "f frank, h havana": the first letter as its own token
    return ", ".join(f"{word[0]} {word}" for word in state)


_TAGGED_STATE = re.compile(r"[a-z] \S+(?:, [a-z] \S+)*")


def read_state(text: str, tagged: Optional[bool] = None) -> list[str]:
    """A stated list in either form ("frank havana" or "f frank, h havana"). ``tagged`` is the form of the
    rationale's other states (``tagged_form``); plain lists have no commas, so without that a single pair is
    read as tag and word only where the letter starts the word: "a zebra" stays two words."""
    if not _TAGGED_STATE.fullmatch(text):
        return text.split()
    items = [item.split() for item in text.split(", ")]
    if tagged is None:
        tagged = len(items) > 1 or items[0][1].startswith(items[0][0])
    return [word for _, word in items] if tagged else text.split()


def tagged_form(stated: Sequence[str]) -> Optional[bool]:
    """Whether a rationale's lists are tagged, where one of them shows it (a comma); None if none does."""
    return True if any(", " in text and _TAGGED_STATE.fullmatch(text) for text in stated) else None


def verdict(word: str, listed: str) -> str:
    """'r before t': ``word`` against ``listed`` at the first place they differ ("end" where one ended)."""
    at = len(os.path.commonprefix([word, listed]))
    return f"{bucket_label(word, at)} {'before' if word < listed else 'after'} {bucket_label(listed, at)}"


def comparison(word: str, listed: str) -> str:
    """'hat: r before t'."""
    return f"{listed}: {verdict(word, listed)}"


def spelled(word: str, upto: int) -> str:
    """'h-a-r': the first ``upto`` + 1 characters of ``word``, one token each; "end" past its last."""
    return "-".join([*word[:upto + 1], *(["end"] if upto >= len(word) else [])])


def spelled_comparison(word: str, listed: str) -> str:
    """'hat: h-a-r against h-a-t, r before t': ``comparison`` with both words spelled to where they part."""
    at = len(os.path.commonprefix([word, listed]))
    return f"{listed}: {spelled(word, at)} against {spelled(listed, at)}, {verdict(word, listed)}"


def tie_comparisons(word: str, listed: list[str], compare=comparison) -> list[str]:
    """``word`` compared with each word of ``listed`` that shares its first letter, in list order."""
    return [compare(word, other) for other in listed if other[0] == word[0]]


def _insertion(example, rng: random.Random, write_state, compare=None) -> tuple[str, str]:
    words = parse_words(example.question)
    lead, states = rng.choice(_INSERT_LEADS), insertion_states(words)
    tags = ["; ".join([word[0], *tie_comparisons(word, before, compare)]) if compare else word[0]
            for word, before in zip(words, [[], *states])]
    lines = [f"{lead} {word} ({tag}): {write_state(state)}." for word, tag, state in zip(words, tags, states)]
    result = sorted(words)
    lines.append(f"{rng.choice(_FINAL_LEADS)}: {' '.join(result)}.")
    return " ".join(lines), " ".join(result)


def solve_insertion(example, rng: random.Random) -> tuple[str, str]:
    return _insertion(example, rng, _plain)


def solve_insertion_tagged(example, rng: random.Random) -> tuple[str, str]:
    return _insertion(example, rng, _tagged)


def solve_insertion_compared(example, rng: random.Random) -> tuple[str, str]:
    return _insertion(example, rng, _tagged, compare=comparison)


def solve_insertion_spelled(example, rng: random.Random) -> tuple[str, str]:
    return _insertion(example, rng, _tagged, compare=spelled_comparison)


# --------------------------------------------------------------------------- grading a student's rationale

_SENTENCE_END = re.compile(r"(?<=\.)\s+(?=[A-Z])")  # words are lower case, so a capital starts a sentence
_BUCKET = re.compile(r"(?:^|(?<=\s))(end|ampersand|apostrophe|dot|[a-z]): ([^;:]*)")
_TIE_PREFIX = re.compile(r"\b([a-z][a-z&'.]*)-(?=[ ,])")
_TIE_NUMBER = re.compile(r"\bletter (\d+)\b")
# one insertion step: the word put in, its first letter as written, the comparisons with tied listed
# words (insertion_compared only) and the list stated after it
INSERTED = re.compile(r"^(?:" + "|".join(_INSERT_LEADS) + r") (?P<word>[a-z][a-z&'.]*) "
                      r"\((?P<letter>[a-z])(?:; (?P<comparisons>[^)]*))?\): (?P<list>.*)$")
_FINAL = re.compile(r"^(?:(?:" + "|".join(map(re.escape, _FINAL_LEADS)) + r"):|(?:So t|T)he answer is:?) (.*)$")


def read_buckets(text: str) -> list[tuple[str, frozenset[str]]]:
    return [(label, frozenset(w.strip() for w in words.split(",") if w.strip()))
            for label, words in _BUCKET.findall(text)]


def _as_buckets(split_: Split) -> list[tuple[str, frozenset[str]]]:
    return [(label, frozenset(words)) for label, words in split_.buckets]


def _final_grade(claim: Optional[list[str]], truth: list[str], steps: int, right: int) -> StepGrade:
    right += sum(a == b for a, b in zip(claim or [], truth))
    claimed = " ".join(claim).lower() if claim else None
    return StepGrade(steps + len(truth), right, norm(claimed) if claimed else None, claim == truth, claimed)


def rationale_sentences(rationale: str) -> list[str]:
    sentences = [sentence.strip() for sentence in _SENTENCE_END.split(rationale.strip())]
    return [sentence[:-1] if sentence.endswith(".") else sentence for sentence in sentences]


def grade_insertion(words: list[str], sentences: list[str]) -> StepGrade:
    """Steps: the n-th stated list equals the sorted list of the question's first n words; then
    each position of the final list."""
    stated = [m["list"] for m in map(INSERTED.match, sentences) if m]
    states = [read_state(text, tagged_form(stated)) for text in stated]
    finals = [m.group(1).split() for m in map(_FINAL.match, sentences) if m]
    reference = insertion_states(words)
    right = sum(stated == truth for stated, truth in zip(states, reference))
    return _final_grade(finals[-1] if finals else None, sorted(words), len(reference), right)


def grade(question: str, choices: Optional[Sequence[str]], rationale: str) -> StepGrade:
    """Steps: each first-letter bucket (same words under the same letter), each tie line (same
    prefix, letter number and buckets), each position of the final list. Missing ones are wrong.
    A rationale in the ``insertion`` style is graded by ``grade_insertion``."""
    sentences = rationale_sentences(rationale)
    if any(map(INSERTED.match, sentences)):
        return grade_insertion(parse_words(question), sentences)
    plan = sort_words(parse_words(question))
    first_buckets: Optional[dict[str, frozenset[str]]] = None
    ties: dict[str, tuple[int, list]] = {}
    claim: Optional[list[str]] = None
    for sentence in sentences:
        final, prefix, number = _FINAL.match(sentence), _TIE_PREFIX.search(sentence), _TIE_NUMBER.search(sentence)
        if final:
            claim = final.group(1).split()
        elif prefix and number:
            ties.setdefault(prefix.group(1), (int(number.group(1)), read_buckets(sentence[number.end():])))
        elif first_buckets is None and _BUCKET.search(sentence):
            first_buckets = dict(read_buckets(sentence))
    right = sum((first_buckets or {}).get(label) == words for label, words in _as_buckets(plan.first))
    all_ties = [tie for group in plan.groups for tie in group.ties]
    right += sum(ties.get(tie.prefix) == (tie.letter_number, _as_buckets(tie)) for tie in all_ties)
    return _final_grade(claim, plan.result, len(plan.first.buckets) + len(all_ties), right)


FAMILY = Family("word_sorting", solve, grade, styles={"insertion": solve_insertion, "insertion_tagged": solve_insertion_tagged,
                                                     "insertion_compared": solve_insertion_compared,
                                                     "insertion_spelled": solve_insertion_spelled})
