"""Solve BBH ``geometric_shapes`` and narrate the path, command by command, as a rationale.

A question is "This SVG path element <path d="M x,y L x,y ..."/> draws a" with options (circle,
heptagon, hexagon, kite, line, octagon, pentagon, rectangle, sector, triangle, and in some files a
trapezoid or an ellipse). ``M`` moves to a point, ``L`` draws a straight side to one, ``A rx,ry rot
large,sweep x,y`` an arc. BBH's paths are one unbroken stroke: every ``M`` after the first repeats the
current point, and every path but a line ends where it started.

The solver numbers the points as the path reaches them (point 1 is the start; a repeated ``M``
stays put; the last command returns to point 1 and closes the path) and names the shape:

- one ``L`` and no return: a line;
- straight sides only: 3 points a triangle, 5 to 8 pentagon to octagon, and 4 points by side
  lengths (rounded to one decimal): two pairs of equal adjacent sides make a kite, two pairs of
  equal opposite sides (a rectangle: every such shape in BBH has right angles) are BBH's
  "trapezoid", the option BBH lists beside rectangle for them and marks right; without a
  trapezoid option they would be a rectangle;
- arcs only: BBH's "ellipse" (its arcs have equal radii, a circle, but BBH marks ellipse right
  wherever it lists ellipse); a circle where no ellipse is listed;
- two straight sides from point 1 with an arc between their ends: a sector.

Anything else (a jump to a new point, an open polyline, a repeated corner, nine sides, a square
or rhombus, a four-sided shape with neither pair rule) is ``UnsolvableQuestion``.

Rationale: one sentence per command in the path's order, each citing the command's point as
written and its number ("L 57.38,65.80 draws a side to point 2.", "M 57.38,65.80 stays at point
2."), the closing sentence, for four points the side lengths and the pair rule, a sentence naming
the count and the shape, then the option listing and the result with its letter (``option_line``).
Each sentence's template is drawn from ``rng``, so samples differ in wording only.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from typing import Optional, Sequence

from distill.solvers.base import (Family, StepGrade, UnsolvableQuestion, match_choice, norm, option_line,
                                  quoted_option, steps_in_order)
from serve.core.answers import letter
from serve.core.records import Example

POLYGONS = {3: "triangle", 5: "pentagon", 6: "hexagon", 7: "heptagon", 8: "octagon"}
SHAPE_WORDS = ("circle", "ellipse", "heptagon", "hexagon", "kite", "line", "octagon", "pentagon", "rectangle",
               "sector", "square", "trapezoid", "triangle", "rhombus", "parallelogram")

_PATH = re.compile(r'<path d="([^"]*)"\s*/>')
_NUMBER = r"-?\d+(?:\.\d+)?"
_POINT = rf"{_NUMBER},{_NUMBER}"
_COMMAND = re.compile(rf"([ML]) ({_POINT})|A ({_NUMBER}),({_NUMBER}) ({_NUMBER}) ([01]),([01]) ({_POINT})")


@dataclass(frozen=True)
class Command:
    letter: str  # "M", "L" or "A"
    text: str  # the point it goes to, as the question writes it: "57.38,65.80"
    point: tuple[float, float]
    role: str  # "start", "new" (a new point), "stay" (an M repeating the current point), "close"
    number: int  # the point's number, 1 for the start


@dataclass
class Path:
    commands: list[Command]
    points: list[tuple[float, float]]  # distinct points in the order reached

    @property
    def closed(self) -> bool:
        return self.commands[-1].role == "close"

    @property
    def letters(self) -> str:
        """The drawing commands in order: "LLL", "LAL", "AA"."""
        return "".join(c.letter for c in self.commands if c.letter != "M")


def _point(text: str) -> tuple[float, float]:
    x, y = text.split(",")
    return float(x), float(y)


def parse_path(question: str) -> Path:
    found = _PATH.search(question)
    if not found:
        raise UnsolvableQuestion("no SVG <path d=\"...\"/> element in the question")
    data = found.group(1).strip()
    matches = list(_COMMAND.finditer(data))
    if not matches or " ".join(m.group(0) for m in matches) != " ".join(data.split()):
        raise UnsolvableQuestion(f"cannot read the path '{data}' as M, L and A commands")
    commands: list[Command] = []
    points: list[tuple[float, float]] = []
    for index, match in enumerate(matches):
        command_letter = match.group(1) or "A"
        text = match.group(2) or match.group(8)
        point = _point(text)
        if not commands:
            if command_letter != "M":
                raise UnsolvableQuestion("the path does not start with M")
            role, number = "start", 1
            points.append(point)
        elif command_letter == "M":
            if point != points[commands[-1].number - 1]:
                raise UnsolvableQuestion("an M jumps to a new point: the path is not one stroke")
            role, number = "stay", commands[-1].number
        elif point == points[0] and index == len(matches) - 1 and len(points) > 1:
            role, number = "close", 1
        elif point in points:
            raise UnsolvableQuestion("the path comes back to a point it has already passed")
        else:
            points.append(point)
            role, number = "new", len(points)
        commands.append(Command(command_letter, text, point, role, number))
    if not any(c.role != "start" for c in commands):
        raise UnsolvableQuestion("the path draws nothing")
    return Path(commands, points)


@dataclass(frozen=True)
class Shape:
    name: str  # the option's word: "kite", "trapezoid", ...
    kind: str  # how it was found: "line", "polygon", "kite", "opposite", "arcs", "sector"
    sides: tuple[str, ...] = ()  # for four points: the lengths of sides 1-2, 2-3, 3-4, 4-1, one decimal
    equal_at: int = 0  # for a kite: the point where one pair of equal sides meets (1 or 2)


def side_lengths(points: Sequence[tuple[float, float]]) -> tuple[str, ...]:
    count = len(points)
    return tuple(f"{math.dist(points[i], points[(i + 1) % count]):.1f}" for i in range(count))


def classify(path: Path, choices: Sequence[str]) -> Shape:
    listed = {norm(c) for c in choices}
    letters, count = path.letters, len(path.points)
    if not path.closed:
        if letters == "L":
            return Shape("line", "line")
        raise UnsolvableQuestion("the path neither is one segment nor returns to its start")
    if letters == "AA":
        return Shape("ellipse" if "ellipse" in listed else "circle", "arcs")
    if letters == "LAL":
        return Shape("sector", "sector")
    if set(letters) != {"L"}:
        raise UnsolvableQuestion(f"no shape is drawn by the commands {letters}")
    if count in POLYGONS:
        return Shape(POLYGONS[count], "polygon")
    if count != 4:
        raise UnsolvableQuestion(f"no option has {count} sides")
    sides = side_lengths(path.points)
    opposite = sides[0] == sides[2] and sides[1] == sides[3]
    pairs_at = {1: sides[3] == sides[0] and sides[1] == sides[2], 2: sides[0] == sides[1] and sides[2] == sides[3]}
    equal_at = next((point for point, paired in pairs_at.items() if paired), 0)
    if opposite and equal_at:
        raise UnsolvableQuestion("all four sides are equal: a rhombus or a square, which no option names")
    if opposite:
        return Shape("trapezoid" if "trapezoid" in listed else "rectangle", "opposite", sides)
    if equal_at:
        return Shape("kite", "kite", sides, equal_at)
    raise UnsolvableQuestion("the four sides pair up neither as a kite's nor as a rectangle's")


# --------------------------------------------------------------------------- narration

_START = ("M {p} starts the path at point 1.", "The path begins at {p}, point 1.",
          "Start at {p}: point 1.", "M {p} puts us at point 1.")
_NEW = {"L": ("L {p} draws a side to point {k}.", "L {p}: a straight side to point {k}.",
              "A straight side goes to {p}, point {k}.", "L {p} makes point {k}."),
        "A": ("The arc A draws to {p}, point {k}.", "An arc goes to {p}, point {k}.",
              "A: an arc to {p}, point {k}.", "An arc ends at {p}, point {k}.")}
_STAY = ("M {p} stays at point {k}.", "M {p} is point {k} again, so we do not move.",
         "M {p} repeats point {k}.", "M {p} keeps us at point {k}.")
_CLOSE = {"L": ("L {p} goes back to point 1, the start, so the path is closed.",
                "L {p} returns to the start, point 1: the path closes.",
                "L {p} is point 1 again, closing the path.", "L {p} takes us back to point 1 and closes the path."),
          "A": ("An arc goes back to {p}, point 1, closing the path.",
                "A: an arc back to {p}, point 1, so the path closes.",
                "An arc ends at {p}, point 1 again, so the path is closed.",
                "The arc A takes us back to {p}, point 1.")}
_SIDES = ("Side lengths: {listing}.", "The sides measure {listing}.", "Lengths of the sides: {listing}.")
_SIDE = (" is ", " = ")
_KITE = ("Sides {a} and {b} are equal, and so are {c} and {d}: two pairs of equal adjacent sides, "
         "so it is a kite.",
         "{a} equals {b} and {c} equals {d}: equal sides meet in pairs, which makes a kite.",
         "Equal neighbours: {a} and {b}, then {c} and {d}, so the shape is a kite.")
_OPPOSITE = ("Sides 1-2 and 3-4 are equal, and so are 2-3 and 4-1: opposite sides are equal and parallel, "
             "so it is a {name}.",
             "1-2 equals 3-4 and 2-3 equals 4-1: two pairs of equal opposite sides, parallel, which makes a {name}.",
             "Opposite sides match: 1-2 with 3-4, 2-3 with 4-1, so the shape is a {name}.")
_POLYGON = ("{n} points joined by {n} straight sides make a {name}.",
            "The closed path has {n} points, so {n} sides: a {name}.",
            "{n} points and {n} straight sides: a {name}.", "So the shape has {n} sides, a {name}.")
_FINALS = {
    "line": ("The path stops at point 2 and never returns: one straight segment, a line.",
             "Nothing closes the path after point 2: just one segment, so a line.",
             "It ends at point 2 without coming back, so it draws a line."),
    "arcs": ("Two arcs and no straight sides make a closed curve: {article} {name}.",
             "Only arcs, no straight sides, close this curve: {article} {name}.",
             "The path is curved all round, two arcs: {article} {name}."),
    "sector": ("Two straight sides meet at point 1 and an arc joins their other ends: a sector.",
               "Straight sides from point 1 with an arc between them make a sector.",
               "Two sides from the start and one arc between them: a sector."),
}


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def narrate(path: Path, shape: Shape, rng: random.Random) -> str:
    lines = []
    for command in path.commands:
        templates = {"start": _START, "stay": _STAY}.get(command.role) or \
            (_NEW if command.role == "new" else _CLOSE)[command.letter]
        lines.append(rng.choice(templates).format(p=command.text, k=command.number))
    if shape.kind == "polygon":
        lines.append(rng.choice(_POLYGON).format(n=len(path.points), name=shape.name))
    elif shape.kind in ("kite", "opposite"):
        joiner = rng.choice(_SIDE)
        listing = "; ".join(f"{label}{joiner}{length}" for label, length in zip(_LABELS, shape.sides))
        lines.append(rng.choice(_SIDES).format(listing=listing))
        if shape.kind == "kite":
            pairs = ("4-1", "1-2", "2-3", "3-4") if shape.equal_at == 1 else ("1-2", "2-3", "3-4", "4-1")
            lines.append(rng.choice(_KITE).format(a=pairs[0], b=pairs[1], c=pairs[2], d=pairs[3]))
        else:
            lines.append(rng.choice(_OPPOSITE).format(name=shape.name))
    else:
        lines.append(rng.choice(_FINALS[shape.kind]).format(name=shape.name, article=_article(shape.name)))
    return " ".join(lines)


_LABELS = ("1-2", "2-3", "3-4", "4-1")


def solve(example: Example, rng: random.Random) -> tuple[str, str]:
    if not example.choices:
        raise UnsolvableQuestion("geometric_shapes is multiple choice, but the example has no choices")
    path = parse_path(example.question)
    shape = classify(path, example.choices)
    index = match_choice(shape.name, example.choices)
    return narrate(path, shape, rng) + " " + option_line(example.choices, index, rng), letter(index)


# --------------------------------------------------------------------------- grading a student's rationale

_PIECE_END = re.compile(r"(?<=[.!?])\s+|;\s*")
_POINT_NUMBER = re.compile(r"\bpoint (\d+)\b")
_COUNT = re.compile(r"\b(\d+) (?:points|sides|corners)\b")
_SHAPE = re.compile(rf"\b({'|'.join(SHAPE_WORDS)})\b", re.IGNORECASE)


@dataclass(frozen=True)
class _Step:
    command: Optional[Command] = None
    side: Optional[tuple[str, str]] = None  # (label "1-2", length "17.1")


def _states(piece: str, step: _Step) -> bool:
    if step.command is not None:
        number = _POINT_NUMBER.search(piece)
        return step.command.text in piece and bool(number) and int(number.group(1)) == step.command.number
    label, length = step.side
    found = re.search(rf"(?<![\d-]){label} (?:is|=|measures) ({_NUMBER})\b", piece)
    return bool(found) and found.group(1) == length


def grade(question: str, choices: Optional[Sequence[str]], rationale: str) -> StepGrade:
    """Steps: each command's point and number, the four side lengths where there are four points,
    then the shape (the last shape word outside the option sentences; a count of points or sides in
    that sentence must be right too)."""
    path = parse_path(question)
    shape = classify(path, choices or ())
    steps = [_Step(command=c) for c in path.commands]
    steps += [_Step(side=pair) for pair in zip(_LABELS, shape.sides)]
    pieces = [p for p in _PIECE_END.split(rationale.strip()) if p and quoted_option(p) is None]
    right = steps_in_order(steps, pieces, lambda piece, step: _states(piece, step))
    named = [p for p in pieces if _SHAPE.search(p)]
    final_item = _SHAPE.findall(named[-1])[-1].lower() if named else None
    final_right = final_item == shape.name
    if final_right:
        right += all(int(n) == len(path.points) for n in _COUNT.findall(named[-1]))
    claimed = quoted_option(rationale)
    if claimed is None and final_item is not None and choices:
        matches = [i for i, choice in enumerate(choices) if norm(choice) == final_item]
        claimed = letter(matches[0]) if matches else None
    return StepGrade(len(steps) + 1, right, final_item, final_right, claimed)


FAMILY = Family("geometric_shapes", solve, grade)
