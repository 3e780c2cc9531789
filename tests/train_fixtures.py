"""Small, learnable CoT data for the training/eval tests: questions JSONL + CoT records JSONL.

Every question asks who has more of something; the gold answer is derived from the numbers
(not constant), and each instance gets two correct rationales and one wrong one.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from distill.cot_record import CoTRecord
from serve.core.records import to_dict

NAMES = ["Alice", "Bob", "Claire", "Dave"]


def write_task(folder: Path, n_train: int = 16, n_test: int = 8, seed: int = 0) -> tuple[Path, Path]:
    """(examples.jsonl, cots.jsonl) under ``folder``."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    examples, cots = [], []
    for i in range(n_train + n_test):
        first, second = rng.sample(NAMES, 2)
        a, b = rng.sample(range(1, 10), 2)
        answer = "(a)" if a > b else "(b)"
        winner = first if a > b else second
        example_id = f"more/{i}"
        examples.append({"id": example_id, "question": f"{first} has {a} balls and {second} has {b}. Who has more?",
                         "choices": [first, second], "answer": answer,
                         "split": "train" if i < n_train else "test"})
        if i >= n_train:
            continue
        rationales = [(f"{first} has {a} and {second} has {b}. {max(a, b)} is more than {min(a, b)}.", True),
                      (f"{winner} has {max(a, b)} balls, which is more.", True),
                      (f"{first} and {second} have the same.", False)]
        for index, (text, correct) in enumerate(rationales):
            cots.append(to_dict(CoTRecord(example_id=example_id, sample_index=index, teacher="test", prompt_sha="t",
                                          rationale=text, prediction=answer if correct else None, gold=answer,
                                          correct=correct)))
    examples_file, cots_file = folder / "examples.jsonl", folder / "cots.jsonl"
    examples_file.write_text("".join(json.dumps(e) + "\n" for e in examples))
    cots_file.write_text("".join(json.dumps(c) + "\n" for c in cots))
    return examples_file, cots_file


def train_argv(model_dir: Path, examples: Path, cots: Path, out: Path, *extra: str) -> list[str]:
    return ["--model", str(model_dir), "--data.source", str(examples), "--data.cots", str(cots),
            "--out", str(out), *extra]
