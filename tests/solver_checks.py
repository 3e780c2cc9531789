"""Checks every program-teacher family must pass, shared by the tests/test_solver_*.py files.

BBH files come from ``SCOTD_BBH_DIR`` (``scripts/test.sh`` and CI point it at ``../shared/bbh/bbh``);
``bbh_task`` skips, saying why, where no folder is set. Generated questions need nothing.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import time
from pathlib import Path
from typing import Any, Optional

import pytest

from distill.solvers.base import Family, UnsolvableQuestion
from serve.core.records import Example
from serve.data.bbh import question_key
from serve.data.generated import bbh_question_keys
from serve.data.generators.base import Generator
from serve.data.sources import load_examples


def accepted(example: Example) -> set[str]:
    return {example.answer, *example.meta.get("targets", [])}


def bbh_task(task: str) -> list[Example]:
    """Every example of one BBH file, or a skip naming SCOTD_BBH_DIR."""
    if not os.environ.get("SCOTD_BBH_DIR"):
        pytest.skip("SCOTD_BBH_DIR is unset: the BBH files are evaluation data read from a folder "
                    "(scripts/test.sh sets it to ../shared/bbh/bbh when that exists)")
    from serve.data.bbh import load_task
    return load_task(task)


def generated(source: str, limit: int = 200, split: str = "train", seed: int = 0) -> list[Example]:
    return load_examples(source, split=split, limit=limit, seed=seed)


def solve_all(family: Family, examples: list[Example], samples: int = 1) -> tuple[int, list[str], list[str]]:
    """(examples solved right, ids answered wrong, ids the solver could not read)."""
    right, wrong, unreadable = 0, [], []
    for example in examples:
        try:
            answers = {family.solve(example, random.Random(f"0|{example.id}|{k}"))[1] for k in range(samples)}
        except UnsolvableQuestion:
            unreadable.append(example.id)
            continue
        if answers <= accepted(example):
            right += 1
        else:
            wrong.append(example.id)
    return right, wrong, unreadable


def solve_bbh_task(family: Family, task: str, samples: int = 1) -> tuple[int, list[str], list[str]]:
    return solve_all(family, bbh_task(task), samples)


def bbh_task_is_solved(family: Family, task: str, samples: int = 1) -> list[Example]:
    """Assert that every one of BBH's 250 ``task`` items is answered right in each of ``samples``
    draws and none is unreadable; return the items."""
    examples = bbh_task(task)
    right, wrong, unreadable = solve_all(family, examples, samples)
    assert (wrong, unreadable) == ([], [])
    assert right == len(examples) == 250
    return examples


def generated_are_solved_distinct_and_new(family: Family, examples: list[Example], count: int,
                                          task: Optional[str] = None) -> set[str]:
    """Assert that there are ``count`` generated questions, every one answered right, no two with
    the same ``question_key`` and none a BBH item (``bbh_question_keys``: BBH's items and its CoT
    prompts' questions; with ``task`` and SCOTD_BBH_DIR set, also that task's file read afresh).
    Return their keys."""
    assert len(examples) == count
    right, wrong, unreadable = solve_all(family, examples)
    assert (right, wrong, unreadable) == (count, [], [])
    keys = {question_key(e.question) for e in examples}
    assert len(keys) == count
    assert not keys & bbh_question_keys()
    if task is not None and os.environ.get("SCOTD_BBH_DIR"):
        assert not keys & {question_key(e.question) for e in bbh_task(task)}
    return keys


def distinct_draws(generator: Generator, task: str, size: str, count: int, max_draws: int,
                   overrides: Optional[dict[str, Any]] = None) -> list[Example]:
    """``count`` distinct generated questions that are not BBH items, as the gen: source keeps them,
    from at most ``max_draws`` draws straight from ``generator`` (fails if that is too few)."""
    overrides = overrides or {}
    params = generator.params_for(size, overrides)
    rng = random.Random(f"test|{size}|{sorted(overrides.items())}")
    banned, kept = bbh_question_keys(), {}
    for _ in range(max_draws):
        if len(kept) == count:
            break
        question = generator.draw(rng, params)
        key = question_key(question.question)
        if key not in banned and key not in kept:
            kept[key] = Example(f"{task}/{size}/{key[:12]}", task, question.question, question.answer,
                                question.choices, "train", dict(question.meta), question.answer_type)
    assert len(kept) == count, f"only {len(kept)} distinct questions of size {size}"
    return list(kept.values())


def indexed_draws(generator: Generator, task: str, size: str, count: int) -> list[Example]:
    """``count`` distinct questions straight from ``generator``, draw i seeded "task|size|i" and
    named "task/size/i"; exact repeats are skipped (as gen: does), at most ``2 * count`` draws."""
    params = generator.params_for(size, {})
    examples, seen = [], set()
    for index in range(count * 2):
        drawn = generator.draw(random.Random(f"{task}|{size}|{index}"), params)
        if drawn.question in seen:
            continue
        seen.add(drawn.question)
        examples.append(Example(f"{task}/{size}/{index}", task, drawn.question, drawn.answer, drawn.choices, "train",
                                drawn.meta, drawn.answer_type))
        if len(examples) == count:
            break
    return examples


def draws_per_second(generator: Generator, size: str, draws: int, seed: object) -> float:
    """How many questions of ``size`` the generator draws a second, timed over ``draws`` draws."""
    params, rng = generator.params_for(size, {}), random.Random(seed)
    start = time.perf_counter()
    for _ in range(draws):
        generator.draw(rng, params)
    return draws / (time.perf_counter() - start)


def each_rationale(family: Family, examples: list[Example], check) -> None:
    """``check(example, rationale)`` on the teacher's rationale for every example, seeded by its id."""
    for example in examples:
        check(example, family.solve(example, random.Random(example.id))[0])


def rewrite_chain(rationale: str) -> list[str]:
    """The states of a rationale written by ``distill.solvers.expression_steps``: the " = "-joined
    run after the opening and the lead, without the closing."""
    states = rationale.split(" = ")
    first = states[0].rsplit(". ", 1)[-1]
    for lead in ("Step by step: ", "Rewriting: ", "We get ", "Evaluating: ", "So "):
        first = first.removeprefix(lead)
    states[0] = first
    states[-1] = states[-1].split(".")[0]
    return states


def distinct_texts(family: Family, example: Example, samples: int = 30) -> int:
    """How many different rationales the program teacher writes for one question in ``samples`` draws."""
    return len({family.solve(example, random.Random(f"0|{example.id}|{k}"))[0] for k in range(samples)})


def teacher_gets_full_marks(family: Family, examples: list[Example], seeds: int = 5) -> None:
    for example in examples:
        for seed in range(seeds):
            rationale, answer = family.solve(example, random.Random(f"{seed}|{example.id}|0"))
            grade = family.grade(example.question, example.choices, rationale)
            assert grade.steps > 0, example.id
            assert grade.steps_right == grade.steps and grade.final_right, (example.id, rationale, grade)
            if grade.claimed_answer is not None:
                assert grade.claimed_answer == answer, (example.id, rationale, grade)


def load_script(name: str):
    """A module of scripts/ (not a package), loaded from its file: the step-error scripts read a solver's
    rationales, so their tests live beside the solver checks."""
    path = Path(__file__).resolve().parent.parent / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_predictions(folder: Path, rows: list[dict]) -> Path:
    """``folder/predictions.jsonl`` as ``scotd eval`` writes it, one row a dict."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "predictions.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return folder
