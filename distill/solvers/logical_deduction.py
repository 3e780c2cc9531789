"""Solve BIG-bench ``logical_deduction`` and narrate the deduction as a rationale.

A question lists three, five or seven objects in one of five settings (books on a shelf
and birds on a branch, left to right; golfers, first to last; antique vehicles, oldest to
newest; fruits, cheapest to most expensive), then gives clues, each copied here as a
sentence: a fixed spot ("The owl is the second from the left", "Eve finished
second-to-last", "The bus is the third-newest") or an order between two objects ("The red
book is to the right of the gray book", "Ada finished above Eli", "The apples are less
expensive than the kiwis"). Every option says some object holds one spot ("The gray book
is the leftmost."); exactly one is true.

The solver tries every order of the objects (7! = 5040 at most) and requires exactly one to
satisfy all clues. It then narrates a forward deduction that reaches that order:

1. each fixed-spot clue, in an order drawn from ``rng``, places its object;
2. then, repeatedly, the shortest chain of unplaced objects A before B before ... (each
   link a clue) whose bounds (a placed object a clue puts it after or before, else the ends
   of the row) leave exactly as many open spots as the chain has objects: the chain fills
   those spots in order. A chain of one is "the only open spot left of the red book".
   This rule alone finishes every puzzle in BIG-bench.

Rationale: an opening naming the direction of the order, one sentence per deduction that
cites its clues and restates the whole row with ? for an open spot ("?, ?, ?, purple, ?"),
a sentence reading the asked spot off the full row, then the option listing and the result with
its letter (``option_line``). Grading reads the rows in order (one per deduction step) and the last
"X is/are/finished ..." claim outside the option sentences.
"""

from __future__ import annotations

import itertools
import random
import re
from dataclasses import dataclass
from typing import Optional, Sequence

from distill.solvers.base import Family, StepGrade, UnsolvableQuestion, join_list, norm, option_line, quoted_option
from serve.core.answers import letter
from serve.core.records import Example

# kind -> (first end, last end, "before" word, "after" word), the row runs first end -> last end
_SETTINGS = {"books": ("left", "right", "left of", "right of"), "birds": ("left", "right", "left of", "right of"),
             "golfers": ("first", "last", "above", "below"), "vehicles": ("oldest", "newest", "before", "after"),
             "fruits": ("cheapest", "most expensive", "before", "after")}
_RELATIONS = {"to the left of": True, "above": True, "older than": True, "less expensive than": True,
              "to the right of": False, "below": False, "newer than": False, "more expensive than": False}
_ENDS = {"the leftmost": 1, "first": 1, "the oldest": 1, "the cheapest": 1,
         "the rightmost": -1, "last": -1, "the newest": -1, "the most expensive": -1}
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7}
_FROM_START = ("", " from the left", "-oldest", "-cheapest")
_COUNT_WORDS = {"three": 3, "five": 5, "seven": 7}
_NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven")


@dataclass
class Puzzle:
    kind: str
    objects: list[str]  # as the question lists them, without article
    proper_names: bool  # golfers are names ("Ada"), the rest take "the"
    fixed: list[tuple[str, int, str]]  # (object, spot counted from 1 at the first end, clause)
    before: list[tuple[str, str, str]]  # (earlier object, later object, clause)

    def the(self, obj: str) -> str:
        return obj if self.proper_names else f"the {obj}"

    def short(self, obj: str) -> str:
        """How an object is written in a row: 'gray' for 'gray book' when every object is a book."""
        return obj[: -len(" book")] if all(o.endswith(" book") for o in self.objects) else obj

    def row(self, spots: Sequence[Optional[str]]) -> str:
        return ", ".join(self.short(o) if o else "?" for o in spots)

    def solutions(self) -> list[tuple[str, ...]]:
        """Every order that satisfies all clues: the unfixed objects tried in every free spot."""
        fixed = {obj: spot for obj, spot, _ in self.fixed}
        if len(fixed) < len(self.fixed) or len(set(fixed.values())) < len(fixed):
            return []  # an object or a spot fixed twice
        loose = [o for o in self.objects if o not in fixed]
        free = [s for s in range(1, len(self.objects) + 1) if s not in fixed.values()]
        found = []
        for spots in itertools.permutations(free):
            where = {**fixed, **dict(zip(loose, spots))}
            if all(where[a] < where[b] for a, b, _ in self.before):
                found.append(tuple(sorted(self.objects, key=where.get)))
        return found


def _spot(phrase: str, n: int) -> Optional[int]:
    """'the second from the right' -> n - 1; None if the phrase names no spot."""
    if phrase in _ENDS:
        return _ENDS[phrase] % (n + 1)
    match = re.fullmatch(r"(?:the )?(\w+?)(| from the left| from the right|-to-last|-oldest|-newest|-cheapest"
                         r"|-most expensive)", phrase)
    if not match or match.group(1) not in _ORDINALS:
        return None
    k = _ORDINALS[match.group(1)]
    spot = k if match.group(2) in _FROM_START else n + 1 - k
    return spot if 1 <= spot <= n else None


def _claim(puzzle: Puzzle, sentence: str) -> tuple[str, str, str]:
    """'The owl is the second from the left.' -> ('owl', 'is', 'the second from the left')."""
    names = "|".join(re.escape(o) for o in sorted(puzzle.objects, key=len, reverse=True))
    match = re.fullmatch(rf"(?:The )?({names}) (is|are|finished) (.+?)\.?", sentence.strip())
    if not match:
        raise UnsolvableQuestion(f"cannot read the clue '{sentence}'")
    return match.groups()


def parse_puzzle(question: str) -> Puzzle:
    head, colon, rest = question.partition(": ")
    setting = re.search(r"(?:are|were|sells) (\w+) (\w+)$", head)
    listing, _, clues = rest.partition(". ")
    if not colon or not setting or setting.group(2) not in _SETTINGS:
        raise UnsolvableQuestion("no 'there are N <objects>: ...' introduction")
    objects = [re.sub(r"^(?:a|an) ", "", o.strip()) for o in re.split(r",? and |, ", listing)]
    if _COUNT_WORDS.get(setting.group(1)) != len(objects) or len(set(objects)) != len(objects):
        raise UnsolvableQuestion("the object list does not match its count")
    puzzle = Puzzle(setting.group(2), objects, setting.group(2) == "golfers", [], [])
    n = len(objects)
    for sentence in re.split(r"(?<=\.)\s+", clues.strip()):
        subject, _, predicate = _claim(puzzle, sentence)
        clause = sentence.strip().rstrip(".")
        relation = re.fullmatch(rf"({'|'.join(_RELATIONS)}) (?:the )?(.+)", predicate)
        phrase, other = relation.groups() if relation else ("", "")
        if phrase in _RELATIONS and other in objects and other != subject:
            pair = (subject, other) if _RELATIONS[phrase] else (other, subject)
            puzzle.before.append((*pair, clause))
        elif _spot(predicate, n):
            puzzle.fixed.append((subject, _spot(predicate, n), clause))
        else:
            raise UnsolvableQuestion(f"cannot read the clue '{sentence}'")
    return puzzle


@dataclass
class Step:
    placed: list[str]  # objects this step places, first end to last end
    spots: tuple[Optional[str], ...]  # the whole row after the step
    clauses: list[str]  # the clues it uses, in chain order
    fixed: bool = False  # placed by a fixed-spot clue
    low: Optional[str] = None  # placed object the chain must come after
    high: Optional[str] = None  # placed object the chain must come before


def _chains(puzzle: Puzzle, placed: dict[str, int]) -> list[list[str]]:
    """Every path a < b < ... of unplaced objects along the clues, shortest first."""
    nexts = {o: [b for a, b, _ in puzzle.before if a == o and b not in placed] for o in puzzle.objects}
    paths, frontier = [], [[o] for o in puzzle.objects if o not in placed]
    while frontier:
        paths += frontier
        frontier = [p + [b] for p in frontier for b in nexts[p[-1]]]
    return paths


def deduce(puzzle: Puzzle, fixed_order: Sequence[int]) -> list[Step]:
    """The deduction steps: fixed clues in ``fixed_order``, then chains filling their open spots."""
    n, placed, steps = len(puzzle.objects), {}, []

    def spots() -> tuple[Optional[str], ...]:
        by_spot = {s: o for o, s in placed.items()}
        return tuple(by_spot.get(s) for s in range(1, n + 1))

    for index in fixed_order:
        obj, spot, clause = puzzle.fixed[index]
        if obj in placed or spot in placed.values():
            raise UnsolvableQuestion("two fixed clues clash or repeat")
        placed[obj] = spot
        steps.append(Step([obj], spots(), [clause], fixed=True))
    while len(placed) < n:
        for chain in _chains(puzzle, placed):
            lows = [(placed[a], a, c) for a, b, c in puzzle.before if b == chain[0] and a in placed]
            highs = [(placed[b], b, c) for a, b, c in puzzle.before if a == chain[-1] and b in placed]
            low = max(lows, default=(0, None, None))
            high = min(highs, default=(n + 1, None, None))
            open_spots = [s for s in range(low[0] + 1, high[0]) if s not in placed.values()]
            if len(open_spots) == len(chain):
                break
        else:
            raise UnsolvableQuestion("the chain rule cannot finish this puzzle")
        placed.update(zip(chain, open_spots))
        links = [next(c for a, b, c in puzzle.before if (a, b) == link) for link in zip(chain, chain[1:])]
        clauses = [low[2]] * (low[1] is not None) + links + [high[2]] * (high[1] is not None)
        steps.append(Step(chain, spots(), clauses, low=low[1], high=high[1]))
    return steps


# --------------------------------------------------------------------------- narration

_OPENINGS = ("Let's order the {n} {kind} from {first} to {last}, with ? for an open spot.",
             "We fill {n} spots from {first} to {last}; ? marks an open spot.",
             "List the {kind} from {first} to {last}, writing ? where a spot is still open.",
             "Order from {first} to {last} ({n} spots, ? = open).",
             "Let's fill the {n} spots, {first} to {last}; ? is a spot not yet known.",
             "We place the {kind} from {first} to {last}, using ? for open spots.")
_FIXED_LINES = ("{Clause}: {row}.", "{Clause}, so the order so far is {row}.",
                "Since {clause}, we have {row}.", "{Clause}. Order so far: {row}.")
_SINGLE_LINES = ("{Clauses}, so {x} takes the only open spot{where}: {row}.",
                 "Since {clauses}, {x} must go in the only open spot{where}: {row}.",
                 "{Clauses}; the only open spot{where} is for {x}: {row}.",
                 "As {clauses}, {x} goes in the only open spot{where}: {row}.")
_CHAIN_LINES = ("{Clauses}, so {xs} fill the {k} open spots{where} in that order: {row}.",
                "Since {clauses}, the {k} open spots{where} go to {xs} in that order: {row}.",
                "{Clauses}. So {xs}, in that order, take the {k} open spots{where}: {row}.",
                "As {clauses}, {xs} fill the {k} open spots{where} in that order: {row}.")
_LAST_LINES = ("{X} is the only one left: {row}.", "Only {x} remains, so the order is {row}.",
               "The last open spot goes to {x}: {row}.", "That leaves {x} for the last open spot: {row}.")
_CHECK_LINES = ("So {x} {verb} {position}.", "In this order, {x} {verb} {position}.",
                "Reading the order, {x} {verb} {position}.", "Now we can read it off: {x} {verb} {position}.",
                "The full order shows that {x} {verb} {position}.")


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _uncap(clause: str) -> str:
    return "the " + clause[4:] if clause.startswith("The ") else clause


def _step_line(puzzle: Puzzle, step: Step, is_last_object: bool, rng: random.Random) -> str:
    row = puzzle.row(step.spots)
    if step.fixed:
        return rng.choice(_FIXED_LINES).format(Clause=step.clauses[0], clause=_uncap(step.clauses[0]), row=row)
    x = puzzle.the(step.placed[0])
    if is_last_object:
        return rng.choice(_LAST_LINES).format(X=_cap(x), x=x, row=row)
    _, _, before_word, after_word = _SETTINGS[puzzle.kind]
    low, high = step.low and puzzle.the(step.low), step.high and puzzle.the(step.high)
    where = (f" between {low} and {high}" if low and high else f" {after_word} {low}" if low
             else f" {before_word} {high}" if high else "")
    clauses = [_uncap(c) for c in (step.clauses if rng.random() < 0.5 else step.clauses[::-1])]
    template = rng.choice(_SINGLE_LINES if len(step.placed) == 1 else _CHAIN_LINES)
    return template.format(Clauses=_cap(join_list(clauses)), clauses=join_list(clauses), x=x, where=where,
                           xs=join_list([puzzle.short(o) for o in step.placed]),
                           k=_NUMBER_WORDS[len(step.placed)], row=row)


def _true_option(puzzle: Puzzle, choices: Sequence[str], order: Sequence[str]) -> tuple[int, str, str, str]:
    """(index, object, verb, spot phrase) of the one option the order makes true."""
    true = []
    for index, choice in enumerate(choices):
        obj, verb, position = _claim(puzzle, choice)
        spot = _spot(position, len(order))
        if spot is None:
            raise UnsolvableQuestion(f"cannot read the option '{choice}'")
        if order[spot - 1] == obj:
            true.append((index, obj, verb, position))
    if len(true) != 1:
        raise UnsolvableQuestion(f"{len(true)} options are true, not one")
    return true[0]


def _solve_puzzle(question: str, choices: Optional[Sequence[str]]) -> tuple[Puzzle, tuple[str, ...], tuple]:
    puzzle = parse_puzzle(question)
    orders = puzzle.solutions()
    if len(orders) != 1:
        raise UnsolvableQuestion(f"{len(orders)} orders satisfy the clues, not one")
    if not choices:
        raise UnsolvableQuestion("no answer options")
    return puzzle, orders[0], _true_option(puzzle, choices, orders[0])


def solve(example: Example, rng: random.Random) -> tuple[str, str]:
    puzzle, order, (index, obj, verb, position) = _solve_puzzle(example.question, example.choices)
    fixed_order = list(range(len(puzzle.fixed)))
    rng.shuffle(fixed_order)
    steps = deduce(puzzle, fixed_order)
    if steps[-1].spots != order:
        raise UnsolvableQuestion("the deduction disagrees with the search")  # never seen: a solver bug
    first, last = _SETTINGS[puzzle.kind][:2]
    lines = [rng.choice(_OPENINGS).format(n=len(order), kind=puzzle.kind, first=first, last=last)]
    for step in steps:
        is_last_object = not step.fixed and len(step.placed) == 1 and step is steps[-1]
        lines.append(_step_line(puzzle, step, is_last_object, rng))
    lines.append(rng.choice(_CHECK_LINES).format(x=puzzle.the(obj), verb=verb, position=position))
    lines.append(option_line(example.choices, index, rng))
    return " ".join(lines), letter(index)


# --------------------------------------------------------------------------- grading a student's rationale

def grade(question: str, choices: Optional[Sequence[str]], rationale: str) -> StepGrade:
    """Reference steps are the deduction rows, then the answer object. Row k is right when the rationale
    states it after the rows matched so far (a missing or wrong row costs that step only); the teacher
    shuffles the fixed clues, so in that prefix any right row of k + 1 fixed objects counts. The last
    step is the object of the last "X is/are/finished" claim after the rows."""
    puzzle, order, (index, obj, _, _) = _solve_puzzle(question, choices)
    steps = deduce(puzzle, range(len(puzzle.fixed)))
    fixed_objects = {o for o, _, _ in puzzle.fixed}
    n = len(order)
    by_name = {puzzle.short(o).lower(): o for o in puzzle.objects}
    item = "(?:\\?|" + "|".join(re.escape(s) for s in sorted(by_name, key=len, reverse=True)) + ")"
    row_pattern = re.compile(rf"(?<![\w?])(?<!, ){item}(?:, {item}){{{n - 1}}}(?![\w?]|, {item})", re.IGNORECASE)
    rows, row_end = [], 0
    for match in row_pattern.finditer(rationale):
        spots = tuple(by_name.get(s.strip().lower()) for s in match.group(0).split(","))
        if any(spots):
            rows.append(spots)
            row_end = match.end()

    def right_for(k: int, spots: tuple) -> bool:
        if k >= len(puzzle.fixed):
            return spots == steps[k].spots
        filled = [o for o in spots if o]
        return (len(filled) == k + 1 and set(filled) <= fixed_objects
                and all(o is None or o == truth for o, truth in zip(spots, order)))

    right, cursor = 0, 0
    for k in range(len(steps)):
        hit = next((i for i in range(cursor, len(rows)) if right_for(k, rows[i])), None)
        if hit is not None:
            right, cursor = right + 1, hit + 1
    names = "|".join(re.escape(o) for o in sorted(puzzle.objects, key=len, reverse=True))
    # the option listing and the result restated with its letter ("... is (b)") name options, not claims
    own = " ".join(s for s in re.split(r"(?<=[.!?])\s+", rationale[row_end:]) if quoted_option(s) is None)
    claims = re.findall(rf"\b({names}) (?:is|are|finished)\b", own, re.IGNORECASE)
    final = next((o for o in puzzle.objects if claims and o.lower() == claims[-1].lower()), None)
    final_right = final == obj
    claimed = quoted_option(rationale)
    if claimed is None and final is not None:
        claimed = next((letter(i) for i, c in enumerate(choices or []) if _claim(puzzle, c)[0] == final), None)
    return StepGrade(len(steps) + 1, right + final_right, norm(final) if final else None, final_right, claimed)


FAMILY = Family("logical_deduction", solve, grade)
