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

The rewriting, the narration and the grading it shares with ``multistep_arithmetic_two`` are in
``distill.solvers.expression_steps``.
"""

from __future__ import annotations

import random
import re
from typing import Optional, Sequence

from distill.solvers import expression_steps
from distill.solvers.base import Family, StepGrade, UnsolvableQuestion
from distill.solvers.expression_steps import check_grammar, drop_lone_parentheses, innermost, steps_stated
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


def is_value(token: str) -> bool:
    return token in VALUES


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
    check_grammar(tokens, is_value, ("and", "or"), ("not",), "Boolean expression")


# --------------------------------------------------------------------------- evaluating by rewrites

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
    return drop_lone_parentheses([*tokens[:start + first], value, *tokens[start + last:]], is_value)


def trace(tokens: Sequence[str]) -> list[list[str]]:
    """Every state from the question's expression to its value."""
    return expression_steps.trace(tokens, rewrite, is_value, "value")


# --------------------------------------------------------------------------- writing the rationale

_OPENINGS = (
    "Parentheses first, then not, and, or.",
    "Innermost brackets first; not before and before or.",
    "One operator at a time: brackets, not, and, or.",
    "Precedence: brackets, not, and, or, from the left.",
    "Order: parentheses, then not, then and, then or.",
    "",
)


def narrate(states: Sequence[Sequence[str]], rng: random.Random) -> str:
    return expression_steps.narrate(states, rng, _OPENINGS)


def solve(example: Example, rng: random.Random) -> tuple[str, str]:
    states = trace(read_expression(example.question))
    return narrate(states, rng), states[-1][0].lower()


def solve_op_first(example: Example, rng: random.Random) -> tuple[str, str]:
    states = trace(read_expression(example.question))
    return expression_steps.narrate_op_first(states, rng, _OPENINGS, ("and", "or"), ("not",)), states[-1][0].lower()


# --------------------------------------------------------------------------- grading a student's rationale

_TRUTH_WORD = re.compile(r"\b(true|false)\b", re.IGNORECASE)


def read_state(piece: str) -> tuple[str, ...]:
    """' ( true) and False ' -> ('(', 'True', ')', 'and', 'False')."""
    words = re.sub(r"([()])", r" \1 ", piece).split()
    return tuple(word.capitalize() if word.lower() in ("true", "false") else word for word in words)


def grade(question: str, choices: Optional[Sequence[str]], rationale: str) -> StepGrade:
    reference = [tuple(state) for state in trace(read_expression(question))[1:]]
    right = steps_stated(reference, rationale, read_state)
    truth_words = _TRUTH_WORD.findall(rationale)
    final_item = truth_words[-1].lower() if truth_words else None
    answer = reference[-1][0].lower()
    return StepGrade(len(reference), right, final_item, final_item == answer, final_item)


FAMILY = Family("boolean_expressions", solve, grade, styles={"op_first": solve_op_first})
