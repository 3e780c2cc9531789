"""``scotd data list`` and ``scotd data show SOURCE``: which questions exist, and what they look like."""

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
    action: Literal["list", "show"] = option("list", "list: generators and BBH tasks; show: a few questions of a source",
                                             positional=True)
    source: Optional[str] = option(None, "with show: any data source (gen:FAMILY[/SIZE], bbh:TASK, a file, ...)",
                                   positional=True)
    split: str = option("test", "with show: which split")
    limit: int = option(3, "with show: how many questions")
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


def main(argv: list[str]) -> int:
    cfg = parse_args(DataConfig, argv, prog="scotd data",
                     description="List the question sources scotd makes or reads, or show a few questions of one.")
    if cfg.action == "show" and not cfg.source:
        from serve.core.errors import UserError
        raise UserError("scotd data show needs a source, e.g. scotd data show gen:tracking_shuffled_objects/five_objects")
    print(list_sources() if cfg.action == "list" else show(cfg), end="")
    return 0
