"""Training examples for the student: prompt/target pairs, a per-epoch CoT draw, and the label mask.

One *item* is a training instance (a question) with one or more targets: every kept
rationale (``cot`` mode) or the gold label alone (``label_only``). Each sequence is
``prompt_ids + target_ids + [eos]`` with labels ``-100`` on every prompt position, so the
loss is on the target only. The prompt is tokenized on its own, exactly as an engine
tokenizes it at inference, so the boundary token is the one the model will really see.

CoT policies:
- ``sample_one`` (SCoTD's default): one kept rationale per instance per epoch, drawn at
  random from a seed derived from (seed, epoch, example id) so every DDP rank and a
  resumed run draw the same one;
- ``all``: every kept rationale is its own training example.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import torch

from distill.cot_record import CoTRecord
from serve.core.records import Example
from serve.core.student_format import render_prompt, target_text
from serve.engines.special_tokens import encode_prompt

IGNORE_INDEX = -100
COT_POLICIES = ("sample_one", "all")


@dataclass
class TrainItem:
    example_id: str
    prompt: str
    targets: list[str]


def build_items(examples: Sequence[Example], cots: Sequence[CoTRecord] | None, mode: str, tokenizer: Any,
                only_correct: bool = True) -> tuple[list[TrainItem], dict[str, int]]:
    """Items in a stable order plus counts (instances used, dropped for lack of a kept CoT)."""
    by_example: dict[str, list[CoTRecord]] = defaultdict(list)
    for record in cots or []:
        by_example[record.example_id].append(record)
    wanted = set(by_example) if cots is not None else None
    items: list[TrainItem] = []
    stats = {"instances": 0, "without_kept_cot": 0, "targets": 0}
    for example in examples:
        if wanted is not None and example.id not in wanted:
            continue
        prompt = render_prompt(example.question, example.choices, tokenizer=tokenizer)
        if mode == "label_only":
            targets = [target_text(example.answer, mode="label_only")]
        else:
            kept = sorted((r for r in by_example[example.id] if r.correct or not only_correct),
                          key=lambda r: r.sample_index)
            targets = list(dict.fromkeys(target_text(example.answer, r.rationale, "cot")
                                         for r in kept if r.rationale.strip()))
            if not targets:
                stats["without_kept_cot"] += 1
                continue
        items.append(TrainItem(example.id, prompt, targets))
        stats["instances"] += 1
        stats["targets"] += len(targets)
    return items, stats


def encode(tokenizer: Any, prompt: str, target: str, max_length: int) -> Optional[dict[str, list[int]]]:
    """Token ids and labels for one pair; None when the prompt alone fills ``max_length``."""
    prompt_ids = encode_prompt(tokenizer, prompt)  # the engines' BOS rule: trained on what it is served
    joined = target if prompt[-1:].isspace() else " " + target
    target_ids = tokenizer(joined, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    if len(prompt_ids) >= max_length:
        return None
    target_ids = target_ids[: max_length - len(prompt_ids)]
    return {"input_ids": prompt_ids + target_ids,
            "labels": [IGNORE_INDEX] * len(prompt_ids) + target_ids}


class StudentDataset(torch.utils.data.Dataset):
    """Tokenized items; ``set_epoch`` changes which rationale ``sample_one`` returns."""

    def __init__(self, items: Sequence[TrainItem], tokenizer: Any, policy: str = "sample_one", seed: int = 0,
                 max_length: int = 512, fetch_log: Path | None = None):
        if policy not in COT_POLICIES:
            raise ValueError(f"unknown cot policy '{policy}'; expected one of {COT_POLICIES}")
        self.policy, self.seed, self.epoch = policy, seed, 0
        self.fetch_log = fetch_log
        self.encoded: list[tuple[str, list[dict[str, list[int]]]]] = []
        self.truncated_prompts = 0
        for item in items:
            pairs = [e for e in (encode(tokenizer, item.prompt, t, max_length) for t in item.targets) if e]
            self.truncated_prompts += len(item.targets) - len(pairs)
            if pairs:
                self.encoded.append((item.example_id, pairs))
        self.flat = [(i, j) for i, (_, pairs) in enumerate(self.encoded) for j in range(len(pairs))]

    def _draw(self, example_id: str, count: int, epoch: Optional[int] = None) -> int:
        return random.Random(f"{self.seed}:{self.epoch if epoch is None else epoch}:{example_id}").randrange(count)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.encoded) if self.policy == "sample_one" else len(self.flat)

    def __getitem__(self, index: int) -> dict[str, list[int]]:
        if self.policy == "sample_one":
            example_id, pairs = self.encoded[index]
            choice = self._draw(example_id, len(pairs))
        else:
            item_index, choice = self.flat[index]
            example_id, pairs = self.encoded[item_index]
        if self.fetch_log is not None:
            with self.fetch_log.open("a") as handle:
                handle.write(json.dumps({"epoch": self.epoch, "example_id": example_id, "target": choice}) + "\n")
        return pairs[choice]

    def lengths(self, epoch: Optional[int] = None) -> list[int]:
        """Sequence length of each item as __getitem__ returns it in ``epoch`` (default: the current one)."""
        if self.policy == "sample_one":
            return [len(pairs[self._draw(example_id, len(pairs), epoch)]["input_ids"])
                    for example_id, pairs in self.encoded]
        return [len(self.encoded[i][1][j]["input_ids"]) for i, j in self.flat]

    def token_count(self) -> int:
        return sum(len(p["input_ids"]) for _, pairs in self.encoded for p in pairs)


class PadCollator:
    """Right-pads a batch; padded positions get attention 0 and label -100."""

    def __init__(self, pad_token_id: int):
        self.pad_token_id = pad_token_id

    def __call__(self, batch: list[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
        width = max(len(row["input_ids"]) for row in batch)
        ids = torch.full((len(batch), width), self.pad_token_id, dtype=torch.long)
        labels = torch.full((len(batch), width), IGNORE_INDEX, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, example in enumerate(batch):
            n = len(example["input_ids"])
            ids[row, :n] = torch.tensor(example["input_ids"])
            labels[row, :n] = torch.tensor(example["labels"])
            mask[row, :n] = 1
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def split_dev(items: list[TrainItem], fraction: float, seed: int) -> tuple[list[TrainItem], list[TrainItem]]:
    """Hold out a seeded fraction of instances (with their first target) for the eval loss."""
    if fraction <= 0 or len(items) < 2:
        return items, []
    order = list(range(len(items)))
    random.Random(f"dev:{seed}").shuffle(order)
    n_dev = max(1, min(len(items) - 1, round(len(items) * fraction)))
    dev_ids = set(order[:n_dev])
    train = [item for i, item in enumerate(items) if i not in dev_ids]
    dev = [TrainItem(item.example_id, item.prompt, item.targets[:1]) for i, item in enumerate(items) if i in dev_ids]
    return train, dev
