"""New ``arithmetic`` questions in BIG-bench's form: "What is 123 plus 456?".

BBH has no arithmetic file (its multistep_arithmetic_two is another family), so the default
wording, ``"bbh"``, is the benchmark form the family was built on: BIG-bench's
``{1..5}_digit_{addition,subtraction,multiplication,division}`` subtasks, one size each.

- ``digits``: every operand is drawn uniformly from 0 to 10**digits - 1 (so a "3-digit" operand
  may be 7, and "0 plus 1" is a 1-digit addition, as in BIG-bench). Up to 6 digits: the
  solver's place names stop at millions.
- ``operation``: addition, subtraction (a negative result is allowed), multiplication, or
  division, which is always exact: the dividend is drawn like any operand and the divisor
  among its divisors, mostly not 1 or the dividend itself (``TRIVIAL_DIVISION_SHARE``); any
  non-zero divisor when the dividend is 0.
- ``wording``: ``"bbh"`` writes the operation in words; ``"symbols"`` writes
  "What is 123 + 456?" ("+", "-", "×", "/").

The answer is the number, no choices (``answer_type`` "number"). Small sizes hold few distinct
questions: 100 per 1-digit operation (32 divisions), so ask those for fewer.
"""

from __future__ import annotations

import random
from functools import lru_cache
from typing import Any

from serve.data.generators.base import Drawn, Generator

MAX_DIGITS = 6
OPERATIONS = {  # operation -> (word, symbol, result)
    "addition": ("plus", "+", lambda a, b: a + b),
    "subtraction": ("minus", "-", lambda a, b: a - b),
    "multiplication": ("times", "×", lambda a, b: a * b),
    "division": ("divided by", "/", lambda a, b: a // b),
}
WORDINGS = {"bbh": 0, "symbols": 1}  # which of OPERATIONS' spellings the question uses
# Dividing by 1 or by the dividend itself teaches little, yet uniform over divisors it would be a third
# of all divisions; a dividend with other divisors takes 1 or itself this often (a prime always does).
TRIVIAL_DIVISION_SHARE = 0.1


@lru_cache(maxsize=None)
def divisors(number: int) -> tuple[int, ...]:
    """Every positive divisor of ``number`` > 0, ascending: 12 -> (1, 2, 3, 4, 6, 12)."""
    small = [d for d in range(1, int(number ** 0.5) + 1) if number % d == 0]
    return tuple(sorted({*small, *(number // d for d in small)}))


def operands(rng: random.Random, digits: int, operation: str) -> tuple[int, int]:
    top = 10 ** digits
    a = rng.randrange(top)
    if operation != "division":
        return a, rng.randrange(top)
    if a == 0:
        return a, rng.randrange(1, top)
    proper = divisors(a)[1:-1]
    if proper and rng.random() >= TRIVIAL_DIVISION_SHARE:
        return a, rng.choice(proper)
    return a, rng.choice(divisors(a))


def draw(rng: random.Random, params: dict[str, Any]) -> Drawn:
    digits, operation, wording = int(params["digits"]), params["operation"], params["wording"]
    if not 1 <= digits <= MAX_DIGITS:
        raise ValueError(f"arithmetic digits must be 1 to {MAX_DIGITS}, not {digits}")
    if operation not in OPERATIONS:
        raise ValueError(f"arithmetic operation must be one of {', '.join(OPERATIONS)}, not {operation!r}")
    if wording not in WORDINGS:
        raise ValueError(f"arithmetic has no wording {wording!r}; use one of: {', '.join(WORDINGS)}")
    a, b = operands(rng, digits, operation)
    spelling, compute = OPERATIONS[operation][WORDINGS[wording]], OPERATIONS[operation][2]
    return Drawn(f"What is {a} {spelling} {b}?", str(compute(a, b)), None, "number",
                 {"a": a, "b": b, "operation": operation, "digits": digits})


SIZES = {f"{n}_digit_{operation}": {"digits": n, "operation": operation}
         for n in range(1, 6) for operation in OPERATIONS}

GENERATOR = Generator(
    family="arithmetic",
    draw=draw,
    parameters={"digits": 3, "operation": "addition", "wording": "bbh"},
    sizes=SIZES,
    default_size="3_digit_addition",
    wordings=tuple(WORDINGS),
    describe="What is A plus/minus/times/divided by B? (1-6 digit operands, exact divisions; answer: the number)",
)
