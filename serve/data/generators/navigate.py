"""navigate questions: after a list of walking instructions, are you back where you started?

Two kinds, as in BBH (half each under ``kind="any"``):

- turns: "Take 3 steps." moves the way you face, "Turn left/right/around." changes it;
- forward: "Always face forward." first, then "Take 3 steps forward/backward/left/right."

Parameters: ``instructions``, a number or a range "LO-HI" (BBH's walks have 2 to 9 after the
"Always face forward."), ``kind`` ("any", "turns", "forward"), ``max_steps`` (the largest
count a move takes; BBH's are 1 to 10) and ``wording``. The answer is "yes" for half the walks.

Every move goes one of four headings (0 north/forward, 1 east/right, 2 south/backward,
3 west/left). A walk returns exactly when, on each axis, the counts going one way sum to the
counts going the other way. A returning walk is built that way: draw the instruction kinds and
turns until every used axis has moves both ways, then split one total over each side's moves.
Half the walks that do not return are such a walk with one count changed (a near miss: the end
moves off the start along that move's heading); the other half are drawn freely and kept only
when they end away from the start.
"""

from __future__ import annotations

import random
from typing import Any, Optional

from serve.data.generators.base import Drawn, Generator, parse_range

QUESTION = "If you follow these instructions, do you return to the starting point?"
VARIED_QUESTIONS = (
    "Do these instructions bring you back to where you began?",
    "Following these steps, do you end up at the point you started from?",
    "Will you be back at your starting point after these instructions?",
    "Does this walk finish where it started?",
)
FACE_FORWARD = "Always face forward."
TURN_CHANGE = {"left": 3, "right": 1, "around": 2}  # quarter turns clockwise
TURN_SHARE = 0.36  # of the turns kind's instructions, as in BBH
RELATIVE = ("forward", "right", "backward", "left")  # indexed by heading
KINDS = ("turns", "forward")
MAX_TRIES = 1000
NEAR_MISS_TRIES = 50


def _skeleton(rng: random.Random, kind: str, count: int) -> list[Optional[str]]:
    """Instruction slots: a turn's side, or None for a move (whose count comes later)."""
    if kind == "forward":
        return [None] * count
    return [rng.choice(tuple(TURN_CHANGE)) if rng.random() < TURN_SHARE else None for _ in range(count)]


def _headings(rng: random.Random, kind: str, skeleton: list[Optional[str]]) -> list[int]:
    """The heading of every move slot, in order: drawn when always facing forward, else turned to."""
    if kind == "forward":
        return [rng.randrange(4) for _ in skeleton]
    facing, headings = 0, []
    for turn in skeleton:
        if turn:
            facing = (facing + TURN_CHANGE[turn]) % 4
        else:
            headings.append(facing)
    return headings


def _split(rng: random.Random, total: int, parts: int, largest: int) -> list[int]:
    """``total`` as ``parts`` counts of 1 to ``largest``, spread at random."""
    counts = [1] * parts
    for _ in range(total - parts):
        open_parts = [i for i, c in enumerate(counts) if c < largest]
        counts[rng.choice(open_parts)] += 1
    return counts


def _returning_counts(rng: random.Random, headings: list[int], largest: int) -> Optional[list[int]]:
    """Counts that cancel on both axes, or None when some axis is walked one way only."""
    counts = [0] * len(headings)
    for heading in (0, 1):  # north against south, east against west
        ahead = [i for i, h in enumerate(headings) if h == heading]
        back = [i for i, h in enumerate(headings) if h == heading + 2]
        if bool(ahead) != bool(back):
            return None
        if not ahead:
            continue
        if max(len(ahead), len(back)) > largest * min(len(ahead), len(back)):
            return None
        total = rng.randint(max(len(ahead), len(back)), largest * min(len(ahead), len(back)))
        for side in (ahead, back):
            for index, count in zip(side, _split(rng, total, len(side), largest)):
                counts[index] = count
    return counts


def _end(headings: list[int], counts: list[int]) -> tuple[int, int]:
    north = sum(c for h, c in zip(headings, counts) if h == 0) - sum(c for h, c in zip(headings, counts) if h == 2)
    east = sum(c for h, c in zip(headings, counts) if h == 1) - sum(c for h, c in zip(headings, counts) if h == 3)
    return east, north


def _walk(rng: random.Random, kind: str, count: int, largest: int, returns: bool):
    """(skeleton, headings, counts) of a walk that returns to the start exactly when ``returns``."""
    near_miss = not returns and largest > 1 and rng.random() < 0.5
    for attempt in range(MAX_TRIES):
        skeleton = _skeleton(rng, kind, count)
        headings = _headings(rng, kind, skeleton)
        # a near miss needs a returning walk with a move to change; short turn walks may have none
        if returns or (near_miss and headings and attempt < NEAR_MISS_TRIES):
            counts = _returning_counts(rng, headings, largest)
            if counts is None or (not counts and count > 2):  # a walk of turns only returns trivially
                continue
            if not returns:
                changed = rng.randrange(len(counts))
                counts[changed] = rng.choice([c for c in range(1, largest + 1) if c != counts[changed]])
        else:
            counts = [rng.randint(1, largest) for _ in headings]
            if _end(headings, counts) == (0, 0):
                continue
        return skeleton, headings, counts
    raise ValueError(f"no {kind} walk of {count} instructions that {'returns' if returns else 'strays'}")


def _sentences(kind: str, skeleton: list[Optional[str]], headings: list[int], counts: list[int]) -> list[str]:
    moves = iter(zip(headings, counts))
    sentences = [FACE_FORWARD] if kind == "forward" else []
    for turn in skeleton:
        if turn:
            sentences.append(f"Turn {turn}.")
            continue
        heading, steps = next(moves)
        where = f" {RELATIVE[heading]}" if kind == "forward" else ""
        sentences.append(f"Take {steps} {'step' if steps == 1 else 'steps'}{where}.")
    return sentences


def draw(rng: random.Random, params: dict[str, Any]) -> Drawn:
    kind = rng.choice(KINDS) if params["kind"] == "any" else params["kind"]
    if kind not in KINDS:
        raise ValueError(f"navigate kind '{kind}' is none of any, {', '.join(KINDS)}")
    count = rng.randint(*parse_range(params["instructions"]))
    returns = rng.random() < 0.5
    skeleton, headings, counts = _walk(rng, kind, count, int(params["max_steps"]), returns)
    body = " ".join(_sentences(kind, skeleton, headings, counts))
    if params["wording"] == "bbh":
        question = f"{QUESTION} {body}"
    else:
        asked = rng.choice(VARIED_QUESTIONS)
        question = f"{asked} {body}" if rng.random() < 0.5 else f"{body} {asked}"
    return Drawn(question, "yes" if returns else "no", None, "yes_no",
                 {"kind": kind, "instructions": count, "end": _end(headings, counts)})


GENERATOR = Generator(
    family="navigate",
    draw=draw,
    parameters={"instructions": "2-9", "kind": "any", "max_steps": 10, "wording": "bbh"},
    sizes={
        "default": {},
        "short": {"instructions": "3-5"},
        "long": {"instructions": "10-20"},
    },
    default_size="default",
    wordings=("bbh", "varied"),
    describe="do walking instructions lead back to the start (instructions: N or LO-HI; kind: any, turns, forward)",
)
