"""multistep_arithmetic_two questions: "((2 + 7 * -3) - (8 - -5 * 4 + 1)) =", answered with the number.

BBH's 250 items are all two bracketed groups of four operands joined by one operator, the whole
bracketed: every operand uniform in -9..9, every operator uniform among +, - and *. Here a
question nests ``depth`` levels: depth 1 is one group "(a o b o c o d)", depth k joins two
expressions of depth k-1 with an operator and brackets them, so BBH's form is depth 2.

- ``operands``: numbers in each innermost group (BBH: 4);
- ``depth``: nesting levels (BBH: 2; depth 3 has four groups);
- ``largest``: operands are drawn uniformly from -largest..largest (BBH: 9);
- ``wording``: ``"bbh"`` writes "EXPRESSION ="; ``"varied"`` asks in other words.

The answer is computed while the question is built: each group's products first, then its sums
and differences from the left, then the operators joining the groups.
"""

from __future__ import annotations

import operator
import random
from typing import Any

from serve.data.generators.base import Drawn, Generator

OPERATORS = {"+": operator.add, "-": operator.sub, "*": operator.mul}
SIGNS = tuple(OPERATORS)
FRAMES = {
    "bbh": ("{expression} =",),
    "varied": ("What is {expression}?", "Compute {expression}.", "Evaluate {expression}.",
               "Work out the value of {expression}.", "Find {expression}, step by step."),
}


def group_value(numbers: list[int], signs: list[str]) -> int:
    """The value of n0 s0 n1 s1 n2 ...: products first, then + and - from the left."""
    terms, joins = [numbers[0]], []
    for sign, number in zip(signs, numbers[1:]):
        if sign == "*":
            terms[-1] *= number
        else:
            terms.append(number)
            joins.append(sign)
    total = terms[0]
    for sign, term in zip(joins, terms[1:]):
        total = OPERATORS[sign](total, term)
    return total


def _group(rng: random.Random, operands: int, largest: int) -> tuple[str, int]:
    numbers = [rng.randint(-largest, largest) for _ in range(operands)]
    signs = [rng.choice(SIGNS) for _ in range(operands - 1)]
    words = [str(numbers[0])] + [f"{sign} {number}" for sign, number in zip(signs, numbers[1:])]
    return f"({' '.join(words)})", group_value(numbers, signs)


def _expression(rng: random.Random, depth: int, operands: int, largest: int) -> tuple[str, int]:
    if depth == 1:
        return _group(rng, operands, largest)
    left, left_value = _expression(rng, depth - 1, operands, largest)
    right, right_value = _expression(rng, depth - 1, operands, largest)
    sign = rng.choice(SIGNS)
    return f"({left} {sign} {right})", OPERATORS[sign](left_value, right_value)


def draw(rng: random.Random, params: dict[str, Any]) -> Drawn:
    operands, depth, largest = int(params["operands"]), int(params["depth"]), int(params["largest"])
    wording = params["wording"]
    if operands < 2 or depth < 1 or largest < 1:
        raise ValueError("multistep_arithmetic_two needs operands >= 2, depth >= 1 and largest >= 1")
    if wording not in FRAMES:
        raise ValueError(f"multistep_arithmetic_two has no wording {wording!r}; use one of: {', '.join(FRAMES)}")
    expression, value = _expression(rng, depth, operands, largest)
    question = rng.choice(FRAMES[wording]).format(expression=expression)
    return Drawn(question, str(value), None, "number", {"operands": operands, "depth": depth})


GENERATOR = Generator(
    family="multistep_arithmetic_two",
    draw=draw,
    parameters={"operands": 4, "depth": 2, "largest": 9, "wording": "bbh"},
    sizes={"default": {}, "five_operands": {"operands": 5}, "six_operands": {"operands": 6},
           "three_levels": {"depth": 3}},
    default_size="default",
    wordings=tuple(FRAMES),
    describe="nested + - * expressions of signed whole numbers (operands per group, depth, largest operand)",
)
