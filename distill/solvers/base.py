"""What every program-teacher family provides, and the few helpers they share.

A family is one module under ``distill/solvers/`` that defines ``FAMILY = Family(...)``:

- ``solve(example, rng) -> (rationale, answer)``: a correct step-by-step rationale in the
  student format (without the closing "So the answer is X."), and the canonical answer
  (``"(b)"`` for multiple choice, the number or text otherwise). Wording, listing order and
  phrasing come from ``rng`` only, which the program teacher seeds with
  (sampling seed, example id, sample index). A question the solver cannot read raises
  ``UnsolvableQuestion``: the teacher records it as unsolvable, never as a wrong rationale.
- ``grade(question, choices, rationale) -> StepGrade``: which steps of a (student's)
  rationale written in the family's style are right, checked against the solver's own state.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

from serve.core.answers import letter
from serve.core.records import Example


class UnsolvableQuestion(ValueError):
    """The question does not follow the pattern the family's solver reads."""


@dataclass
class StepGrade:
    steps: int  # checkable steps in the reference solution
    steps_right: int  # of those, how many the rationale states correctly (a missing step is wrong)
    final_item: Optional[str]  # what the rationale's last claim says the answer is, normalised; None if unread
    final_right: bool
    claimed_answer: Optional[str] = None  # that claim as a canonical answer ("(b)", "42"), when it maps to one


Solve = Callable[[Example, random.Random], "tuple[str, str]"]
Grade = Callable[[str, Optional[Sequence[str]], str], StepGrade]


@dataclass(frozen=True)
class Family:
    name: str  # the BIG-bench task (top-level name) this family solves
    solve: Solve  # the default rationale style
    grade: Grade
    styles: dict[str, Solve] = field(default_factory=dict)  # other rationale styles, by name, for comparisons

    def solver(self, style: str = "default") -> Solve:
        return self.solve if style == "default" else self.styles[style]


def norm(text: str) -> str:
    """'A blue ball.' -> 'blue ball': how an item reads without article, case, spacing or full stop."""
    text = re.sub(r"\s+", " ", text.strip().rstrip(".").strip().lower())
    return re.sub(r"^(?:the|a|an) ", "", text)


def match_choice(item: str, choices: Sequence[str]) -> int:
    """Index of the answer choice naming ``item`` ("blue ball." matches "a blue ball")."""
    for index, choice in enumerate(choices):
        if norm(choice) == norm(item):
            return index
    raise UnsolvableQuestion(f"no answer choice matches '{item}'")


_OPTION_OPENINGS = ("The options: ", "Options: ", "The choices: ", "Listing the options: ")
_OPTION_CLOSINGS = ("So {choice} is {letter}.", "The result, {choice}, is {letter}.", "Ours is {choice}, and {choice} is {letter}.")


def option_line(choices: Sequence[str], index: int, rng: random.Random) -> str:
    """The last steps of a multiple-choice rationale: every option with its letter, item first
    ("white ball is (c)"), then the result in the same words. A small student finds the letter by
    copying what followed the same words a line before, instead of looking the letter up."""
    names = [c.strip().rstrip(".") for c in choices]
    listing = "; ".join(f"{name} is {letter(i)}" for i, name in enumerate(names))
    closing = rng.choice(_OPTION_CLOSINGS).format(choice=names[index], letter=letter(index))
    return f"{rng.choice(_OPTION_OPENINGS)}{listing}. {closing}"


_QUOTED_OPTION = re.compile(r"\bis (\([a-z]\))")


def quoted_option(rationale: str) -> Optional[str]:
    """The letter the rationale's last option claim names ("... is (c)"), or None."""
    found = _QUOTED_OPTION.findall(rationale)
    return found[-1] if found else None


def join_list(words: Sequence[str], conjunction: str = "and") -> str:
    """['a', 'b', 'c'] -> 'a, b and c'."""
    words = list(words)
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + f" {conjunction} {words[-1]}"


def steps_in_order(reference: Sequence, stated: Sequence, states: Callable[[object, object], bool]) -> int:
    """How many reference steps the stated ones get right in the same order (a longest common
    subsequence under ``states(stated_item, reference_step)``): a missing or wrong step costs that
    step only, and no stated item is credited twice."""
    previous = [0] * (len(reference) + 1)
    for item in stated:
        current = [0]
        for j, step in enumerate(reference):
            current.append(previous[j] + 1 if states(item, step) else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]
