"""Generated ``logical_deduction`` questions: N objects in a hidden order and clues that pin it down.

A draw picks a setting (birds on a branch, golfers in a tournament, ...), N objects from its pool
and a hidden order of them. Clues are true statements about that order, of two kinds: a fixed spot
("The owl is the second from the left") and an order between two objects ("The owl is to the right
of the quail", mostly neighbours, as in BBH). Clues are taken from a weighted random order and kept
only when they rule out some order still possible, until exactly one is left; then every clue the
others already imply is dropped, so no clue is redundant. The question asks which object holds one
spot; the options name every object at that spot, in the order the question lists the objects.

Uniqueness is checked on bit sets over all N! orders (one Python int per clue, bit k set when
order k satisfies it), built once per N with numpy: a clue is an AND, "exactly one order left" a
``bit_count``. With the hidden order taken as the identity, only N + N(N-1)/2 sets are needed.

Wordings: ``bbh`` (the benchmark's five settings, pools, clue and option phrases), ``varied``
(other settings, objects and phrasings of the same two clue kinds) and ``heldout`` (settings,
pools and phrasings shared with neither).
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from serve.data.generators.base import NUMBER_WORDS, Drawn, Generator, multiple_choice

MAX_OBJECTS = 9  # 9! orders: 45 bit sets of 45 KB each; 10! would need ten times as much per set
ORDINALS = ("zeroth", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth")


@dataclass(frozen=True)
class Setting:
    """One scene: how it is introduced, what it holds and how its clues and options read. Every
    predicate carries its verb ("is the leftmost", "finished above {other}")."""
    intro: str  # "On a branch, there are {count} birds" (the listing follows a colon)
    pool: tuple[str, ...]
    with_article: bool  # listed as "a quail" (else bare, as "apples" or "Ada")
    definite: bool  # named "the quail" in clues (else bare, as "Ada")
    earlier: tuple[str, ...]  # "is to the left of {other}": the subject comes before the other object
    later: tuple[str, ...]
    first: str  # the spot at the start of the order: "is the leftmost"
    last: str
    from_start: str  # "is the {nth} from the left"
    from_end: str  # "is the {nth} from the right"
    middle_from_start: bool  # the middle spot of an odd row counts from the start

    def name(self, obj: str, capital: bool = False) -> str:
        if not self.definite:
            return obj
        return f"{'The' if capital else 'the'} {obj}"

    def listed(self, obj: str) -> str:
        if not self.with_article:
            return obj
        return f"{'an' if obj[0] in 'aeiou' else 'a'} {obj}"

    def spot(self, spot: int, count: int) -> str:
        """The predicate for spot ``spot`` (1 = the start) in a row of ``count``."""
        if spot == 1:
            return self.first
        if spot == count:
            return self.last
        middle = count % 2 == 1 and spot == (count + 1) // 2
        if spot <= count // 2 or (middle and self.middle_from_start):
            return self.from_start.format(nth=ORDINALS[spot])
        return self.from_end.format(nth=ORDINALS[count + 1 - spot])

    def fixed_clue(self, obj: str, spot: int, count: int) -> str:
        return f"{self.name(obj, True)} {self.spot(spot, count)}"

    def order_clue(self, earlier: str, later: str, rng: random.Random) -> str:
        if rng.random() < 0.5:
            return f"{self.name(earlier, True)} {rng.choice(self.earlier).format(other=self.name(later))}"
        return f"{self.name(later, True)} {rng.choice(self.later).format(other=self.name(earlier))}"


@dataclass(frozen=True)
class Wording:
    opening: str  # the paragraph before the scene, with {count}
    settings: tuple[Setting, ...]
    oxford_comma: bool = True  # "a, b, and c" (else "a, b and c")


_ROW = dict(earlier=("is to the left of {other}",), later=("is to the right of {other}",), first="is the leftmost",
            last="is the rightmost", from_start="is the {nth} from the left", from_end="is the {nth} from the right",
            middle_from_start=True)  # books and birds


_BBH = Wording(
    "The following paragraphs each describe a set of {count} objects arranged in a fixed order. "
    "The statements are logically consistent within each paragraph.", (
        Setting("On a branch, there are {count} birds",
                ("blue jay", "cardinal", "crow", "falcon", "hawk", "hummingbird", "owl", "quail", "raven", "robin"),
                True, True, **_ROW),
        Setting("On a shelf, there are {count} books",
                tuple(f"{c} book" for c in ("black", "blue", "brown", "gray", "green", "orange", "purple", "red",
                                            "white", "yellow")), True, True, **_ROW),
        Setting("In a golf tournament, there were {count} golfers",
                ("Ada", "Amy", "Ana", "Dan", "Eli", "Eve", "Joe", "Mel", "Mya", "Rob"), False, False,
                ("finished above {other}",), ("finished below {other}",), "finished first", "finished last",
                "finished {nth}", "finished {nth}-to-last", True),
        # "motorcyle" is BBH's own spelling: the bbh wording writes the benchmark's text
        Setting("In an antique car show, there are {count} vehicles",
                ("bus", "convertible", "hatchback", "limousine", "minivan", "motorcyle", "sedan", "station wagon",
                 "tractor", "truck"), True, True,
                ("is older than {other}",), ("is newer than {other}",), "is the oldest", "is the newest",
                "is the {nth}-oldest", "is the {nth}-newest", False),
        Setting("A fruit stand sells {count} fruits",
                ("apples", "cantaloupes", "kiwis", "loquats", "mangoes", "oranges", "peaches", "pears", "plums",
                 "watermelons"), False, True,
                ("are less expensive than {other}",), ("are more expensive than {other}",), "are the cheapest",
                "are the most expensive", "are the {nth}-cheapest", "are the {nth}-most expensive", False),
    ))

_VARIED = Wording(
    "Each paragraph below describes {count} things kept in one fixed order, and its statements agree with one "
    "another.", (
        Setting("At a bakery, {count} people wait in a queue",
                ("Bea", "Cal", "Dov", "Fay", "Gus", "Hal", "Ivy", "Kim", "Lou", "Ned", "Ora", "Pat"), False, False,
                ("stands ahead of {other}", "stands in front of {other}"), ("stands behind {other}",),
                "stands at the front", "stands at the back", "stands {nth} in line", "stands {nth} from the back",
                True),
        Setting("On a clothes rack hang {count} shirts",
                tuple(f"{c} shirt" for c in ("teal", "maroon", "beige", "navy", "olive", "coral", "lilac", "mustard",
                                             "ivory", "khaki")), True, True,
                ("hangs left of {other}", "hangs somewhere left of {other}"),
                ("hangs right of {other}", "hangs somewhere right of {other}"), "hangs at the far left",
                "hangs at the far right", "hangs {nth} from the left end", "hangs {nth} from the right end", False),
        Setting("A mover weighs {count} items",
                ("lamp", "kettle", "drum", "vase", "clock", "radio", "mirror", "blender", "toaster", "globe"), True,
                True, ("is lighter than {other}", "weighs less than {other}"),
                ("is heavier than {other}", "weighs more than {other}"), "is the lightest", "is the heaviest",
                "is the {nth}-lightest", "is the {nth}-heaviest", True),
        Setting("In a marathon, {count} runners reached the finish",
                ("Zoe", "Liv", "Ike", "Tom", "Uri", "Sam", "Raj", "Nia", "Kai", "Jon"), False, False,
                ("crossed the line before {other}",), ("crossed the line after {other}",), "crossed the line first",
                "crossed the line last", "crossed the line {nth}", "crossed the line {nth} from last", False),
    ), oxford_comma=False)

_HELDOUT = Wording(
    "Read the description below; it puts {count} things in a single fixed order and never contradicts "
    "itself.", (
        Setting("In a tower, {count} tenants each rent one floor",
                ("Abe", "Bo", "Cy", "Di", "Ed", "Flo", "Gil", "Hana", "Iris", "Jude"), False, False,
                ("lives on a lower floor than {other}",), ("lives on a higher floor than {other}",),
                "lives on the bottom floor", "lives on the top floor", "lives on the {nth} floor from the bottom",
                "lives on the {nth} floor from the top", True),
        Setting("In a park, there are {count} trees",
                ("elm", "birch", "maple", "cedar", "willow", "spruce", "poplar", "aspen", "larch", "hazel"), True,
                True, ("is shorter than {other}",), ("is taller than {other}",), "is the shortest", "is the tallest",
                "is the {nth}-shortest", "is the {nth}-tallest", False),
        Setting("At a talent show, {count} acts perform one after another",
                ("juggler", "magician", "dancer", "comedian", "mime", "acrobat", "puppeteer", "violinist", "poet",
                 "singer"), True, True, ("performs earlier than {other}",), ("performs later than {other}",),
                "opens the show", "closes the show", "is the {nth} act", "is the {nth}-to-last act", True),
        Setting("In a parking row, {count} cars are parked",
                tuple(f"{c} car" for c in ("silver", "scarlet", "golden", "crimson", "violet", "bronze", "cream",
                                           "jade", "amber", "pink")), True, True,
                ("is parked closer to the gate than {other}",), ("is parked farther from the gate than {other}",),
                "is parked nearest the gate", "is parked farthest from the gate", "is the {nth}-closest to the gate",
                "is the {nth}-farthest from the gate", False),
    ))

WORDINGS = {"bbh": _BBH, "varied": _VARIED, "heldout": _HELDOUT}


# --------------------------------------------------------------------------- clue sets

def _bits(flags: np.ndarray) -> int:
    return int.from_bytes(np.packbits(flags).tobytes(), "big")


@lru_cache(maxsize=None)
def _clue_sets(count: int) -> tuple[int, dict[tuple[int, ...], int]]:
    """(every order, clue -> orders satisfying it) with the hidden order the identity: a clue is
    (i,) "object i is at spot i" or (i, j), i < j, "object i comes before object j"."""
    positions = np.fromiter(itertools.chain.from_iterable(itertools.permutations(range(count))), dtype=np.int8,
                            count=count * math.factorial(count)).reshape(-1, count)  # row: each object's spot
    sets = {}
    for i in range(count):
        sets[(i,)] = _bits(positions[:, i] == i)
        for j in range(i + 1, count):
            sets[(i, j)] = _bits(positions[:, i] < positions[:, j])
    return _bits(np.ones(len(positions), dtype=bool)), sets


def _weight(clue: tuple[int, ...], count: int) -> float:
    """Tuned so the share of fixed clues and the gaps of order clues come close to BBH's."""
    if len(clue) == 1:
        return 0.125 * (count - 1.6)
    return {1: 1.0, 2: 1.0 if count < 7 else 1.5}.get(clue[1] - clue[0], 0.25)


def clue_set(rng: random.Random, count: int) -> list[tuple[int, ...]]:
    """A set of clues true of the identity order that no other order satisfies, none implied by the rest."""
    every, sets = _clue_sets(count)
    # a weighted shuffle: each clue's key u ** (1 / weight) puts heavier clues first more often
    ranked = sorted(sets, key=lambda clue: rng.random() ** (1.0 / _weight(clue, count)), reverse=True)
    left, clues = every, []
    for clue in ranked:
        narrowed = left & sets[clue]
        if narrowed != left:
            clues.append(clue)
            left = narrowed
            if left.bit_count() == 1:
                break
    rng.shuffle(clues)
    for clue in list(clues):
        rest = [c for c in clues if c != clue]
        if _orders_left(every, sets, rest) == 1:
            clues = rest
    return clues


def _orders_left(every: int, sets: dict[tuple[int, ...], int], clues: list[tuple[int, ...]]) -> int:
    left = every
    for clue in clues:
        left &= sets[clue]
    return left.bit_count()


# --------------------------------------------------------------------------- questions

def _listing(names: list[str], oxford_comma: bool) -> str:
    return ", ".join(names[:-1]) + f"{',' if oxford_comma else ''} and {names[-1]}"


def draw(rng: random.Random, params: dict[str, Any]) -> Drawn:
    count, wording = int(params["objects"]), WORDINGS[params["wording"]]
    if not 3 <= count <= MAX_OBJECTS:
        raise ValueError(f"logical_deduction draws 3 to {MAX_OBJECTS} objects, not {count}")
    setting = rng.choice(wording.settings)
    order = rng.sample(setting.pool, count)  # the hidden order, first spot first
    clues = []
    for clue in clue_set(rng, count):
        if len(clue) == 1:
            clues.append(setting.fixed_clue(order[clue[0]], clue[0] + 1, count))
        else:
            clues.append(setting.order_clue(order[clue[0]], order[clue[1]], rng))
    asked, answer = rng.randrange(count), rng.randrange(count)
    listed = [o for o in order if o != order[asked]]
    rng.shuffle(listed)
    listed.insert(answer, order[asked])
    listing = _listing([setting.listed(o) for o in listed], wording.oxford_comma)
    scene = f"{setting.intro.format(count=NUMBER_WORDS[count])}: {listing}."
    question = " ".join([wording.opening.format(count=NUMBER_WORDS[count]), scene, *(f"{c}." for c in clues)])
    options = [setting.fixed_clue(obj, asked + 1, count) for obj in listed]
    return multiple_choice(question, options, answer, order=order, clues=len(clues), wording=params["wording"])


GENERATOR = Generator(
    family="logical_deduction",
    draw=draw,
    parameters={"objects": 3, "wording": "bbh"},
    sizes={"three_objects": {"objects": 3}, "five_objects": {"objects": 5}, "seven_objects": {"objects": 7},
           "nine_objects": {"objects": 9}},
    default_size="three_objects",
    wordings=tuple(WORDINGS),
    describe="objects in a hidden order (a row, a ranking, by age or price) and clues that fix it; which holds a spot",
)
