"""Program teachers: rule-based solvers that write correct step-by-step rationales, one module per family.

Each module defines ``FAMILY`` (see ``distill.solvers.base``): a solve function per rationale
style and a step grader. The family list has one owner, ``serve.data.generators.FAMILIES``: a family is
a generator there and a solver module here, of the same name.
``FAMILIES`` maps a BIG-bench task (top-level name) to its family; ``GRADERS`` maps it to the
family's step grader.
"""

from __future__ import annotations

import re
from importlib import import_module

from distill.solvers.base import Family, StepGrade, UnsolvableQuestion, match_choice
from serve.data.generators import FAMILIES as GENERATED_FAMILIES

FAMILIES: dict[str, Family] = {}
for _name in GENERATED_FAMILIES:
    _family = import_module(f"distill.solvers.{_name}").FAMILY
    FAMILIES[_family.name] = _family

GRADERS = {name: family.grade for name, family in FAMILIES.items()}


_BBH_SIZE = re.compile(r"_(?:three|five|seven)_objects$")


def task_family(source: str) -> str:
    """The family of a task or source: 'gen:tracking_shuffled_objects/five_objects',
    'bbh:tracking_shuffled_objects_five_objects' and 'tracking_shuffled_objects/5/ab12' all give
    'tracking_shuffled_objects'."""
    name = source.split(":", 1)[-1].split("/", 1)[0].split("?", 1)[0]
    return _BBH_SIZE.sub("", name)


__all__ = ["FAMILIES", "GRADERS", "Family", "StepGrade", "UnsolvableQuestion", "match_choice",
           "task_family"]
