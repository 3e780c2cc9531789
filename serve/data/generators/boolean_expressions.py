"""boolean_expressions questions: "not ( True ) or ( False ) is", answered "true" or "false".

BIG-bench's task lists every expression of a given number of tokens over True, False, not,
and, or and parentheses that Python reads; BBH's 250 items are all 8 tokens long. A draw here
is uniform over those expressions: ``_count`` counts the strings of each length that each rule
of an unambiguous grammar derives (or-chains of and-chains of ``not``* (value | ( expression ))),
and ``_build`` picks among the rules in proportion to those counts. The answer is computed
while the expression is built, from the rules it was built with.

- ``tokens``: the expression's length in tokens, parentheses and operators included (2 or more).
  There are only 2122 expressions of 8 tokens (1872 besides BBH's), 218000 of 12, 24 million of 16.
- ``wording``: ``"bbh"`` writes "EXPRESSION is"; ``"varied"`` asks in other words.
"""

from __future__ import annotations

import random
from functools import lru_cache
from typing import Any

from serve.data.generators.base import Drawn, Generator

MIN_TOKENS = 2
FRAMES = {
    "bbh": ("{expression} is",),
    "varied": ("Evaluate: {expression}", "What is the value of {expression}?", "Compute {expression}.",
               "Work out {expression}, step by step.", "Find the truth value of {expression}."),
}
# Each chain rule joins items of the next rule with its word; "not" prefixes a negated item.
_CHAIN = {"or": "and", "and": "not"}


@lru_cache(maxsize=None)
def _count(rule: str, length: int) -> int:
    """How many token strings of ``length`` the rule derives (constants counted as both values)."""
    if length <= 0:
        return 0
    if rule == "atom":
        return 2 if length == 1 else _count("or", length - 2)
    if rule == "not":
        return _count("not", length - 1) + _count("atom", length)
    item = _CHAIN[rule]
    return _count(item, length) + sum(_count(item, k) * _count(rule, length - 1 - k) for k in range(1, length - 1))


def _build(rule: str, length: int, rng: random.Random) -> tuple[list[str], bool]:
    """One expression of ``rule`` and ``length``, uniform among all of them, with its value."""
    pick = rng.randrange(_count(rule, length))
    if rule == "atom":
        if length == 1:
            value = pick == 0
            return [str(value)], value
        inner, value = _build("or", length - 2, rng)
        return ["(", *inner, ")"], value
    if rule == "not":
        if pick < _count("not", length - 1):
            inner, value = _build("not", length - 1, rng)
            return ["not", *inner], not value
        return _build("atom", length, rng)
    item = _CHAIN[rule]
    pick -= _count(item, length)
    if pick < 0:
        return _build(item, length, rng)
    for first in range(1, length - 1):
        pick -= _count(item, first) * _count(rule, length - 1 - first)
        if pick < 0:
            head, head_value = _build(item, first, rng)
            rest, rest_value = _build(rule, length - 1 - first, rng)
            value = (head_value and rest_value) if rule == "and" else (head_value or rest_value)
            return [*head, rule, *rest], value
    raise AssertionError("the counts cover every choice")


def draw(rng: random.Random, params: dict[str, Any]) -> Drawn:
    length, wording = int(params["tokens"]), params["wording"]
    if length < MIN_TOKENS:
        raise ValueError(f"boolean_expressions needs at least {MIN_TOKENS} tokens, not {length}")
    if wording not in FRAMES:
        raise ValueError(f"boolean_expressions has no wording {wording!r}; use one of: {', '.join(FRAMES)}")
    tokens, value = _build("or", length, rng)
    question = rng.choice(FRAMES[wording]).format(expression=" ".join(tokens))
    return Drawn(question, str(value).lower(), None, "true_false", {"tokens": length})


GENERATOR = Generator(
    family="boolean_expressions",
    draw=draw,
    parameters={"tokens": 8, "wording": "bbh"},
    sizes={"default": {}, "twelve_tokens": {"tokens": 12}, "sixteen_tokens": {"tokens": 16}},
    default_size="default",
    wordings=tuple(FRAMES),
    describe="the value of a Boolean expression over True, False, not, and, or and parentheses (tokens: its length)",
)
