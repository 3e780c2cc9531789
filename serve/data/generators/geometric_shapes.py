"""Geometric-shape questions in BBH's form: an SVG path, and which shape it draws.

"This SVG path element <path d="M 31.20,40.05 L ... "/> draws a" with BBH's ten options (circle,
heptagon, hexagon, kite, line, octagon, pentagon, rectangle, sector, triangle) and, as in BBH, an
eleventh option only where it is the answer: "trapezoid" for a rectangle, "ellipse" for a closed
curve of two arcs. The shape (and so the letter) is drawn with BBH's frequencies (``SHAPE_WEIGHTS``).

BBH's paths come in two styles, both reproduced:

- whole (a ``whole_share`` of the questions): integer coordinates written with ".00", no repeated
  moves, axis-aligned rectangles and kites, circles written from their rightmost point with
  rotation 0.00; a whole sector has an integer centre and radius, rotation 0.00 and a whole number
  of radians to its first rim point, whose coordinates stay two-decimal, as in BBH;
- decimal: two-decimal coordinates, rotated shapes, and after any straight side but the last a
  repeated "M x,y" of the current point with probability ``repeat_moves``.

Polygons are star-shaped around a centre (points sorted by angle), so never self-crossing; every
corner turns by at least ``MIN_TURN_DEGREES`` so that the count of corners is unambiguous. Kites
start at an end of their axis, as all of BBH's do. Sectors span 1, 2 or 3 radians, drawn with
BBH's flags "0,1". The size ``more_moves`` repeats moves far more often, for transfer tests.
"""

from __future__ import annotations

import math
import random
from functools import partial
from typing import Any, Callable, Optional

from serve.data.generators.base import Drawn, Generator, multiple_choice

OPTIONS = ("circle", "heptagon", "hexagon", "kite", "line", "octagon", "pentagon", "rectangle", "sector", "triangle")
EXTRA_OPTION = {"trapezoid": "trapezoid", "ellipse": "ellipse"}  # shapes whose answer is an eleventh option
SHAPE_WEIGHTS = {"hexagon": 32, "sector": 27, "octagon": 26, "triangle": 25, "trapezoid": 25, "ellipse": 25,
                 "line": 24, "heptagon": 23, "pentagon": 22, "kite": 21}  # BBH's answer counts
CORNERS = {"triangle": 3, "pentagon": 5, "hexagon": 6, "heptagon": 7, "octagon": 8}
MIN_TURN_DEGREES = 12.0
MIN_SIDE = 2.0
LENGTH_GAP = 0.3  # a kite's or rectangle's unequal sides differ by at least this much (one decimal)

Point = tuple[float, float]


def _fmt(value: float) -> str:
    text = f"{value:.2f}"
    return "0.00" if text == "-0.00" else text


def _pt(point: Point) -> str:
    return f"{_fmt(point[0])},{_fmt(point[1])}"


def _rounded(point: Point, whole: bool) -> Point:
    return (float(round(point[0])), float(round(point[1]))) if whole else (round(point[0], 2), round(point[1], 2))


def _inside(points: list[Point]) -> bool:
    return all(0 <= x <= 99.99 and 0 <= y <= 99.99 for x, y in points)


def _turns_enough(points: list[Point]) -> bool:
    """Every corner of the closed polygon bends by MIN_TURN_DEGREES or more, and no side is tiny."""
    count = len(points)
    for i in range(count):
        a, b, c = points[i - 1], points[i], points[(i + 1) % count]
        u, v = (b[0] - a[0], b[1] - a[1]), (c[0] - b[0], c[1] - b[1])
        nu, nv = math.hypot(*u), math.hypot(*v)
        if nu < MIN_SIDE or nv < MIN_SIDE:
            return False
        sine = abs(u[0] * v[1] - u[1] * v[0]) / (nu * nv)
        if sine < math.sin(math.radians(MIN_TURN_DEGREES)):
            return False
    return True


def _lengths(points: list[Point]) -> list[str]:
    count = len(points)
    return [f"{math.dist(points[i], points[(i + 1) % count]):.1f}" for i in range(count)]


def _differ(a: str, b: str) -> bool:
    return abs(float(a) - float(b)) >= LENGTH_GAP


def _reorder(rng: random.Random, corners: list[Point], starts: Optional[list[int]] = None) -> list[Point]:
    """The corners from a drawn start, either way round."""
    start = rng.choice(starts if starts is not None else range(len(corners)))
    ordered = corners[start:] + corners[:start]
    return ordered if rng.random() < 0.5 else ordered[:1] + ordered[1:][::-1]


# --------------------------------------------------------------------------- shapes (corners or a path; None: retry)

def _polygon(rng: random.Random, whole: bool, count: int) -> Optional[list[Point]]:
    radius = rng.uniform(8, 45)
    cx, cy = rng.uniform(radius * 0.6, 100 - radius * 0.6), rng.uniform(radius * 0.6, 100 - radius * 0.6)
    angles = sorted(rng.uniform(0, 2 * math.pi) for _ in range(count))
    corners = [_rounded((cx + radius * r * math.cos(t), cy + radius * r * math.sin(t)), whole)
               for t, r in zip(angles, (rng.uniform(0.35, 1.0) for _ in range(count)))]
    return _reorder(rng, corners) if len(set(corners)) == count and _turns_enough(corners) else None


def _rectangle(rng: random.Random, whole: bool) -> Optional[list[Point]]:
    if whole:
        x1, x2 = sorted(rng.sample(range(2, 100), 2))
        y1, y2 = sorted(rng.sample(range(2, 100), 2))
        corners = [(float(x2), float(y2)), (float(x1), float(y2)), (float(x1), float(y1)), (float(x2), float(y1))]
    else:
        width, height, turn = rng.uniform(0.8, 80), rng.uniform(0.8, 50), rng.uniform(0, math.pi)
        cx, cy = rng.uniform(5, 95), rng.uniform(5, 95)
        u, v = (math.cos(turn), math.sin(turn)), (-math.sin(turn), math.cos(turn))
        corners = [_rounded((cx + sx * width / 2 * u[0] + sy * height / 2 * v[0],
                             cy + sx * width / 2 * u[1] + sy * height / 2 * v[1]), False)
                   for sx, sy in ((1, 1), (-1, 1), (-1, -1), (1, -1))]
    sides = _lengths(corners)
    if sides[0] != sides[2] or sides[1] != sides[3] or not _differ(sides[0], sides[1]):
        return None
    return _reorder(rng, corners)


def _kite(rng: random.Random, whole: bool) -> Optional[list[Point]]:
    if whole:
        x, half = rng.randint(5, 95), rng.randint(1, 12)
        y_top, y_mid, y_end = sorted(rng.sample(range(2, 100), 3), reverse=rng.random() < 0.5)
        corners = [(float(x), float(y_top)), (float(x - half), float(y_mid)), (float(x), float(y_end)),
                   (float(x + half), float(y_mid))]
    else:
        turn, half = rng.uniform(0, 2 * math.pi), rng.uniform(1, 15)
        long_part, short_part = rng.uniform(2, 25), rng.uniform(1, 15)
        cx, cy = rng.uniform(5, 95), rng.uniform(5, 95)
        u, v = (math.cos(turn), math.sin(turn)), (-math.sin(turn), math.cos(turn))
        corners = [_rounded((cx + a * u[0] + b * v[0], cy + a * u[1] + b * v[1]), False)
                   for a, b in ((long_part, 0), (0, half), (-short_part, 0), (0, -half))]
    sides = _lengths(corners)
    if sides[3] != sides[0] or sides[1] != sides[2] or not _differ(sides[0], sides[1]) or not _turns_enough(corners):
        return None
    return _reorder(rng, corners, starts=[0, 2])


def _ellipse(rng: random.Random, whole: bool) -> Optional[str]:
    if whole:
        radius = rng.randint(3, 32)
        cx, cy = rng.randint(radius, 99 - radius), rng.randint(radius, 99 - radius)
        start, end, turn = (cx + radius, cy), (cx - radius, cy), 0.0
    else:
        radius, angle = round(rng.uniform(3, 32), 2), rng.uniform(0, 2 * math.pi)
        cx, cy = rng.uniform(radius, 100 - radius), rng.uniform(radius, 100 - radius)
        start = _rounded((cx + radius * math.cos(angle), cy + radius * math.sin(angle)), False)
        end = _rounded((cx - radius * math.cos(angle), cy - radius * math.sin(angle)), False)
        turn = round(math.degrees(math.atan2(start[1] - end[1], start[0] - end[0])), 2) % 360
    if not _inside([start, end]):
        return None
    arc = f"A {_fmt(radius)},{_fmt(radius)} {_fmt(turn)} 1,0"
    return f"M {_pt(start)} {arc} {_pt(end)} {arc} {_pt(start)}"


def _sector(rng: random.Random, whole: bool, repeat: float) -> Optional[str]:
    span = rng.choice((1, 2, 3))  # radians, as in BBH
    if whole:
        radius, first = float(rng.randint(8, 30)), float(rng.randint(0, 6))
        centre = (float(rng.randint(2, 98)), float(rng.randint(2, 98)))
        turn = 0.0
    else:
        radius, first = round(rng.uniform(8, 30), 2), rng.uniform(0, 2 * math.pi)
        centre = _rounded((rng.uniform(2, 98), rng.uniform(2, 98)), False)
        turn = round(math.degrees(first), 2) % 360 if rng.random() < 0.5 else round(rng.uniform(0, 360), 2) % 360
    rim = [_rounded((centre[0] + radius * math.cos(t), centre[1] + radius * math.sin(t)), False)
           for t in (first, first + span)]
    if not _inside([centre, *rim]):
        return None
    again = f" M {_pt(rim[0])}" if rng.random() < repeat else ""
    return (f"M {_pt(centre)} L {_pt(rim[0])}{again} A {_fmt(radius)},{_fmt(radius)} {_fmt(turn)} 0,1 "
            f"{_pt(rim[1])} L {_pt(centre)}")


def _line(rng: random.Random, whole: bool) -> Optional[list[Point]]:
    ends = [_rounded((rng.uniform(0, 99.99), rng.uniform(0, 99.99)), whole) for _ in range(2)]
    return ends if math.dist(*ends) >= 5 else None


def _stroke(corners: list[Point], closed: bool, rng: random.Random, repeat: float) -> str:
    """'M a L b [M b] L c ... L a': every side but the last may be followed by a repeated move."""
    targets = corners[1:] + (corners[:1] if closed else [])
    parts = [f"M {_pt(corners[0])}"]
    for index, point in enumerate(targets):
        parts.append(f"L {_pt(point)}")
        if index < len(targets) - 1 and rng.random() < repeat:
            parts.append(f"M {_pt(point)}")
    return " ".join(parts)


_BUILDERS: dict[str, Callable[[random.Random, bool], Optional[list[Point]]]] = {
    **{name: partial(_polygon, count=count) for name, count in CORNERS.items()},
    "trapezoid": _rectangle,
    "kite": _kite,
    "line": _line,
}


def _path(rng: random.Random, shape: str, whole: bool, repeat: float) -> str:
    for _ in range(1000):
        if shape == "ellipse":
            drawn = _ellipse(rng, whole)
        elif shape == "sector":
            drawn = _sector(rng, whole, repeat)
        else:
            corners = _BUILDERS[shape](rng, whole)
            drawn = None if corners is None or not _inside(corners) else \
                _stroke(corners, shape != "line", rng, repeat)
        if drawn is not None:
            return drawn
    raise RuntimeError(f"could not draw a {shape}")  # never happens with the ranges above


def draw(rng: random.Random, params: dict[str, Any]) -> Drawn:
    shapes = list(SHAPE_WEIGHTS)
    shape = rng.choices(shapes, weights=[SHAPE_WEIGHTS[s] for s in shapes])[0]
    whole = rng.random() < float(params["whole_share"])
    path = _path(rng, shape, whole, 0.0 if whole else float(params["repeat_moves"]))
    options = list(OPTIONS) + ([EXTRA_OPTION[shape]] if shape in EXTRA_OPTION else [])
    question = f'This SVG path element <path d="{path}"/> draws a'
    return multiple_choice(question, options, options.index(shape), shape=shape, whole=whole)


GENERATOR = Generator(
    family="geometric_shapes",
    draw=draw,
    parameters={"whole_share": 0.2, "repeat_moves": 0.37, "wording": "bbh"},
    sizes={"default": {}, "more_moves": {"repeat_moves": 0.8}},
    default_size="default",
    wordings=("bbh",),
    describe="which shape an SVG path draws (polygons by their corners, kites and rectangles by side lengths, arcs)",
)
