"""Solve ``navigate`` (BBH and generated questions) and narrate the walk as a rationale.

A question asks "If you follow these instructions, do you return to the starting point?"
(BBH's wording; the generator's other wordings ask it before or after the walk, and
``parse_walk`` skips that question sentence), with a list of instructions; the answer is
"yes" or "no" (an example with choices, such as older True/False data, is answered with the
letter of the matching option). There are two kinds of walk:

- turns: "Take 3 steps." moves the way you face; "Turn left/right/around." changes it.
- face forward: "Always face forward." first, then "Take 3 steps forward/backward/left/right."

The solver walks on a grid: x points east, y north, the start is (0, 0) facing north.
Turning right is a quarter turn clockwise (north -> east), left the other way, around
a half turn. A relative step ("left") turns the move, not the walker. The answer is yes
exactly when the walk ends at (0, 0).

Rationale: an opening that fixes the start, one sentence per instruction that restates
the whole state after it (a move names its count, its direction and the new position,
compass words for the turns kind, the question's own words when always facing north; a
turn names the side, the new facing and the position), then a verdict comparing the end with
(0, 0) in the answer's own word (yes/no, or the option's True/False), and for multiple choice
the option listing and the result with its letter (``option_line``). For example:
"Start at (0, 0) facing north. Take 3 steps north to (0, 3). Turn around: now facing south at
(0, 3). Take 3 steps south to (0, 0). We end at (0, 0), the starting point, so yes."
Each sentence's template is drawn from ``rng``, so samples differ in wording only.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Optional, Sequence

from distill.solvers.base import (Family, StepGrade, UnsolvableQuestion, match_choice, norm, option_line,
                                  quoted_option, steps_in_order)
from distill.solvers.multistep_arithmetic_two import signed_working
from serve.core.answers import letter
from serve.core.records import Example

COMPASS = ("north", "east", "south", "west")  # clockwise, so a right turn adds 1
TURNS = {"right": 1, "around": 2, "left": 3}
RELATIVE = {"forward": 0, "right": 1, "backward": 2, "left": 3}  # quarter turns from the facing
UNIT = {"north": (0, 1), "east": (1, 0), "south": (0, -1), "west": (-1, 0)}

_FACE_FORWARD = "Always face forward."
_TURN = re.compile(r"Turn (left|right|around)\.")
_MOVE = re.compile(r"Take (\d+) steps?(?: (forward|backward|left|right))?\.")


@dataclass(frozen=True)
class State:
    x: int = 0
    y: int = 0
    facing: str = "north"

    @property
    def position(self) -> str:
        return f"({self.x}, {self.y})"


@dataclass(frozen=True)
class Step:
    """One instruction and the state after it."""

    turn: Optional[str]  # "left", "right", "around" for a turn, else None
    count: int  # steps taken (0 for a turn)
    direction: str  # how the rationale names the move: compass word, or the question's relative word
    after: State


@dataclass
class Walk:
    face_forward: bool
    steps: list[Step]

    @property
    def end(self) -> State:
        return self.steps[-1].after if self.steps else State()

    @property
    def returns(self) -> bool:
        return (self.end.x, self.end.y) == (0, 0)


def _without_the_question(text: str) -> str:
    """The instructions alone: the question sentence ("... do you return to the starting point?")
    goes, whether it comes first (BBH) or last."""
    text = text.strip()
    if text.endswith("?"):
        text = text[: text.rfind(".") + 1]
    question, mark, rest = text.partition("?")
    return rest if mark and "." not in question else text


def parse_walk(question: str) -> Walk:
    question = _without_the_question(question)
    sentences = re.findall(r"[^.]+\.", question.strip())
    if not sentences or "".join(sentences).replace(" ", "") != question.replace(" ", "").strip():
        raise UnsolvableQuestion("the question is not a list of full-stopped instructions")
    sentences = [s.strip() for s in sentences]
    face_forward = sentences[0] == _FACE_FORWARD
    if face_forward:
        sentences = sentences[1:]
    state, steps = State(), []
    for sentence in sentences:
        if turn := _TURN.fullmatch(sentence):
            if face_forward:
                raise UnsolvableQuestion("a turn while always facing forward")
            side = turn.group(1)
            state = State(state.x, state.y, COMPASS[(COMPASS.index(state.facing) + TURNS[side]) % 4])
            steps.append(Step(side, 0, state.facing, state))
        elif move := _MOVE.fullmatch(sentence):
            count, relative = int(move.group(1)), move.group(2) or "forward"
            heading = COMPASS[(COMPASS.index(state.facing) + RELATIVE[relative]) % 4]
            dx, dy = UNIT[heading]
            state = State(state.x + count * dx, state.y + count * dy, state.facing)
            steps.append(Step(None, count, relative if face_forward else heading, state))
        else:
            raise UnsolvableQuestion(f"cannot read the instruction '{sentence}'")
    if not steps:
        raise UnsolvableQuestion("no instructions to follow")
    return Walk(face_forward, steps)


# --------------------------------------------------------------------------- narration

_OPENINGS = ("Start at (0, 0) facing north.", "We begin at (0, 0), facing north.",
             "Say x points east and y north; we start at (0, 0) facing north.",
             "Let the start be (0, 0), and we face north.")
_FORWARD_OPENINGS = ("Start at (0, 0) and always face north: forward is +y, right is +x.",
                     "We begin at (0, 0), always facing north, so forward/backward change y and right/left change x.",
                     "Say we face north the whole time from (0, 0); forward is +y, backward -y, right +x, left -x.",
                     "Start at (0, 0) facing north throughout: forward adds to y, right adds to x.")
_MOVES = ("Take {n} {unit} {direction} to {position}.",
          "{n} {unit} {direction}: now at {position}.",
          "After {n} {unit} {direction}, we are at {position}.",
          "Walking {n} {unit} {direction} brings us to {position}.")
_TURN_LINES = ("Turn {side}: now facing {facing} at {position}.",
               "Turning {side}, we face {facing}, still at {position}.",
               "After turning {side}, we face {facing} at {position}.",
               "Turn {side} to face {facing}; still at {position}.")
_RETURNED = ("We end at {position}, the starting point, so {verdict}.",
             "The final position {position} is where we started: {verdict}.",
             "We finish at {position}, back at the start, so we do return: {verdict}.",
             "Our end point {position} is the start, so {verdict}.")
_AWAY = ("We end at {position}, not the start (0, 0), so {verdict}.",
         "The final position {position} is not the starting point (0, 0): {verdict}.",
         "We finish at {position}, not back at (0, 0), so we do not return: {verdict}.",
         "Our end point {position} differs from the start (0, 0), so {verdict}.")
YES_NO = {True: "yes", False: "no"}
_CANONICAL = {"yes": "yes", "no": "no", "true": "yes", "false": "no"}


def verdict_words(choices: Optional[Sequence[str]]) -> dict[bool, str]:
    """How the verdict is said: yes/no, or the words of the options (True/False, Yes/No)."""
    if not choices:
        return YES_NO
    if {"true", "false"} <= {norm(choice) for choice in choices}:
        return {True: "True", False: "False"}
    return {True: "Yes", False: "No"}


def _steps_word(count: int) -> str:
    return "step" if count == 1 else "steps"


def _said_move(step: Step, before: State, rng: random.Random) -> str:
    line = rng.choice(_MOVES).format(n=step.count, unit=_steps_word(step.count),
                                     direction=step.direction, position=step.after.position)
    return line[0].upper() + line[1:]


def _worked_move(step: Step, before: State, rng: random.Random) -> str:
    """The coordinate the move changes, worked with the signs apart from the digits as the arithmetic
    teacher works a sum: "7 steps backward: y = 6 - 7 = -(7 - 6) = -1; now at (0, -1)."."""
    axis, old, new = ("x", before.x, step.after.x) if step.after.x != before.x else ("y", before.y, step.after.y)
    working = " = ".join(signed_working(old, "+" if new >= old else "-", abs(new - old)))
    return f"{step.count} {_steps_word(step.count)} {step.direction}: {axis} = {working}; now at {step.after.position}."


def _said_turn(step: Step, before: State, rng: random.Random) -> str:
    return rng.choice(_TURN_LINES).format(side=step.turn, facing=step.after.facing, position=step.after.position)


# The compass written out in the turn's own order, so the new facing is the word after the old one: a copy
# from the line itself, not a rotation recalled.
_TURN_ORDERS = {"left": "north, west, south, east, north", "right": "north, east, south, west, north",
                "around": "north and south, east and west swap"}


def _cycled_turn(step: Step, before: State, rng: random.Random) -> str:
    """'Turn left (north, west, south, east, north): west becomes south; facing south at (0, 9).'"""
    return (f"Turn {step.turn} ({_TURN_ORDERS[step.turn]}): {before.facing} becomes {step.after.facing}; "
            f"facing {step.after.facing} at {step.after.position}.")


def narrate(walk: Walk, verdict: str, rng: random.Random, move_line=_said_move, turn_line=_said_turn) -> str:
    lines = [rng.choice(_FORWARD_OPENINGS if walk.face_forward else _OPENINGS)]
    before = State()
    for step in walk.steps:
        if step.turn:
            lines.append(turn_line(step, before, rng))
        else:
            lines.append(move_line(step, before, rng))
        before = step.after
    lines.append(rng.choice(_RETURNED if walk.returns else _AWAY).format(position=walk.end.position, verdict=verdict))
    return " ".join(lines)


def solve(example: Example, rng: random.Random, move_line=_said_move, turn_line=_said_turn) -> tuple[str, str]:
    walk = parse_walk(example.question)
    verdict = verdict_words(example.choices)[walk.returns]
    rationale = narrate(walk, verdict, rng, move_line, turn_line)
    if not example.choices:
        return rationale, YES_NO[walk.returns]
    index = match_choice(verdict, example.choices)
    return rationale + " " + option_line(example.choices, index, rng), letter(index)


# --------------------------------------------------------------------------- grading a student's rationale

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_POSITION = re.compile(r"\((-?\d+), ?(-?\d+)\)")
_TURN_CLAIM = re.compile(r"\bturn(?:s|ed|ing)? (left|right|around)\b", re.IGNORECASE)
_FACING_CLAIM = re.compile(r"\bfac(?:e|es|ing) (north|east|south|west)\b", re.IGNORECASE)
_MOVE_CLAIM = re.compile(r"\b(\d+) steps? (north|east|south|west|forward|backward|left|right)\b", re.IGNORECASE)
_VERDICT = re.compile(r"\b(true|false|yes|no)\b", re.IGNORECASE)


def _position(sentence: str) -> Optional[tuple[int, int]]:
    """The first position a sentence names (a step's new position comes first in every template)."""
    found = _POSITION.search(sentence)
    return (int(found.group(1)), int(found.group(2))) if found else None


def _states_step(sentence: str, step: Step) -> bool:
    """Whether one sentence names ``step``'s instruction and the whole state after it."""
    if step.turn:
        turn, facing = _TURN_CLAIM.search(sentence), _FACING_CLAIM.search(sentence)
        if not (turn and facing and (turn.group(1).lower(), facing.group(1).lower()) == (step.turn, step.after.facing)):
            return False
    else:
        move = _MOVE_CLAIM.search(sentence)
        if not (move and (int(move.group(1)), move.group(2).lower()) == (step.count, step.direction)):
            return False
    return _position(sentence) == (step.after.x, step.after.y)


def grade(question: str, choices: Optional[Sequence[str]], rationale: str) -> StepGrade:
    """Steps: the state after each instruction, then the verdict (the last sentence saying yes or no,
    or True or False, must also name the final position first)."""
    walk = parse_walk(question)
    truth = YES_NO[walk.returns]
    # the option listing ("False is (a); True is (b)") and the result restated with its letter name
    # options, not the rationale's own steps or verdict: only the letter is read from them
    sentences = [s for s in _SENTENCE_END.split(rationale.strip()) if s and quoted_option(s) is None]
    right = steps_in_order(walk.steps, sentences, lambda sentence, step: bool(_states_step(sentence, step)))
    verdicts = [s for s in sentences if _VERDICT.search(s) and _POSITION.search(s)]
    if verdicts:
        said = _VERDICT.findall(verdicts[-1])[-1].lower()
        right += _position(verdicts[-1]) == (walk.end.x, walk.end.y) and _CANONICAL[said] == truth
    claims = _VERDICT.findall(" ".join(sentences))
    final_item = norm(claims[-1]) if claims else None
    final_right = final_item is not None and _CANONICAL[final_item] == truth
    if not choices:
        return StepGrade(len(walk.steps) + 1, right, final_item, final_right,
                         _CANONICAL[final_item] if final_item else None)
    claimed = quoted_option(rationale)
    if claimed is None and final_item is not None:
        matches = [i for i, choice in enumerate(choices) if _CANONICAL.get(norm(choice)) == _CANONICAL[final_item]]
        claimed = letter(matches[0]) if matches else None
    return StepGrade(len(walk.steps) + 1, right, final_item, final_right, claimed)


def solve_sums_worked(example: Example, rng: random.Random) -> tuple[str, str]:
    """Each move's coordinate worked as a signed sum (``_worked_move``): the pilot student of the default
    format slipped in exactly these sums ("(0, 6), 7 steps backward: now at (0, 1)")."""
    return solve(example, rng, _worked_move)


def solve_turns_cycled(example: Example, rng: random.Random) -> tuple[str, str]:
    """``sums_worked`` with each turn read off the compass written in the turn's order (``_cycled_turn``): half
    of the ``sums_worked`` student's BBH misses held a wrong facing after a turn ("west", turn left, "north")."""
    return solve(example, rng, _worked_move, _cycled_turn)


FAMILY = Family("navigate", solve, grade, styles={"sums_worked": solve_sums_worked, "turns_cycled": solve_turns_cycled})
