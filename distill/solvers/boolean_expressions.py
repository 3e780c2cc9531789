"""Solve BBH ``boolean_expressions`` and narrate the evaluation as a chain of rewrites.

Questions read "not ( True ) or ( False ) is": the constants True and False, the operators
not, and, or, and parentheses, every token spaced; the answer is "true" or "false". A question
in other words ("Evaluate: ... .") is read by its longest run of those tokens.

The rationale restates the whole expression after every rewrite, joined by " = ":

    not ( True ) or ( False ) = not True or False = False or False = False

- the first state is the question's expression; if it holds parentheses around a lone value
  ("( True )", "( ( False ) )"), the next state has all of them removed (one step);
- every later step applies ONE operator inside the innermost group, the one the first ")"
  closes (the whole expression once no parentheses are left): the leftmost "not" standing
  right before a value, else the leftmost "and", else the leftmost "or" (precedence
  not > and > or, left to right);
- a group left holding a single value loses its parentheses in the same step.

Why this shape: a 135M student learns what a line computes from the line just before it. Here
each state is the previous one with one operator and its operands replaced by their value; the
rest is copied, so no step needs to look further back than the state before it.

Grading: the reference steps are the states after the question's; a student's rationale is cut
at "=", ":", ";", line breaks and full stops, each piece read as a token sequence, and the steps
it states in order are counted (``steps_in_order``). The final claim is the last True/False.
"""

from __future__ import annotations

import operator
import random
import re
from typing import Optional, Sequence

from distill.solvers.base import Family, StepGrade, UnsolvableQuestion, steps_in_order
from serve.core.records import Example

VALUES = ("True", "False")
TOKENS = frozenset({*VALUES, "not", "and", "or", "(", ")"})
NEGATION = {"True": "False", "False": "True"}
TRUTH_TABLES = {
    "and": {("True", "True"): "True", ("True", "False"): "False", ("False", "True"): "False",
            ("False", "False"): "False"},
    "or": {("True", "True"): "True", ("True", "False"): "True", ("False", "True"): "True",
           ("False", "False"): "False"},
}


# --------------------------------------------------------------------------- reading the question

def read_expression(question: str) -> list[str]:
    """The longest run of expression tokens in the question ('not ( True ) is' -> ['not', '(', 'True', ')'])."""
    words = [word if word in TOKENS else word.rstrip(".?!,:;") for word in question.split()]
    best: list[str] = []
    run: list[str] = []
    for word in [*words, ""]:
        if word in TOKENS:
            run.append(word)
            continue
        best = run if len(run) > len(best) else best
        run = []
    if not best:
        raise UnsolvableQuestion(f"no Boolean expression in {question[:60]!r}")
    _check_grammar(best)
    return best


def _check_grammar(tokens: Sequence[str]) -> None:
    """Raise unless ``tokens`` is one expression: or-chains of and-chains of not* (value | ( expression ))."""
    def chain(i: int, word: str, item) -> int:
        i = item(i)
        while i < len(tokens) and tokens[i] == word:
            i = item(i + 1)
        return i

    def either(i: int) -> int:
        return chain(i, "or", both)

    def both(i: int) -> int:
        return chain(i, "and", negated)

    def negated(i: int) -> int:
        while i < len(tokens) and tokens[i] == "not":
            i += 1
        if i < len(tokens) and tokens[i] in VALUES:
            return i + 1
        if i < len(tokens) and tokens[i] == "(":
            i = either(i + 1)
            if i < len(tokens) and tokens[i] == ")":
                return i + 1
        raise UnsolvableQuestion(f"not a well-formed Boolean expression: {' '.join(tokens)}")

    if either(0) != len(tokens):
        raise UnsolvableQuestion(f"not a well-formed Boolean expression: {' '.join(tokens)}")


# --------------------------------------------------------------------------- evaluating by rewrites

def drop_lone_parentheses(tokens: Sequence[str]) -> list[str]:
    """Remove every pair of parentheses around a single value, nested ones too."""
    kept: list[str] = []
    for token in tokens:
        kept.append(token)
        while len(kept) >= 3 and kept[-1] == ")" and kept[-3] == "(" and kept[-2] in VALUES:
            kept[-3:] = [kept[-2]]
    return kept


def innermost(tokens: Sequence[str]) -> tuple[int, int]:
    """(start, end) of the tokens inside the group the first ")" closes; the whole list without one."""
    if ")" not in tokens:
        return 0, len(tokens)
    end = tokens.index(")")
    return max(i for i in range(end) if tokens[i] == "(") + 1, end


def rewrite(tokens: Sequence[str]) -> list[str]:
    """The expression after one operator of the innermost group is applied."""
    start, end = innermost(tokens)
    group = list(tokens[start:end])
    ready_not = next((i for i in range(len(group) - 1) if group[i] == "not" and group[i + 1] in VALUES), None)
    if ready_not is not None:
        first, last, value = ready_not, ready_not + 2, NEGATION[group[ready_not + 1]]
    else:
        word = "and" if "and" in group else "or"
        at = group.index(word)
        first, last, value = at - 1, at + 2, TRUTH_TABLES[word][group[at - 1], group[at + 1]]
    return drop_lone_parentheses([*tokens[:start + first], value, *tokens[start + last:]])


def trace(tokens: Sequence[str]) -> list[list[str]]:
    """Every state from the question's expression to its value."""
    states = [list(tokens)]
    cleaned = drop_lone_parentheses(tokens)
    if cleaned != states[-1]:
        states.append(cleaned)
    while len(states[-1]) > 1:
        states.append(rewrite(states[-1]))
    if len(states) == 1:
        raise UnsolvableQuestion("the expression is already a single value")
    return states


# --------------------------------------------------------------------------- writing the rationale

_OPENINGS = (
    "Parentheses first, then not, and, or.",
    "Innermost brackets first; not before and before or.",
    "One operator at a time: brackets, not, and, or.",
    "Precedence: brackets, not, and, or, from the left.",
    "Order: parentheses, then not, then and, then or.",
    "",
)
_LEADS = ("Step by step: ", "Rewriting: ", "We get ", "Evaluating: ", "So ")
_CLOSINGS = ("", " The value is {value}.", " That leaves {value}.", " Result: {value}.")


def narrate(states: Sequence[Sequence[str]], rng: random.Random) -> str:
    chain = " = ".join(" ".join(state) for state in states)
    opening = rng.choice(_OPENINGS)
    text = f"{opening} {rng.choice(_LEADS)}{chain}.{rng.choice(_CLOSINGS).format(value=states[-1][0])}"
    return text.strip()


def solve(example: Example, rng: random.Random) -> tuple[str, str]:
    states = trace(read_expression(example.question))
    return narrate(states, rng), states[-1][0].lower()


# --------------------------------------------------------------------------- grading a student's rationale

_PIECE_END = re.compile(r"=|:|;|\n|\.(?:\s|$)")
_TRUTH_WORD = re.compile(r"\b(true|false)\b", re.IGNORECASE)


def read_state(piece: str) -> tuple[str, ...]:
    """' ( true) and False ' -> ('(', 'True', ')', 'and', 'False')."""
    words = re.sub(r"([()])", r" \1 ", piece).split()
    return tuple(word.capitalize() if word.lower() in ("true", "false") else word for word in words)


def grade(question: str, choices: Optional[Sequence[str]], rationale: str) -> StepGrade:
    reference = [tuple(state) for state in trace(read_expression(question))[1:]]
    stated = [read_state(piece) for piece in _PIECE_END.split(rationale)]
    right = steps_in_order(reference, stated, operator.eq)
    truth_words = _TRUTH_WORD.findall(rationale)
    final_item = truth_words[-1].lower() if truth_words else None
    answer = reference[-1][0].lower()
    return StepGrade(len(reference), right, final_item, final_item == answer, final_item)


FAMILY = Family("boolean_expressions", solve, grade)
