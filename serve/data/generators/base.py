"""What every question generator provides (``gen:FAMILY[/SIZE][?key=value&...]`` sources).

A family is one module under ``serve/data/generators/`` that defines ``GENERATOR = Generator(...)``:

- ``parameters``: every knob of the family with its default (``{"objects": 3, "wording": "bbh"}``);
  a source may set any of them (``gen:tracking_shuffled_objects?objects=9``), an unknown key is an error.
- ``sizes``: named presets of those parameters, the BBH/BIG-bench subtask names
  (``"five_objects": {"objects": 5}``); ``default_size`` is used when the source names none.
- ``draw(rng, params) -> Drawn``: one new question in the task's own format, with its answer
  known by construction (the program teacher solving the text is then an independent check).
  Everything random comes from ``rng``; the ``wording`` parameter picks the sentence frames
  (``"bbh"``, the benchmark's own, is the default everywhere).

Generators import nothing from ``distill``: an edge install (the export gate, the chat's
examples) draws questions without torch.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

from serve.core.answers import letter


@dataclass(frozen=True)
class Drawn:
    """One generated question: text in the task's format, choices, and the canonical answer."""
    question: str
    answer: str  # canonical: "(b)", "yes"/"no", "true"/"false", a number, or text
    choices: Optional[list[str]] = None
    answer_type: str = "text"  # multiple_choice | yes_no | true_false | number | text
    meta: dict[str, Any] = field(default_factory=dict)


Draw = Callable[[random.Random, dict[str, Any]], Drawn]


@dataclass(frozen=True)
class Generator:
    family: str  # the program-teacher family (BIG-bench top-level task name) whose solver reads these questions
    draw: Draw
    parameters: dict[str, Any]
    sizes: dict[str, dict[str, Any]]
    default_size: str
    wordings: tuple[str, ...] = ("bbh",)
    describe: str = ""  # one line for `scotd data list`-style help

    def params_for(self, size: Optional[str], overrides: dict[str, Any]) -> dict[str, Any]:
        return {**self.parameters, **self.sizes[size or self.default_size], **overrides}


def multiple_choice(question: str, options: Sequence[str], correct: int, **meta: Any) -> Drawn:
    return Drawn(question, letter(correct), list(options), "multiple_choice", dict(meta))


NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
                "nineteen", "twenty")


def parse_range(value: Any, lowest: int = 1, highest: Optional[int] = None) -> tuple[int, int]:
    """A count or a range parameter: 7 or '7' -> (7, 7); '2-10' -> (2, 10); ValueError outside lowest..highest."""
    low, _, high = str(value).partition("-")
    bounds = int(low), int(high or low)
    if not lowest <= bounds[0] <= bounds[1] <= (bounds[1] if highest is None else highest):
        within = f"from {lowest}" if highest is None else f"within {lowest}-{highest}"
        raise ValueError(f"'{value}' is not a count or range LO-HI of whole numbers {within}")
    return bounds


def size_name(count: int, noun: str = "objects") -> str:
    """7 -> 'seven_objects' (the BBH/BIG-bench subtask spelling)."""
    return f"{NUMBER_WORDS[count]}_{noun}" if count < len(NUMBER_WORDS) else f"{count}_{noun}"
