"""Solve BBH ``multistep_arithmetic_two`` and narrate the working as a chain of rewrites.

Questions read "((2 + 7 * -3) - (8 - -5 * 4 + 1)) =": whole numbers (a negative one
written "-4"), the operators + - * and parentheses; the answer is the number. BBH nests two
groups of four one-digit operands; any nesting and any whole numbers are read. A question in
other words ("What is (3 - 4 * 2)?") is read by its longest run of digits, operators and brackets.

The rationale restates the whole expression after every operation, joined by " = ":

    ((2 + 7 * -3) - (8 - -5 * 4 + 1)) = ((2 + -21) - (8 - -5 * 4 + 1)) = (-19 - (8 - -5 * 4 + 1))
    = (-19 - (8 - -20 + 1)) = (-19 - (28 + 1)) = (-19 - 29) = -48

- each step applies ONE operation inside the innermost group, the one the first ")" closes
  (the whole expression once none is left): its leftmost "*", else its leftmost "+" or "-";
- a group left holding one number loses its parentheses in the same step (parentheses around a
  lone number in the question itself all go in a first step of their own);
- a product of two numbers that both have two or more non-zero digits is first written as a sum
  of partial products, splitting the factor with fewer non-zero digits (the right one on a
  tie) by its digits: "(46 * 22)" = "(46 * 20 + 46 * 2)" = "(920 + 46 * 2)" = "(920 + 92)";
  so every product the student writes has a factor with one non-zero digit. Outside a group of
  its own the sum is bracketed, so a "-" before it still applies to the whole product.

Why this shape: a 135M student learns what a line computes from the line just before it. Each
state is the previous one with one operation replaced by its result and the rest copied, so no
step looks back further than the state before it.

Grading: the reference steps are the states after the question's; a student's rationale is cut
at "=", ":", ";", line breaks and full stops, each piece compared without spaces, and the steps
it states in order are counted (``steps_in_order``). The final claim is the last number.

Other styles (``teacher.rationale_style``): ``op_first`` writes each operation with its result before
the state it leaves ("-4 * -7 = 28; (46 - (-2 + -4 + 28))"); ``signs_apart`` also works each operation's
sign apart from its digits ("-6 + 28 = 28 - 6 = 22", "3 * -3 = -(3 * 3) = -9"), because a student trained
on the default style got one-digit facts right without negative operands and mostly wrong with them
(docs/RESULTS.md, the arithmetic pilot).
``places_apart`` also works each sum and product of larger numbers one place at a time ("21 * 8 = 20 * 8 +
1 * 8 = 160 + 8 = 168", "168 + 35 = 168 + 30 + 5 = 198 + 5 = 203"), because the signs_apart student got
one-digit operations right and those with a two-digit operand much less often (piloted: not better than
``signs_apart``, docs/RESULTS.md).

The rewriting, the narration and the grading it shares with ``boolean_expressions`` are in
``distill.solvers.expression_steps``.
"""

from __future__ import annotations

import operator
import random
import re
from typing import Optional, Sequence

from distill.solvers import expression_steps
from distill.solvers.base import Family, StepGrade, UnsolvableQuestion
from distill.solvers.expression_steps import check_grammar, drop_lone_parentheses, innermost, steps_stated
from serve.core.answers import canonical_number
from serve.core.records import Example

OPERATIONS = {"+": operator.add, "-": operator.sub, "*": operator.mul}
_NUMBER = re.compile(r"-?\d+")
_EXPRESSION_TEXT = re.compile(r"[-+*()\d\s]+")
_PIECES = re.compile(r"\d+|[-+*()]")
_SIGN_FOLLOWS = frozenset("(+-*")  # after these (or at the start) a "-" is a sign


def is_number(token: str) -> bool:
    return bool(_NUMBER.fullmatch(token))


# --------------------------------------------------------------------------- reading the question

def tokenize(text: str) -> list[str]:
    """'((-1 + 2) - -3)' -> ['(', '(', '-1', '+', '2', ')', '-', '-3', ')']: a "-" that follows
    nothing, "(" or an operator is a sign and joins its number."""
    tokens: list[str] = []
    for piece in _PIECES.findall(text):
        if piece.isdigit() and tokens and tokens[-1] == "-" and (len(tokens) == 1 or tokens[-2] in _SIGN_FOLLOWS):
            tokens[-1] = str(-int(piece))
        else:
            tokens.append(str(int(piece)) if piece.isdigit() else piece)
    return tokens


def read_expression(question: str) -> list[str]:
    runs = [run.strip() for run in _EXPRESSION_TEXT.findall(question) if any(c.isdigit() for c in run)]
    if not runs:
        raise UnsolvableQuestion(f"no arithmetic expression in {question[:60]!r}")
    tokens = tokenize(max(runs, key=len))
    _check_grammar(tokens)
    return tokens


def _check_grammar(tokens: Sequence[str]) -> None:
    """Raise unless ``tokens`` is one expression: terms joined by + - *, a term a number or ( expression )."""
    check_grammar(tokens, is_number, OPERATIONS)


# --------------------------------------------------------------------------- evaluating by rewrites

def nonzero_digits(number: str) -> int:
    return sum(digit != "0" for digit in number.lstrip("-"))


def place_parts(number: str) -> list[str]:
    """'-305' -> ['-300', '-5']: the number's non-zero digits with their places, keeping its sign."""
    sign, digits = ("-", number[1:]) if number.startswith("-") else ("", number)
    return [f"{sign}{digit}{'0' * (len(digits) - k - 1)}" for k, digit in enumerate(digits) if digit != "0"]


def partial_products(a: str, b: str) -> list[str]:
    """'46', '22' -> 46 * 20 + 46 * 2, splitting the factor with fewer non-zero digits (b on a tie)."""
    if nonzero_digits(a) < nonzero_digits(b):
        products = [[part, "*", b] for part in place_parts(a)]
    else:
        products = [[a, "*", part] for part in place_parts(b)]
    return [token for k, product in enumerate(products) for token in (["+"] if k else []) + product]


def next_operation(tokens: Sequence[str]) -> tuple[int, int]:
    """(index of the operator applied next, length of its group): the innermost group's leftmost
    "*", else its first operator; the operands are the tokens either side of it."""
    start, end = innermost(tokens)
    group = tokens[start:end]
    return start + (group.index("*") if "*" in group else 1), end - start


def splits_product(a: str, sign: str, b: str) -> bool:
    """Is this a product written first as partial products (both factors with 2+ non-zero digits)?"""
    return sign == "*" and min(nonzero_digits(a), nonzero_digits(b)) >= 2


def rewrite(tokens: Sequence[str]) -> list[str]:
    """The expression after one operation of the innermost group."""
    at, group_length = next_operation(tokens)
    a, sign, b = tokens[at - 1:at + 2]
    if splits_product(a, sign, b):
        expanded = partial_products(a, b)
        replacement = expanded if group_length == 3 else ["(", *expanded, ")"]
    else:
        replacement = [str(OPERATIONS[sign](int(a), int(b)))]
    return drop_lone_parentheses([*tokens[:at - 1], *replacement, *tokens[at + 2:]], is_number)


def trace(tokens: Sequence[str]) -> list[list[str]]:
    """Every state from the question's expression to its value."""
    return expression_steps.trace(tokens, rewrite, is_number, "number")


def render(tokens: Sequence[str]) -> str:
    """['(', '46', '-', '22', ')'] -> '(46 - 22)', BBH's spacing."""
    return " ".join(tokens).replace("( ", "(").replace(" )", ")")


# --------------------------------------------------------------------------- writing the rationale

_OPENINGS = (
    "Innermost brackets first, products before sums, left to right.",
    "Parentheses first, then multiplication, then addition and subtraction.",
    "One operation at a time, innermost parentheses first.",
    "Multiply before adding or subtracting; brackets come first.",
    "Order: brackets, then times, then plus and minus, from the left.",
    "",
)


def narrate(states: Sequence[Sequence[str]], rng: random.Random) -> str:
    return expression_steps.narrate(states, rng, _OPENINGS, render)


def solve(example: Example, rng: random.Random) -> tuple[str, str]:
    states = trace(read_expression(example.question))
    return narrate(states, rng), states[-1][0]


def solve_op_first(example: Example, rng: random.Random) -> tuple[str, str]:
    states = trace(read_expression(example.question))
    return expression_steps.narrate_op_first(states, rng, _OPENINGS, ("+", "-", "*"), render=render), states[-1][0]


def signed_working(a: int, sign: str, b: int, by_places: bool = False) -> list[str]:
    """The pieces of one operation worked with the signs apart from the digits, each piece equal to the
    last: "3 * -3", "-(3 * 3)", "-9"; "5 + -9", "5 - 9", "-(9 - 5)", "-4"; "-2 - 4", "-(2 + 4)", "-6".
    Every sum ends as ``p + q`` or ``p - q`` of two non-negative numbers, the larger first, so the student
    only ever adds or subtracts magnitudes; the sign is decided by a rule stated in the line before.
    ``by_places`` goes on to work that magnitude operation one place of a number at a time (``place_working``)."""
    pieces = [f"{a} {sign} {b}"]
    negative = False
    if sign == "*":
        if a < 0 and b < 0:
            pieces.append(f"{-a} * {-b}")
        elif a < 0 or b < 0:
            negative = True
            pieces.append(f"-({abs(a)} * {abs(b)})")
        a, b = abs(a), abs(b)
    else:
        if b < 0:  # subtracting a negative adds, adding one subtracts
            sign, b = ("+" if sign == "-" else "-"), -b
            pieces.append(f"{a} {sign} {b}")
        if a < 0 and sign == "-":
            negative, a, sign = True, -a, "+"
            pieces.append(f"-({a} + {b})")
        elif a < 0:  # -p + m = m - p
            a, sign, b = b, "-", -a
            pieces.append(f"{a} - {b}")
        if sign == "-" and a < b:
            negative, a, b = True, b, a
            pieces.append(f"-({a} - {b})")
    if by_places:
        pieces += [f"-({piece})" if negative else piece for piece in place_working(a, sign, b)]
    value = OPERATIONS[sign](a, b)
    return pieces + [str(-value if negative else value)]


def place_working(a: int, sign: str, b: int) -> list[str]:
    """The pieces between ``a sign b`` (two non-negative numbers, the larger first when subtracted) and
    its value, one place at a time, so that every step adds, subtracts or multiplies one non-zero digit
    (with its zeros): "21 * 8" -> "20 * 8 + 1 * 8", "160 + 8"; "168 + 35" -> "168 + 30 + 5", "198 + 5";
    "1 + 45" -> "45 + 1". A product splits the factor with two or more non-zero digits (the state-level
    split leaves at most one) unless the other is 0 or 1, then adds the partial products as a sum; a sum
    puts first the number with more non-zero digits, then it and a difference split the second number.
    Nothing when no number needs splitting."""
    if sign == "*":
        split, other = (a, b) if nonzero_digits(str(a)) >= 2 else (b, a)
        if nonzero_digits(str(split)) < 2 or other < 2:
            return []
        parts = [int(part) for part in place_parts(str(split))]
        values = [part * other for part in parts]
        pieces = [" + ".join(f"{part} * {b}" if split == a else f"{a} * {part}" for part in parts),
                  " + ".join(map(str, values))]
        while len(values) > 2:
            values = [values[0] + values[1], *values[2:]]
            pieces.append(" + ".join(map(str, values)))
        return pieces + place_working(values[0], "+", values[1])
    pieces = []
    if sign == "+" and nonzero_digits(str(a)) < nonzero_digits(str(b)):
        a, b = b, a
        pieces.append(f"{a} + {b}")
    if nonzero_digits(str(b)) < 2:
        return pieces
    total, rest = a, [int(part) for part in place_parts(str(b))]
    while rest:
        pieces.append(f" {sign} ".join(str(n) for n in [total, *rest]))
        total, rest = OPERATIONS[sign](total, rest[0]), rest[1:]
    return pieces


def solve_signs_apart(example: Example, rng: random.Random, by_places: bool = False) -> tuple[str, str]:
    """``op_first`` with each sum and product worked as ``signed_working`` writes it."""
    states = trace(read_expression(example.question))
    steps = []
    for before, after in zip(states, states[1:]):
        at, _ = next_operation(before)
        a, sign, b = before[at - 1:at + 2]
        if rewrite(before) != after:  # the question's lone parentheses dropped
            working = [render(part) for part in expression_steps.changed_span(before, after, OPERATIONS)]
        elif splits_product(a, sign, b):
            working = [f"{a} * {b}", render(partial_products(a, b))]
        else:
            working = signed_working(int(a), sign, int(b), by_places)
        steps.append(f"{' = '.join(working)}; {render(after)}")
    text = f"{rng.choice(_OPENINGS)} Start: {render(states[0])}. " + ". ".join(steps) + "."
    return (text + rng.choice(expression_steps.CLOSINGS).format(value=states[-1][0])).strip(), states[-1][0]


def solve_places_apart(example: Example, rng: random.Random) -> tuple[str, str]:
    """``signs_apart`` with each magnitude worked one place at a time: in the signs_apart pilot the
    student got one-digit operations right 98-100% of the time and those with a two-digit operand
    45-90% (docs/RESULTS.md, "Multistep arithmetic")."""
    return solve_signs_apart(example, rng, by_places=True)


# --------------------------------------------------------------------------- grading a student's rationale

_CLAIMED_NUMBER = re.compile(r"(?<!\d)-?\d+")


def grade(question: str, choices: Optional[Sequence[str]], rationale: str) -> StepGrade:
    reference = ["".join(state) for state in trace(read_expression(question))[1:]]
    right = steps_stated(reference, rationale, lambda piece: "".join(piece.split()))
    numbers = _CLAIMED_NUMBER.findall(rationale)
    final_item = canonical_number(numbers[-1]) if numbers else None
    return StepGrade(len(reference), right, final_item, final_item == reference[-1], final_item)


FAMILY = Family("multistep_arithmetic_two", solve, grade,
                styles={"op_first": solve_op_first, "signs_apart": solve_signs_apart,
                        "places_apart": solve_places_apart})
