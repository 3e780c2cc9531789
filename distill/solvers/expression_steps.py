"""Evaluating an expression as a chain of rewrites: what ``boolean_expressions`` and
``multistep_arithmetic_two`` share.

A state is the expression as a token list, values ("True", "-4") and operators and parentheses
alike. The first state is the question's expression; if it holds parentheses around a lone value,
the next state has all of them removed; every later state is the one before with ONE operation of
the innermost group (the one the first ")" closes, the whole expression once none is left) replaced
by its result, and any group left holding a single value loses its parentheses in the same step.
The family says what a value is (``is_value``) and how one operation is applied (``rewrite``).

The rationale restates every state, joined by " = "; style ``op_first`` writes before each state the
one operation that makes it, on its own ("9 * 5 = 45; ((1 + 45) - 3)"), so the operands sit next to
each other instead of inside the copied expression. A student's rationale is cut into pieces at
"=", ":", ";", line breaks and full stops, and the reference states it states in order are counted.
"""

from __future__ import annotations

import operator
import random
import re
from typing import Callable, Collection, Sequence

from distill.solvers.base import UnsolvableQuestion, steps_in_order

IsValue = Callable[[str], bool]


# --------------------------------------------------------------------------- reading the question

def check_grammar(tokens: Sequence[str], is_value: IsValue, binary: Collection[str],
                  prefixes: Collection[str] = (), kind: str = "expression") -> None:
    """Raise unless ``tokens`` is one expression: operands joined by ``binary`` operators, an operand
    any number of ``prefixes`` before a value or a parenthesised expression. (Precedence does not
    change which token lists are expressions, so one level of binary operators is enough.)"""
    def expression(i: int) -> int:
        i = operand(i)
        while i < len(tokens) and tokens[i] in binary:
            i = operand(i + 1)
        return i

    def operand(i: int) -> int:
        while i < len(tokens) and tokens[i] in prefixes:
            i += 1
        if i < len(tokens) and is_value(tokens[i]):
            return i + 1
        if i < len(tokens) and tokens[i] == "(":
            i = expression(i + 1)
            if i < len(tokens) and tokens[i] == ")":
                return i + 1
        raise UnsolvableQuestion(f"not a well-formed {kind}: {' '.join(tokens)}")

    if expression(0) != len(tokens):
        raise UnsolvableQuestion(f"not a well-formed {kind}: {' '.join(tokens)}")


# --------------------------------------------------------------------------- evaluating by rewrites

def drop_lone_parentheses(tokens: Sequence[str], is_value: IsValue) -> list[str]:
    """Remove every pair of parentheses around a single value, nested ones too."""
    kept: list[str] = []
    for token in tokens:
        kept.append(token)
        while len(kept) >= 3 and kept[-1] == ")" and kept[-3] == "(" and is_value(kept[-2]):
            kept[-3:] = [kept[-2]]
    return kept


def innermost(tokens: Sequence[str]) -> tuple[int, int]:
    """(start, end) of the tokens inside the group the first ")" closes; the whole list without one."""
    if ")" not in tokens:
        return 0, len(tokens)
    end = tokens.index(")")
    return max(i for i in range(end) if tokens[i] == "(") + 1, end


def trace(tokens: Sequence[str], rewrite: Callable[[Sequence[str]], list[str]], is_value: IsValue,
          value_word: str = "value") -> list[list[str]]:
    """Every state from the question's expression to its value; ``rewrite`` applies one operation."""
    states = [list(tokens)]
    cleaned = drop_lone_parentheses(tokens, is_value)
    if cleaned != states[-1]:
        states.append(cleaned)
    while len(states[-1]) > 1:
        states.append(rewrite(states[-1]))
    if len(states) == 1:
        raise UnsolvableQuestion(f"the expression is already a single {value_word}")
    return states


# --------------------------------------------------------------------------- writing the rationale

LEADS = ("Step by step: ", "Rewriting: ", "We get ", "Evaluating: ", "So ")
CLOSINGS = ("", " The value is {value}.", " That leaves {value}.", " Result: {value}.")


def narrate(states: Sequence[Sequence[str]], rng: random.Random, openings: Sequence[str],
            render: Callable[[Sequence[str]], str] = " ".join) -> str:
    """An opening from ``openings``, a lead, every state rendered and joined by " = ", a closing."""
    chain = " = ".join(render(state) for state in states)
    opening = rng.choice(openings)
    text = f"{opening} {rng.choice(LEADS)}{chain}.{rng.choice(CLOSINGS).format(value=states[-1][0])}"
    return text.strip()


def changed_span(before: Sequence[str], after: Sequence[str], binary: Collection[str],
                 prefix: Collection[str] = ()) -> tuple[list[str], list[str]]:
    """What one rewrite replaced and by what: the states less their longest common ends such that the
    replaced part is an operation (it neither begins nor ends with a binary operator, nor ends with a
    prefix one). "2 * 1 + 2" -> "2 + 2" is "2 * 1" -> "2", not "* 1" -> ""."""
    def common(a: Sequence[str], b: Sequence[str]) -> int:
        n = 0
        while n < min(len(a), len(b)) and a[n] == b[n]:
            n += 1
        return n

    best = None
    for start in range(common(before, after), -1, -1):
        for end in range(common(before[start:][::-1], after[start:][::-1]), -1, -1):
            old, new = list(before[start:len(before) - end]), list(after[start:len(after) - end])
            if new and old and old[0] not in binary and old[-1] not in {*binary, *prefix} and old != new:
                if best is None or start + end > best[0]:
                    best = (start + end, old, new)
                break
    if best is None:
        raise UnsolvableQuestion("a rewrite with no operation")  # never seen: a solver bug
    return best[1], best[2]


def narrate_op_first(states: Sequence[Sequence[str]], rng: random.Random, openings: Sequence[str],
                     binary: Collection[str], prefix: Collection[str] = (),
                     render: Callable[[Sequence[str]], str] = " ".join) -> str:
    """The question's expression, then per step the operation and its result, then the state it leaves."""
    steps = []
    for before, after in zip(states, states[1:]):
        old, new = changed_span(before, after, binary, prefix)
        steps.append(f"{render(old)} = {render(new)}; {render(after)}")
    opening = rng.choice(openings)
    text = f"{opening} Start: {render(states[0])}. " + ". ".join(steps) + "."
    return (text + rng.choice(CLOSINGS).format(value=states[-1][0])).strip()


# --------------------------------------------------------------------------- grading a student's rationale

PIECE_END = re.compile(r"=|:|;|\n|\.(?:\s|$)")


def steps_stated(reference: Sequence, rationale: str, read_piece: Callable[[str], object]) -> int:
    """How many of the ``reference`` states the rationale states in order, each piece read by ``read_piece``."""
    return steps_in_order(reference, [read_piece(piece) for piece in PIECE_END.split(rationale)], operator.eq)
