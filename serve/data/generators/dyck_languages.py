"""dyck_languages questions: an unfinished bracket sequence whose answer closes what is still open.

The input is the start of a balanced sequence over ( ) [ ] { } < >, written as space-separated
symbols, that leaves 1 to 3 brackets open (``open``); the answer is their closers, innermost first
("( [ {" -> "} ] )"). Parameters, each a number or a range "LO-HI":

- ``length``: symbols in the input, drawn log-uniformly from the range (BBH's 250 inputs have 2 to
  99 symbols, a quarter of them under 7 and a quarter over 33, which a log-uniform 2-99 matches);
- ``depth``: the input's maximum nesting, drawn uniformly from the range where the length allows
  it; "natural" draws it between sqrt(length) and 2.5 sqrt(length), the band BBH's inputs lie in;
- ``open``: how many brackets the input leaves open.

Given (length, open, depth), the sequence of heights is drawn uniformly among all that fit
(counting completions per state, ``_completions``), and every opener's kind uniformly.
"""

from __future__ import annotations

import math
import random
from typing import Any

from serve.data.generators.base import Drawn, Generator, parse_range

CLOSER_OF = {"(": ")", "[": "]", "{": "}", "<": ">"}
OPENERS = tuple(CLOSER_OF)
NATURAL = "natural"
MAX_TRIES = 200

BBH_FRAME = "Complete the rest of the sequence, making sure that the parentheses are closed properly. Input: {symbols}"
VARIED_FRAMES = (
    "Close every bracket that is still open, innermost first. Input: {symbols}",
    "Finish this sequence so that each opening bracket gets its matching closer. Input: {symbols}",
    "Which symbols, in order, close the brackets left open here? Sequence: {symbols}",
    "Add the closing brackets this sequence still needs: {symbols}",
    "Some brackets below are never closed. Write the closers that balance it. Input: {symbols}",
)
FRAMES = {"bbh": (BBH_FRAME,), "varied": VARIED_FRAMES}


# _TABLES[(open, depth)][r][reached][h]: how many ways r more symbols lead from height h to height
# ``open`` without nesting deeper than ``depth``, and touching ``depth`` unless ``reached`` says the
# path already has. Tables grow on demand, so each (open, depth) pair is counted once per process.
_TABLES: dict[tuple[int, int], list[tuple[list[int], list[int]]]] = {}


def _completions(end: int, depth: int, remaining: int) -> list[tuple[list[int], list[int]]]:
    table = _TABLES.setdefault((end, depth), [])
    if not table:
        finished = [0] * (depth + 2)
        finished[end] = 1
        table.append(([0] * (depth + 2), finished))
    while len(table) <= remaining:
        before = table[-1]
        rows = tuple([0] * (depth + 2) for _ in range(2))
        for reached in (0, 1):
            for height in range(depth + 1):
                up = before[reached or height + 1 == depth][height + 1] if height < depth else 0
                down = before[reached][height - 1] if height else 0
                rows[reached][height] = up + down
        table.append(rows)
    return table


def _heights(rng: random.Random, length: int, end: int, depth: int) -> list[int]:
    """One height walk from 0 to ``end`` of ``length`` moves whose highest point is ``depth``."""
    table = _completions(end, depth, length)
    height, reached, walk = 0, False, []
    for remaining in range(length, 0, -1):
        ways = table[remaining][reached][height]
        up = table[remaining - 1][reached or height + 1 == depth][height + 1] if height < depth else 0
        height += 1 if rng.randrange(ways) < up else -1
        reached = reached or height == depth
        walk.append(height)
    return walk


def _symbols(rng: random.Random, walk: list[int]) -> tuple[list[str], list[str]]:
    """(input symbols, the closers that finish it) for a height walk."""
    symbols: list[str] = []
    stack: list[str] = []
    height = 0
    for next_height in walk:
        if next_height > height:
            stack.append(rng.choice(OPENERS))
            symbols.append(stack[-1])
        else:
            symbols.append(CLOSER_OF[stack.pop()])
        height = next_height
    return symbols, [CLOSER_OF[opener] for opener in reversed(stack)]


def _log_uniform(rng: random.Random, low: int, high: int) -> int:
    return min(high, int(math.exp(rng.uniform(math.log(low), math.log(high + 1)))))


def _depth_range(depth: Any, length: int) -> tuple[int, int]:
    if depth == NATURAL:
        root = math.sqrt(length)
        return math.ceil(root), max(math.ceil(root), int(2.5 * root))
    return parse_range(depth)


def _shape(rng: random.Random, params: dict[str, Any]) -> tuple[int, int, int]:
    """(length, open, depth) drawn from the ranges, redrawn until a sequence of that shape exists."""
    lengths, opens = parse_range(params["length"]), parse_range(params["open"])
    for _ in range(MAX_TRIES):
        length = _log_uniform(rng, *lengths)
        ends = [end for end in range(opens[0], min(opens[1], length) + 1) if (length - end) % 2 == 0]
        if not ends:
            continue
        end = rng.choice(ends)
        low, high = _depth_range(params["depth"], length)
        low, high = max(low, end), min(high, (length + end) // 2)
        if low <= high:
            return length, end, rng.randint(low, high)
    raise ValueError(f"no bracket sequence has length {params['length']}, open {params['open']} "
                     f"and depth {params['depth']}")


def draw(rng: random.Random, params: dict[str, Any]) -> Drawn:
    length, end, depth = _shape(rng, params)
    symbols, closing = _symbols(rng, _heights(rng, length, end, depth))
    frame = rng.choice(FRAMES[params["wording"]])
    return Drawn(frame.format(symbols=" ".join(symbols)), " ".join(closing), None, "text",
                 {"length": length, "open": end, "depth": depth})


GENERATOR = Generator(
    family="dyck_languages",
    draw=draw,
    parameters={"length": "2-99", "depth": NATURAL, "open": "1-3", "wording": "bbh"},
    sizes={
        "default": {},
        "short": {"length": "2-12"},
        "long": {"length": "100-200"},
        "deep": {"length": "40-99", "depth": "20-49"},
    },
    default_size="default",
    wordings=tuple(FRAMES),
    describe="close the brackets an unfinished sequence leaves open (length, depth, open: N or LO-HI)",
)
