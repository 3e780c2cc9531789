"""Solve ``tracking_shuffled_objects`` (BBH, BIG-bench and generated questions) and narrate the solution.

A question names people, what each holds at the start (a ball, a present, a
position, a book, a dance partner, a room, a job, ...), a sequence of pairwise swaps, and
asks what one person holds at the end. The parser reads the frame from the text, not from
a template list: the people are the subjects of the starting holdings ("Alice has a red
hat", "Bob is dancing with Zoe"), a swap is two of them joined by a swap verb, and the
query is the one sentence naming a single person without stating a holding or a swap.
The solver replays the swaps exactly, so every rationale it writes is correct.

Two rationale styles:
- ``state`` (the default): each swap line first copies the two holdings from the line
  before ("Bob had the white ball and Claire had the red ball"), then crosses them, then
  restates everyone's holding; the last step quotes the matching option. Every step is a
  copy or a swap of the line just before it, which a 135M student can learn.
- ``compact``: the ``state`` style without the copying half-step: each swap line names the pair
  and restates everyone's holding, in one fixed order of people ("Swap 2, Alice and Claire:
  Alice has ..., Bob has ... and Claire has ..."). About half the tokens of ``state`` (tokens
  are what a CPU pays for in training); each line still reads off the line before it.
- ``pairs``: the first format, kept for comparison: each swap states only the two new
  holdings (half the samples restate the whole state) and no option is quoted.

N samples per instance must differ, as an LM teacher's would. Each sample draws, from a
generator seeded by (seed, example id, sample index): the opening template, the order
people are listed in, the phrasing of the swap and state lines, and the closing sentence.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Optional, Sequence

from serve.core.answers import letter
from serve.core.records import Example

from distill.solvers.base import Family, StepGrade, UnsolvableQuestion, match_choice, norm, option_line, quoted_option

# How a question says that someone holds something at the start ("Alice has a red hat"), longest first,
# and the verb the rationale uses for it (every phrase not listed reads "has").
_HOLD_PHRASES = ("is dancing with", "is partnered with", "is paired with", "is teamed with", "is working as",
                 "works as", "is playing", "plays", "is holding", "holds", "is carrying", "is staying in",
                 "is booked into", "was handed", "keeps", "owns", "starts with", "brought", "rented", "is watching",
                 "is reading", "gets", "has")
_RATIONALE_VERB = {"is dancing with": "is dancing with", "is partnered with": "is dancing with",
                   "is paired with": "is paired with", "is teamed with": "is paired with",
                   "is working as": "is working as", "works as": "is working as", "is playing": "is playing",
                   "plays": "is playing"}
_NAME = r"[A-Z][a-z]+"
_HOLDS = "|".join(_HOLD_PHRASES)
# "Alice has a red hat" up to the punctuation or the next "and Bob has ..."; an open query ("Bob has the")
# matches with a bare article as its item and is told apart below.
_HOLDING = re.compile(rf"\b({_NAME}) ({_HOLDS}) ([^\s,.;:?!][^,.;:?!\n]*?)\s*"
                      rf"(?=[,.;:?!\n]| and {_NAME} (?:{_HOLDS}) |$)")
_ARTICLE = re.compile(r"^(?:a|an|the) ")
_SWAP_VERBS = ("swap", "swapped", "trade", "traded", "switch", "switched", "exchange", "exchanged",
               "hand each other", "give each other")
_SWAPS_WITH = ("swaps", "trades", "switches", "exchanges")  # "Alice swaps hats with Bob"
_SWAP = re.compile(rf"\b({_NAME}) and ({_NAME}),? (?:{'|'.join(_SWAP_VERBS)})\b"
                   rf"|\b({_NAME}) (?:{'|'.join(_SWAPS_WITH)}) (?:[\w-]+ ){{1,3}}?with ({_NAME})\b")
_WORD = re.compile(r"\b[A-Z][a-z]+\b")
_SENTENCE_END = re.compile(r"(?<=[.?!])\s+|\n+")


@dataclass
class Puzzle:
    start: dict[str, str]  # person -> item at the start
    swaps: list[tuple[str, str]]
    query: str
    verb: str  # how the rationale says "holds": "has", "is playing", "is dancing with", ...
    article: bool = True  # items are common nouns ("a blue ball"), not names or titles

    def final_state(self) -> dict[str, str]:
        state = dict(self.start)
        for a, b in self.swaps:
            state[a], state[b] = state[b], state[a]
        return state


def _holdings(text: str) -> list[tuple[str, str, str]]:
    """(person, holding phrase, item) of every statement of a holding; open queries left out."""
    return [(person, phrase, item) for person, phrase, item in _HOLDING.findall(text)
            if item not in ("a", "an", "the")]


def parse_puzzle(question: str) -> Puzzle:
    """Read who holds what, the swaps in order and the person asked about, whatever the frame: the
    people are the subjects of the starting holdings, a swap is two of them joined by a swap verb,
    and the query is the one sentence that names a single person without stating a holding or a swap."""
    holdings = _holdings(question)
    start: dict[str, str] = {}
    for person, _, item in holdings:
        if person in start:
            raise UnsolvableQuestion(f"{person} is said to hold two things at the start")
        start[person] = _ARTICLE.sub("", item)
    if len(start) < 2:
        raise UnsolvableQuestion("no starting assignment of items to people found")
    phrases = {phrase for _, phrase, _ in holdings}
    verbs = {_RATIONALE_VERB.get(phrase, "has") for phrase in phrases}
    if len(verbs) > 1:
        raise UnsolvableQuestion(f"mixed holding phrases: {sorted(phrases)}")
    swaps = [(m[0], m[1]) if m[0] else (m[2], m[3]) for m in _SWAP.findall(question)]
    if any(name not in start for swap in swaps for name in swap):
        raise UnsolvableQuestion(f"a swap names someone who holds nothing at the start: {swaps}")
    queries = [names.pop() for sentence in _SENTENCE_END.split(question)
               if not _holdings(sentence) and not _SWAP.search(sentence)
               and len(names := set(_WORD.findall(sentence)) & start.keys()) == 1]
    if not swaps or not queries:
        raise UnsolvableQuestion("no swaps or no final question found")
    return Puzzle(start=start, swaps=swaps, query=queries[-1], verb=verbs.pop(),
                  article=all(_ARTICLE.match(item) for _, _, item in holdings))


def _item(article: bool, item: str) -> str:
    """'the blue ball' for things, the bare name for partners, positions and book titles."""
    return f"the {item}" if article else item


def _listing(state: dict[str, str], people: list[str], verb: str, article: bool) -> str:
    phrases = [f"{p} {verb} {_item(article, state[p])}" for p in people]
    return ", ".join(phrases[:-1]) + f" and {phrases[-1]}" if len(phrases) > 1 else phrases[0]


_OPENINGS = (
    "At the start, {listing}.",
    "Initially, {listing}.",
    "Let's track who {verb} what. In the beginning, {listing}.",
    "Start: {listing}.",
)
_SWAP_LINES = (
    "{ordinal}, {a} and {b} swap, so {a} {verb} {item_a} and {b} {verb} {item_b}.",
    "After {a} and {b} trade, {a} {verb} {item_a} and {b} {verb} {item_b}.",
    "Swap {n}: {a} and {b}. Now {b} {verb} {item_b} and {a} {verb} {item_a}.",
)
_STATE_LINES = ("Now {listing}.", "So far: {listing}.", "The state is: {listing}.")
_CLOSINGS = (
    "At the end, {query} {verb} {item}.",
    "So after all the swaps, {query} {verb} {item}.",
    "Therefore {query} ends up with {item}.",
)
_ORDINALS = ("First", "Second", "Third", "Fourth", "Fifth", "Sixth", "Seventh", "Eighth", "Ninth", "Tenth")


_PAST = {"has": "had", "is playing": "was playing", "is dancing with": "was dancing with",
         "is paired with": "was paired with", "is working as": "was working as"}
_CROSS_LINES = (
    "Swap {n}: {a} and {b}. {a} {past} {item_a} and {b} {past} {item_b}, so now {a} {verb} {item_b} and {b} {verb} "
    "{item_a}.",
    "Swap {n}, {a} and {b}: {a} {past} {item_a} and {b} {past} {item_b}; after the swap {a} {verb} {item_b} and {b} "
    "{verb} {item_a}.",
    "Swap {n}: {a} and {b} trade. Before it {a} {past} {item_a} and {b} {past} {item_b}. Now {a} {verb} {item_b} and "
    "{b} {verb} {item_a}.",
)
_FULL_STATE_LINES = ("Now {listing}.", "State: {listing}.", "So {listing}.")
_STATE_CLOSINGS = ("At the end, {query} {verb} {item}.", "So in the end {query} {verb} {item}.",
                   "After the last swap, {query} {verb} {item}.")


def narrate_state(puzzle: Puzzle, rng: random.Random) -> tuple[str, str]:
    """(rationale, final item) in the ``state`` style: copy the two holdings, cross them, restate everyone."""
    order = list(puzzle.start)
    rng.shuffle(order)
    verb, article = puzzle.verb, puzzle.article
    lines = [rng.choice(_OPENINGS).format(listing=_listing(puzzle.start, order, verb, article), verb=verb)]
    cross, restate = rng.choice(_CROSS_LINES), rng.choice(_FULL_STATE_LINES)
    state = dict(puzzle.start)
    for n, (a, b) in enumerate(puzzle.swaps, start=1):
        lines.append(cross.format(n=n, a=a, b=b, verb=verb, past=_PAST[verb], item_a=_item(article, state[a]),
                                  item_b=_item(article, state[b])))
        state[a], state[b] = state[b], state[a]
        lines.append(restate.format(listing=_listing(state, order, verb, article)))
    final = state[puzzle.query]
    lines.append(rng.choice(_STATE_CLOSINGS).format(query=puzzle.query, verb=verb, item=_item(article, final)))
    return " ".join(lines), final


_COMPACT_OPENINGS = ("Start: {listing}.", "At the start, {listing}.", "Initially, {listing}.")
_COMPACT_SWAPS = ("Swap {n}, {a} and {b}: {listing}.", "Swap {n}: {a} and {b}, so {listing}.")
_COMPACT_CLOSINGS = ("At the end, {query} {verb} {item}.", "So {query} {verb} {item}.")


def narrate_compact(puzzle: Puzzle, rng: random.Random) -> tuple[str, str]:
    """(rationale, final item) in the ``compact`` style: each swap restates everyone, nothing else."""
    order = list(puzzle.start)
    rng.shuffle(order)
    verb, article = puzzle.verb, puzzle.article
    lines = [rng.choice(_COMPACT_OPENINGS).format(listing=_listing(puzzle.start, order, verb, article))]
    swap = rng.choice(_COMPACT_SWAPS)
    state = dict(puzzle.start)
    for n, (a, b) in enumerate(puzzle.swaps, start=1):
        state[a], state[b] = state[b], state[a]
        lines.append(swap.format(n=n, a=a, b=b, listing=_listing(state, order, verb, article)))
    final = state[puzzle.query]
    lines.append(rng.choice(_COMPACT_CLOSINGS).format(query=puzzle.query, verb=verb, item=_item(article, final)))
    return " ".join(lines), final


def narrate(puzzle: Puzzle, rng: random.Random) -> tuple[str, str]:
    """(rationale, final item of the queried person) in the ``pairs`` style, with wording drawn from ``rng``."""
    people = list(puzzle.start)
    order = people[:]
    rng.shuffle(order)
    verb, article = puzzle.verb, puzzle.article
    lines = [rng.choice(_OPENINGS).format(listing=_listing(puzzle.start, order, verb, article), verb=verb)]
    restate = rng.random() < 0.5
    state = dict(puzzle.start)
    swap_template = rng.choice(_SWAP_LINES)  # one voice per rationale reads more naturally
    for n, (a, b) in enumerate(puzzle.swaps, start=1):
        state[a], state[b] = state[b], state[a]
        lines.append(swap_template.format(ordinal=_ORDINALS[min(n, len(_ORDINALS)) - 1], n=n, a=a, b=b, verb=verb,
                                          item_a=_item(article, state[a]), item_b=_item(article, state[b])))
        if restate and n < len(puzzle.swaps):
            lines.append(rng.choice(_STATE_LINES).format(listing=_listing(state, order, verb, article)))
    final = state[puzzle.query]
    closing = rng.choice(_CLOSINGS)
    if verb != "has":
        closing = _CLOSINGS[0] if "ends up with" in closing else closing
    lines.append(closing.format(query=puzzle.query, verb=verb, item=_item(article, final)))
    return " ".join(lines), final


# --------------------------------------------------------------------------- grading a student's rationale

_STEP_MARK = re.compile(r"\b(?:(?:First|Second|Third|Fourth|Fifth|Sixth|Seventh|Eighth|Ninth|Tenth), |After |"
                        r"Swap \d+[:,] )([A-Z][a-z]+) and ([A-Z][a-z]+)")
_CLAIM = re.compile(r"\b([A-Z][a-z]+) (?:has|is playing|is dancing with|is paired with|is working as|ends up with) "
                    r"([^,.;]+?)"
                    r"(?= and [A-Z][a-z]+ (?:has|is)|[,.;]| So |$)")


def grade_rationale(question: str, choices: Optional[Sequence[str]], rationale: str) -> StepGrade:
    """Check a rationale written in the program teacher's style against the true state, swap by swap.

    Step k is right when the k-th swap line of the text names the k-th swap's two people and
    both of its holdings claims match the state after that swap; a missing line is wrong.
    This credits partial tracking that a wrong final letter would hide."""
    puzzle = parse_puzzle(question)
    marks = list(_STEP_MARK.finditer(rationale))
    state, right = dict(puzzle.start), 0
    for k, (a, b) in enumerate(puzzle.swaps):
        state[a], state[b] = state[b], state[a]
        if k >= len(marks) or {marks[k].group(1), marks[k].group(2)} != {a, b}:
            continue
        end = marks[k + 1].start() if k + 1 < len(marks) else len(rationale)
        claims: dict[str, str] = {}
        for person, item in _CLAIM.findall(rationale[marks[k].end():end]):
            claims.setdefault(person, norm(item))
        right += claims.get(a) == norm(state[a]) and claims.get(b) == norm(state[b])
    tail = rationale[marks[-1].end():] if marks else rationale
    finals = [norm(item) for person, item in _CLAIM.findall(tail) if person == puzzle.query]
    final_item = finals[-1] if finals else None
    claimed = quoted_option(rationale)
    if claimed is None and final_item and choices:
        try:
            claimed = letter(match_choice(final_item, choices))
        except UnsolvableQuestion:
            claimed = None
    return StepGrade(len(puzzle.swaps), right, final_item, final_item == norm(state[puzzle.query]), claimed)


def solve_state(example: Example, rng: random.Random) -> tuple[str, str]:
    rationale, final = narrate_state(parse_puzzle(example.question), rng)
    index = match_choice(final, example.choices or [])
    return f"{rationale} {option_line(example.choices, index, rng)}", letter(index)


def solve_compact(example: Example, rng: random.Random) -> tuple[str, str]:
    rationale, final = narrate_compact(parse_puzzle(example.question), rng)
    index = match_choice(final, example.choices or [])
    return f"{rationale} {option_line(example.choices, index, rng)}", letter(index)


def solve_pairs(example: Example, rng: random.Random) -> tuple[str, str]:
    rationale, final = narrate(parse_puzzle(example.question), rng)
    return rationale, letter(match_choice(final, example.choices or []))


FAMILY = Family("tracking_shuffled_objects", solve_state, grade_rationale,
                styles={"compact": solve_compact, "pairs": solve_pairs})
