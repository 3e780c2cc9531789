"""``scotd data list``, ``scotd data show SOURCE`` and ``scotd data overlap SOURCE``: which questions exist,
what they look like, and how many of a source's questions equal a BBH item (the contamination check)."""

from __future__ import annotations

import os
import textwrap
from dataclasses import dataclass
from typing import Literal, Optional

from serve.core.config import option, parse_args
from serve.data import bbh
from serve.data.generators import FAMILIES, generator
from serve.data.sources import QuestionSource


@dataclass
class DataConfig:
    action: Literal["list", "show", "overlap"] = option(
        "list", "list: generators and BBH tasks; show: a few questions of a source; overlap: how many questions of "
                "a source equal a BBH item", positional=True)
    source: Optional[str] = option(None, "with show/overlap: any data source (gen:FAMILY[/SIZE], bbh:TASK, a file, "
                                         "a mixture A + B, ...)", positional=True)
    split: str = option("test", "with show/overlap: which split (overlap of training data: --split train)")
    limit: Optional[int] = option(None, "how many questions (show: 3 when unset; overlap: every one when unset)")
    seed: int = option(0, "with show: seed of the split and the subset")


def list_sources() -> str:
    blocks = []
    for family in FAMILIES:
        gen = generator(family)
        sizes = ", ".join(s + (" (default)" if s == gen.default_size else "") for s in gen.sizes)
        params = ", ".join(f"{k}={v}" for k, v in gen.parameters.items() if k != "wording")
        lines = [f"gen:{family}: {gen.describe}", f"sizes (gen:{family}/SIZE): {sizes}",
                 f"parameters (?key=value): {params}; wording: {' | '.join(gen.wordings)}"]
        blocks.append("\n".join(textwrap.fill(line, 110, initial_indent="  " * bool(i), subsequent_indent="    ")
                                for i, line in enumerate(lines)))
    where = os.environ.get("SCOTD_BBH_DIR") or "the cache, else a download at the pinned commit (SCOTD_BBH_DIR to set)"
    tasks = textwrap.fill(", ".join(f"bbh:{task}" for task in bbh.TASKS), 110, initial_indent="  ",
                          subsequent_indent="  ")
    tasks += "".join(f"\n  bbh:{name}: its {len(files)} {name} files as one mixture" for name, files in bbh.GROUPS.items())
    return ("Generated questions, any number, made here (the default training data):\n\n" + "\n\n".join(blocks)
            + f"\n\nBIG-Bench Hard, evaluation only (split test), read from {where}:\n{tasks}\n")


def show(cfg: DataConfig) -> str:
    examples = QuestionSource(cfg.source or "", cfg.split, cfg.limit, cfg.seed).load()
    blocks = []
    for example in examples:
        options = "".join(f"\n  ({chr(97 + i)}) {c}" for i, c in enumerate(example.choices or []))
        blocks.append(f"[{example.id}] ({example.answer_type}, split {example.split})\n{example.question}{options}\n"
                      f"answer: {example.answer}")
    return "\n\n".join(blocks) + "\n"


def overlap(cfg: DataConfig) -> str:
    """Exact matches (whitespace folded, case ignored) between a source's questions and every BBH file, read
    from the files themselves (not the shipped keys), one line per BBH task with any match, then the total."""
    questions = QuestionSource(cfg.source or "", cfg.split, cfg.limit, cfg.seed).load()
    keys = {bbh.question_key(e.question) for e in questions}
    lines, total = [], 0
    for task in bbh.TASKS:
        matches = sum(bbh.question_key(e.question) in keys for e in bbh.load_task(task))
        total += matches
        if matches:
            lines.append(f"  bbh:{task}: {matches}")
    return "\n".join([f"{len(questions)} questions of {cfg.source} (split {cfg.split}) against the {len(bbh.TASKS)} BBH "
                      f"files: {total} exact matches", *lines]) + "\n"


ACTIONS = {"list": lambda cfg: list_sources(), "show": show, "overlap": overlap}


def main(argv: list[str]) -> int:
    cfg = parse_args(DataConfig, argv, prog="scotd data",
                     description="List the question sources scotd makes or reads, or show a few questions of one.")
    if cfg.action != "list" and not cfg.source:
        from serve.core.errors import UserError
        raise UserError(f"scotd data {cfg.action} needs a source, e.g. scotd data {cfg.action} "
                        "gen:tracking_shuffled_objects/five_objects")
    if cfg.action == "show" and cfg.limit is None:
        cfg.limit = 3
    print(ACTIONS[cfg.action](cfg), end="")
    return 0
