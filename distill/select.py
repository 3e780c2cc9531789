"""``scotd select``: choose which teacher rationales the student trains on.

Per instance: keep the records that pass ``filter`` (correct / all / incorrect for
ablations), drop exact duplicate rationales, drop the instance if it fails the
instance-level thresholds, then downsample to ``per_instance`` with a strategy:

- ``random``: a seeded uniform draw (SCoTD's default);
- ``diverse``: greedy farthest-point selection under Jaccard distance between the
  sets of word unigrams and bigrams of each rationale. Teacher samples of one question
  mostly differ in wording and in which facts they use, which shows up as n-gram
  overlap; Jaccard needs no model, is deterministic, and farthest-point selection
  (start at a seeded random rationale, repeatedly add the one whose nearest kept
  neighbour is farthest) is the classic 2-approximation of max-min dispersion;
- ``likelihood``: highest teacher log-probability per token (length-normalised, so
  short rationales are not favoured just for being short).

The output is the kept CoT records (same schema) as JSONL, written atomically, plus a
stats line (also saved as ``<out>.stats.json``).
"""

from __future__ import annotations

import json
import random
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal

from distill.cot_record import CoTRecord
from serve.core.config import option, parse_args
from serve.core.errors import UserError
from serve.core.records import read_records, to_dict


@dataclass
class SelectConfig:
    input: str = option("", "CoT records JSONL written by scotd sample", aliases=("--in",))
    out: str = option("", "training set JSONL to write (CoT records)")
    filter: Literal["correct", "all", "incorrect"] = option("correct", "which rationales qualify (incorrect/all: ablations)")
    per_instance: int = option(0, "keep at most K rationales per instance (0 = every qualifying one)")
    strategy: Literal["random", "diverse", "likelihood"] = option("random", "how to pick K when more qualify")
    dedupe: bool = option(True, "drop exact duplicate rationales within an instance before picking")
    min_teacher_accuracy: float = option(0.0, "drop instances whose fraction of correct samples is below this")
    max_teacher_accuracy: float = option(1.0, "drop instances whose fraction of correct samples is above this")
    min_kept: int = option(1, "drop instances left with fewer than this many rationales")
    seed: int = option(0, "seed of the random and diverse strategies")


FILTERS: dict[str, Callable[[CoTRecord], bool]] = {
    "correct": lambda r: r.correct,
    "all": lambda r: True,
    "incorrect": lambda r: not r.correct,
}


def _ngrams(text: str) -> set[str]:
    words = re.findall(r"[a-z0-9]+", text.lower())
    return set(words) | {f"{a} {b}" for a, b in zip(words, words[1:])}


def jaccard_distance(a: set[str], b: set[str]) -> float:
    union = len(a | b)
    return 1.0 - len(a & b) / union if union else 0.0


def pick_random(records: list[CoTRecord], k: int, rng: random.Random) -> list[CoTRecord]:
    return rng.sample(records, k)


def pick_diverse(records: list[CoTRecord], k: int, rng: random.Random) -> list[CoTRecord]:
    grams = [_ngrams(r.rationale) for r in records]
    chosen = [rng.randrange(len(records))]
    nearest = [jaccard_distance(grams[i], grams[chosen[0]]) for i in range(len(records))]
    while len(chosen) < k:
        best = max((i for i in range(len(records)) if i not in chosen), key=lambda i: (nearest[i], -i))
        chosen.append(best)
        nearest = [min(nearest[i], jaccard_distance(grams[i], grams[best])) for i in range(len(records))]
    return [records[i] for i in chosen]


def pick_likelihood(records: list[CoTRecord], k: int, rng: random.Random) -> list[CoTRecord]:
    if any(r.logprob is None for r in records):
        raise UserError(f"strategy likelihood needs teacher logprobs, but instance '{records[0].example_id}' has "
                        "records without one; sample with teacher.backend hf or teacher.logprobs true, "
                        "or use --strategy random|diverse")
    return sorted(records, key=lambda r: (-r.logprob / max(1, r.tokens), r.sample_index))[:k]


STRATEGIES: dict[str, Callable[[list[CoTRecord], int, random.Random], list[CoTRecord]]] = {
    "random": pick_random, "diverse": pick_diverse, "likelihood": pick_likelihood}


def select(records: list[CoTRecord], cfg: SelectConfig) -> tuple[list[CoTRecord], dict[str, Any]]:
    by_instance: dict[str, list[CoTRecord]] = defaultdict(list)
    for record in records:
        by_instance[record.example_id].append(record)
    kept: list[CoTRecord] = []
    dropped = {"accuracy_threshold": 0, "too_few_kept": 0}
    for example_id, group in by_instance.items():
        group.sort(key=lambda r: r.sample_index)
        accuracy = sum(r.correct for r in group) / len(group)
        if not cfg.min_teacher_accuracy <= accuracy <= cfg.max_teacher_accuracy:
            dropped["accuracy_threshold"] += 1
            continue
        candidates = [r for r in group if FILTERS[cfg.filter](r) and r.rationale.strip()]
        if cfg.dedupe:
            candidates = list({" ".join(r.rationale.split()): r for r in reversed(candidates)}.values())[::-1]
        if cfg.per_instance and len(candidates) > cfg.per_instance:
            rng = random.Random(f"{cfg.seed}:{example_id}")
            candidates = sorted(STRATEGIES[cfg.strategy](candidates, cfg.per_instance, rng),
                                key=lambda r: r.sample_index)
        if len(candidates) < max(1, cfg.min_kept):
            dropped["too_few_kept"] += 1
            continue
        kept.extend(candidates)
    instances_kept = len({r.example_id for r in kept})
    stats = {"records_in": len(records), "instances_in": len(by_instance), "records_kept": len(kept),
             "instances_kept": instances_kept, "instances_dropped": dropped,
             "kept_per_instance": round(len(kept) / instances_kept, 2) if instances_kept else 0.0,
             "filter": cfg.filter, "strategy": cfg.strategy, "per_instance": cfg.per_instance}
    return kept, stats


def run(cfg: SelectConfig) -> dict[str, Any]:
    if not cfg.input or not cfg.out:
        raise UserError("select needs --in COTS.jsonl (from scotd sample) and --out TRAIN.jsonl")
    if cfg.per_instance < 0:
        raise UserError(f"--per-instance must be >= 0 (0 keeps all), got {cfg.per_instance}")
    if Path(cfg.input).resolve() == Path(cfg.out).resolve():
        raise UserError("--out must differ from --in: select never overwrites the teacher samples")
    records = read_records(cfg.input, CoTRecord)
    kept, stats = select(records, cfg)
    out = Path(cfg.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    partial.write_text("".join(json.dumps(to_dict(r), ensure_ascii=False) + "\n" for r in kept))
    partial.replace(out)
    stats["out"] = str(out)
    out.with_name(out.name.removesuffix(".jsonl") + ".stats.json").write_text(json.dumps(stats, indent=2) + "\n")
    return stats


def main(argv: list[str]) -> int:
    cfg = parse_args(SelectConfig, argv, prog="scotd select",
                     description="Filter and downsample teacher rationales into the student's training set.")
    stats = run(cfg)
    print(f"[scotd select] kept {stats['records_kept']} of {stats['records_in']} rationales for "
          f"{stats['instances_kept']} of {stats['instances_in']} instances ({stats['kept_per_instance']} per "
          f"instance; filter {stats['filter']}, strategy {stats['strategy']}); dropped {stats['instances_dropped']}"
          f" -> {stats['out']}")
    return 0
