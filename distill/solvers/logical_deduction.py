"""Solve ``logical_deduction`` (BBH's files and generated questions) and narrate the deduction.

A question lists N objects in one setting, then gives clues, each copied here as a sentence: a
fixed spot ("The owl is the second from the left", "Eve finished second-to-last") or an order
between two objects ("The red book is to the right of the gray book", "Ada finished above Eli").
Every option says some object holds one spot ("The gray book is the leftmost"); exactly one is
true. ``KINDS`` says, per setting (named by the noun after the count: "five birds"), which way the
order runs and how its clues read: BBH's five settings (books and birds left to right, golfers
first to last, vehicles oldest to newest, fruits cheapest to most expensive) and the settings of
the generator's other wordings (a queue, shirts on a rack, items by weight, runners; tenants by
floor, trees by height, acts of a show, cars by distance from a gate).

The solver finds every order that satisfies the clues (a search spot by spot from the first end,
so nine objects stay fast) and requires exactly one. It then narrates a forward deduction that
reaches that order:

1. each fixed-spot clue, in an order drawn from ``rng``, places its object;
2. then, repeatedly, the shortest chain of unplaced objects A before B before ... (each link a
   clue) whose bounds (a placed object a clue puts it after or before, else the ends of the row)
   leave exactly as many open spots as the chain has objects: the chain fills those spots in
   order. A chain of one is "the only open spot left of the red book". This rule finishes every
   BBH puzzle, every set of such clues that fixes one order of up to six objects (all of them were
   tried) and every generated puzzle tried, nine objects included.

Rationale: an opening naming the direction of the order, one sentence per deduction that cites its
clues and restates the whole row with ? for an open spot ("?, ?, ?, purple, ?"), a sentence reading
the asked spot off the full row, then the option listing and the result with its letter
(``option_line``). Grading reads the rows in order (one per deduction step) and the last claim
("X is ...", "Eve finished ...") outside the option sentences.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Optional, Sequence

from distill.solvers.base import Family, StepGrade, UnsolvableQuestion, join_list, norm, option_line, quoted_option
from distill.solvers.logical_deduction_kinds import KINDS, Kind
from serve.core.answers import letter
from serve.core.records import Example

_NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
                 "twelve")
_COUNT_WORDS = {word: n for n, word in enumerate(_NUMBER_WORDS) if n >= 3}
_ORDINALS = {word: n for n, word in enumerate(("zeroth", "first", "second", "third", "fourth", "fifth", "sixth",
                                               "seventh", "eighth", "ninth", "tenth", "eleventh", "twelfth")) if n}


def _template(template: str, slot: str) -> str:
    """'is the {nth} from the left' -> a regex with the slot as a group."""
    return re.escape(template).replace(re.escape("{" + slot + "}"), r"(.+)" if slot == "other" else r"(\w+)")


@dataclass
class Puzzle:
    kind: str
    objects: list[str]  # as the question lists them, without article
    fixed: list[tuple[str, int, str]]  # (object, spot counted from 1 at the first end, clause)
    before: list[tuple[str, str, str]]  # (earlier object, later object, clause)

    @property
    def reading(self) -> Kind:
        return KINDS[self.kind]

    def the(self, obj: str) -> str:
        return obj if self.reading.bare_names else f"the {obj}"

    def short(self, obj: str) -> str:
        """How an object is written in a row: 'gray' for 'gray book' when every object is a book."""
        tails = {o.rpartition(" ")[2] for o in self.objects}
        shared = len(tails) == 1 and all(" " in o for o in self.objects)
        return obj.rpartition(" ")[0] if shared else obj

    def row(self, spots: Sequence[Optional[str]], numbered: bool = False) -> str:
        """'?, gray, ?' or, numbered, '1 ?, 2 gray, 3 ?'."""
        return ", ".join((f"{k} " if numbered else "") + (self.short(o) if o else "?")
                         for k, o in enumerate(spots, start=1))

    def solutions(self, limit: Optional[int] = None) -> list[tuple[str, ...]]:
        """The orders (first end first) that satisfy all clues, at most ``limit`` of them: filled spot by
        spot, an object going in once every object a clue puts before it is in."""
        fixed = {obj: spot for obj, spot, _ in self.fixed}
        at = {spot: obj for obj, spot in fixed.items()}
        if len(fixed) < len(self.fixed) or len(at) < len(fixed):
            return []  # an object or a spot fixed twice
        earlier = {o: {a for a, b, _ in self.before if b == o} for o in self.objects}
        loose = [o for o in self.objects if o not in fixed]
        order, found = [], []

        def fill() -> bool:  # True once ``limit`` orders are found
            if len(order) == len(self.objects):
                found.append(tuple(order))
                return len(found) == limit
            spot = len(order) + 1
            for obj in [at[spot]] if spot in at else loose:
                if obj not in order and earlier[obj].issubset(order):
                    order.append(obj)
                    done = fill()
                    order.pop()
                    if done:
                        return True
            return False

        fill()
        return found


def _spot(kind: Kind, predicate: str, n: int) -> Optional[int]:
    """'is the second from the right' -> n - 1; None if the predicate names no spot of a row of n."""
    if predicate in (kind.first, kind.last):
        return 1 if predicate == kind.first else n
    for template, from_start in ((kind.from_start, True), (kind.from_end, False)):
        found = re.fullmatch(_template(template, "nth"), predicate)
        if found and found.group(1) in _ORDINALS:
            k = _ORDINALS[found.group(1)]
            spot = k if from_start else n + 1 - k
            return spot if 1 <= spot <= n else None
    return None


def _claim(puzzle: Puzzle, sentence: str) -> tuple[str, str]:
    """'The owl is the second from the left.' -> ('owl', 'is the second from the left')."""
    names = "|".join(re.escape(o) for o in sorted(puzzle.objects, key=len, reverse=True))
    verbs = "|".join(sorted(puzzle.reading.verbs()))
    match = re.fullmatch(rf"(?:The )?({names}) ((?:{verbs}) .+?)\.?", sentence.strip())
    if not match:
        raise UnsolvableQuestion(f"cannot read the clue '{sentence}'")
    return match.group(1), match.group(2)


def _relation(puzzle: Puzzle, subject: str, predicate: str) -> Optional[tuple[str, str]]:
    """(earlier, later) when the predicate orders the subject against another object."""
    for templates, subject_first in ((puzzle.reading.earlier, True), (puzzle.reading.later, False)):
        for template in templates:
            found = re.fullmatch(_template(template, "other"), predicate)
            other = found and re.sub(r"^the ", "", found.group(1))
            if other in puzzle.objects and other != subject:
                return (subject, other) if subject_first else (other, subject)
    return None


def parse_puzzle(question: str) -> Puzzle:
    head, colon, rest = question.partition(": ")
    counted = re.findall(rf"\b({'|'.join(_COUNT_WORDS)}) (\w+)\b", head)
    listing, _, clues = rest.partition(". ")
    if not colon or not counted or counted[-1][1] not in KINDS:
        raise UnsolvableQuestion("no 'there are N <objects>: ...' introduction")
    count, kind = counted[-1]
    objects = [re.sub(r"^(?:a|an) ", "", o.strip()) for o in re.split(r",? and |, ", listing)]
    if _COUNT_WORDS[count] != len(objects) or len(set(objects)) != len(objects):
        raise UnsolvableQuestion("the object list does not match its count")
    puzzle = Puzzle(kind, objects, [], [])
    for sentence in re.split(r"(?<=\.)\s+", clues.strip()):
        subject, predicate = _claim(puzzle, sentence)
        clause = sentence.strip().rstrip(".")
        pair = _relation(puzzle, subject, predicate)
        spot = None if pair else _spot(puzzle.reading, predicate, len(objects))
        if pair:
            puzzle.before.append((*pair, clause))
        elif spot:
            puzzle.fixed.append((subject, spot, clause))
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
_CHECK_LINES = ("So {x} {predicate}.", "In this order, {x} {predicate}.", "Reading the order, {x} {predicate}.",
                "Now we can read it off: {x} {predicate}.", "The full order shows that {x} {predicate}.")


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _uncap(clause: str) -> str:
    return "the " + clause[4:] if clause.startswith("The ") else clause


def _step_line(puzzle: Puzzle, step: Step, is_last_object: bool, rng: random.Random, numbered: bool = False) -> str:
    row = puzzle.row(step.spots, numbered)
    if step.fixed:
        clause = step.clauses[0]
        if numbered:  # the clause's spot as a number, so the row's copy is a lookup, not a count
            clause += f", spot {step.spots.index(step.placed[0]) + 1}"
        return rng.choice(_FIXED_LINES).format(Clause=clause, clause=_uncap(clause), row=row)
    x = puzzle.the(step.placed[0])
    if is_last_object:
        return rng.choice(_LAST_LINES).format(X=_cap(x), x=x, row=row)
    before_word, after_word = puzzle.reading.sides
    low, high = step.low and puzzle.the(step.low), step.high and puzzle.the(step.high)
    where = (f" between {low} and {high}" if low and high else f" {after_word} {low}" if low
             else f" {before_word} {high}" if high else "")
    clauses = [_uncap(c) for c in (step.clauses if rng.random() < 0.5 else step.clauses[::-1])]
    template = rng.choice(_SINGLE_LINES if len(step.placed) == 1 else _CHAIN_LINES)
    return template.format(Clauses=_cap(join_list(clauses)), clauses=join_list(clauses), x=x, where=where,
                           xs=join_list([puzzle.short(o) for o in step.placed]),
                           k=_NUMBER_WORDS[len(step.placed)], row=row)


def _true_option(puzzle: Puzzle, choices: Sequence[str], order: Sequence[str]) -> tuple[int, str, str]:
    """(index, object, predicate) of the one option the order makes true."""
    true = []
    for index, choice in enumerate(choices):
        obj, predicate = _claim(puzzle, choice)
        spot = _spot(puzzle.reading, predicate, len(order))
        if spot is None:
            raise UnsolvableQuestion(f"cannot read the option '{choice}'")
        if order[spot - 1] == obj:
            true.append((index, obj, predicate))
    if len(true) != 1:
        raise UnsolvableQuestion(f"{len(true)} options are true, not one")
    return true[0]


def _solve_puzzle(question: str, choices: Optional[Sequence[str]]) -> tuple[Puzzle, tuple[str, ...], tuple]:
    puzzle = parse_puzzle(question)
    orders = puzzle.solutions(limit=2)
    if len(orders) != 1:
        raise UnsolvableQuestion(f"{len(orders)} orders satisfy the clues, not one")
    if not choices:
        raise UnsolvableQuestion("no answer options")
    return puzzle, orders[0], _true_option(puzzle, choices, orders[0])


_NUMBERED_OPENINGS = ("We number the {n} spots from 1 ({first}) to {n} ({last}); ? marks an open spot.",
                      "Spots 1 to {n} run from {first} to {last}, with ? for a spot still open.",
                      "Let's fill spots 1 ({first}) to {n} ({last}), writing ? where a spot is open.")


def solve(example: Example, rng: random.Random, numbered: bool = False) -> tuple[str, str]:
    """The default style, or ``numbered`` (style ``numbered_spots``): spots written with their numbers
    ("1 owl, 2 ?, 3 raven"), each fixed clue with its spot's number, and the asked spot read off by
    number. The reasoner trained on the default put "the rightmost" of five in the fourth spot and read
    the wrong spot off a full row: both are counts along the row."""
    puzzle, order, (index, obj, predicate) = _solve_puzzle(example.question, example.choices)
    fixed_order = list(range(len(puzzle.fixed)))
    rng.shuffle(fixed_order)
    steps = deduce(puzzle, fixed_order)
    if steps[-1].spots != order:
        raise UnsolvableQuestion("the deduction disagrees with the search")  # never seen: a solver bug
    first, last = puzzle.reading.ends
    openings = _NUMBERED_OPENINGS if numbered else _OPENINGS
    lines = [rng.choice(openings).format(n=len(order), kind=puzzle.kind, first=first, last=last)]
    for step in steps:
        is_last_object = not step.fixed and len(step.placed) == 1 and step is steps[-1]
        lines.append(_step_line(puzzle, step, is_last_object, rng, numbered))
    if numbered:
        spot = order.index(obj) + 1  # the spot the options ask about
        lines.append(f"The options ask who {predicate}: spot {spot}. Spot {spot} holds {puzzle.the(obj)}, so "
                     f"{puzzle.the(obj)} {predicate}.")
    else:
        lines.append(rng.choice(_CHECK_LINES).format(x=puzzle.the(obj), predicate=predicate))
    lines.append(option_line(example.choices, index, rng))
    return " ".join(lines), letter(index)


# --------------------------------------------------------------------------- grading a student's rationale

def grade(question: str, choices: Optional[Sequence[str]], rationale: str) -> StepGrade:
    """Reference steps are the deduction rows, then the answer object. Row k is right when the rationale
    states it after the rows matched so far (a missing or wrong row costs that step only); the teacher
    shuffles the fixed clues, so in that prefix any right row of k + 1 fixed objects counts. The last
    step is the object of the last "X is/are/finished" claim after the rows."""
    puzzle, order, (index, obj, _) = _solve_puzzle(question, choices)
    steps = deduce(puzzle, range(len(puzzle.fixed)))
    fixed_objects = {o for o, _, _ in puzzle.fixed}
    n = len(order)
    by_name = {puzzle.short(o).lower(): o for o in puzzle.objects}
    item = "(?:\\?|" + "|".join(re.escape(s) for s in sorted(by_name, key=len, reverse=True)) + ")"
    item = rf"(?:\d+ )?{item}"  # a numbered row ("1 owl, 2 ?") reads as the plain one
    row_pattern = re.compile(rf"(?<![\w?])(?<!, ){item}(?:, {item}){{{n - 1}}}(?![\w?]|, {item})", re.IGNORECASE)
    rows, row_end = [], 0
    for match in row_pattern.finditer(rationale):
        spots = tuple(by_name.get(re.sub(r"^\d+ ", "", s.strip()).lower()) for s in match.group(0).split(","))
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
    verbs = "|".join(sorted(puzzle.reading.verbs()))
    claims = re.findall(rf"\b({names}) (?:{verbs})\b", own, re.IGNORECASE)
    final = next((o for o in puzzle.objects if claims and o.lower() == claims[-1].lower()), None)
    final_right = final == obj
    claimed = quoted_option(rationale)
    if claimed is None and final is not None:
        claimed = next((letter(i) for i, c in enumerate(choices or []) if _claim(puzzle, c)[0] == final), None)
    return StepGrade(len(steps) + 1, right + final_right, norm(final) if final else None, final_right, claimed)


def solve_numbered_spots(example: Example, rng: random.Random) -> tuple[str, str]:
    return solve(example, rng, numbered=True)


FAMILY = Family("logical_deduction", solve, grade, styles={"numbered_spots": solve_numbered_spots})
