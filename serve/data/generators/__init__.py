"""Question generators, one module per program-teacher family (see ``serve.data.generators.base``).

``FAMILIES`` lists the families that have a generator; ``generator(family)`` imports its module on
first use. Adding a family is adding its module and its name here.
"""

from __future__ import annotations

from importlib import import_module

from serve.data.generators.base import Drawn, Generator

FAMILIES = (
    "tracking_shuffled_objects",
    "logical_deduction",
    "arithmetic",
    "object_counting",
    "word_sorting",
    "dyck_languages",
    "navigate",
    "temporal_sequences",
    "boolean_expressions",
    "multistep_arithmetic_two",
    "web_of_lies",
    "geometric_shapes",
)


def generator(family: str) -> Generator:
    if family not in FAMILIES:
        raise KeyError(family)
    return import_module(f"serve.data.generators.{family}").GENERATOR


__all__ = ["FAMILIES", "Drawn", "Generator", "generator"]
