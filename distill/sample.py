"""``scotd sample``: N chain-of-thought rationales per training question from a teacher.

Recipe, top to bottom: load the questions, build one few-shot prompt per question,
find which ``(example_id, sample_index)`` keys the output file already holds, ask the
teacher for the missing ones, and append every batch of records to the JSONL as it
arrives (flushed and fsynced). A killed run loses at most the batch in flight; the
rerun repairs a torn last line and asks only for the missing keys. A summary
(parse rate, teacher accuracy, pass@N, tokens) closes the run and is saved next to
the output as ``<out>.summary.json``; the resolved config goes to ``<out>.config.yaml``.
"""

from __future__ import annotations

import json
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from distill.cot_record import CoTRecord, cot_key
from distill.prompting import build_prompt, prompt_set_for
from distill.teachers import load_teacher
from distill.teachers.base import Job, TeacherConfig
from serve.core.answers import grade
from serve.core.config import option, parse_args, read_yaml, save_yaml, to_dict
from serve.core.errors import UserError
from serve.core.records import Example, JsonlStore, read_jsonl
from serve.data.sources import QuestionSource
from serve.engines.interface import SamplingParams


DEFAULT_OUT = "runs/cots.jsonl"


@dataclass
class PromptConfig:
    """The few-shot teacher prompt."""
    set: str = option("auto", "prompt set: auto (by answer type), a name in distill/prompts, or a YAML path")
    rationalize: bool = option(False, "show the teacher the gold answer (rationalization; off in SCoTD)")


@dataclass
class SampleConfig:
    data: QuestionSource = option(default_factory=lambda: QuestionSource(source="gen:tracking_shuffled_objects/three_objects"),
                                  help="the questions to sample rationales for")
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    sampling: SamplingParams = option(default_factory=lambda: SamplingParams(n=30, temperature=1.0, max_new_tokens=128, seed=0),
                                      help="rationales per question (SCoTD: n=30) and how they are drawn")
    prompt: PromptConfig = field(default_factory=PromptConfig)
    out: str = option("", f"CoT records JSONL (appended to; a rerun resumes it); '': {DEFAULT_OUT} "
                          "(under run.dir in a recipe)")


# Settings that change what a sample is; the rest (n, URL, concurrency, retries) may change on a rerun.
SAMPLE_DEFINING_KEYS = {"teacher": {"backend", "model", "api", "prompt_style", "rationale_style"},
                        "prompt": {"set", "rationalize"},
                        "sampling": {"temperature", "top_p", "top_k", "max_new_tokens", "stop", "seed"}}


def sidecar(out: Path, suffix: str) -> Path:
    return out.with_name(out.name.removesuffix(".jsonl") + suffix)


def check_resume_compatible(cfg: SampleConfig, out: Path) -> None:
    """Refuse to mix samples from another teacher, prompt or sampling setup into one file."""
    saved_path = sidecar(out, ".config.yaml")
    if not (out.exists() and saved_path.is_file()):
        return
    saved, current = read_yaml(saved_path), to_dict(cfg)
    for section, keys in SAMPLE_DEFINING_KEYS.items():
        old = {k: v for k, v in (saved.get(section) or {}).items() if k in keys}
        new = {k: v for k, v in current[section].items() if k in keys}
        changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        if changed:
            raise UserError(f"{out} was sampled with other {section} settings ({', '.join(f'{section}.{k}' for k in changed)}"
                            f" differ from {saved_path}); use a new --out, or delete the file to start over")


def make_record(example: Example, index: int, teacher: str, prompt_sha: str, sample) -> dict[str, Any]:
    prediction, correct = grade(sample.text, example)
    return CoTRecord(example_id=example.id, sample_index=index, teacher=teacher, prompt_sha=prompt_sha,
                     rationale=sample.text, prediction=prediction, gold=example.answer, correct=correct, logprob=sample.logprob,
                     tokens=sample.tokens, finish_reason=sample.finish_reason).__dict__


def summarize(out: Path, examples: list[Example], n: int) -> dict[str, Any]:
    """Statistics over the records of ``examples`` in ``out`` (this run's and earlier runs')."""
    wanted = {e.id for e in examples}
    per_example: dict[str, list[dict]] = defaultdict(list)
    if out.exists():
        for _, record in read_jsonl(out):
            if record["example_id"] in wanted and record["sample_index"] < n:
                per_example[record["example_id"]].append(record)
    records = [r for rs in per_example.values() for r in rs]
    total = max(1, len(records))
    return {
        "instances": len(examples),
        "instances_complete": sum(1 for e in examples if len(per_example[e.id]) == n),
        "samples": len(records),
        "parse_rate": sum(r["prediction"] is not None for r in records) / total,
        "teacher_accuracy": sum(bool(r["correct"]) for r in records) / total,
        f"pass@{n}": sum(any(r["correct"] for r in rs) for rs in per_example.values()) / max(1, len(examples)),
        "tokens": sum(int(r.get("tokens") or 0) for r in records),
        "truncated": sum(r.get("finish_reason") == "length" for r in records),
        # questions a program teacher could not read: reported by id, never given a wrong rationale
        "unsolvable": sorted({r["example_id"] for r in records
                              if str(r.get("finish_reason") or "").startswith("unsolvable")}),
    }


def run(cfg: SampleConfig) -> dict[str, Any]:
    if cfg.sampling.n < 1:
        raise UserError(f"sampling.n must be >= 1, got {cfg.sampling.n}")
    out = Path(cfg.out or DEFAULT_OUT)
    check_resume_compatible(cfg, out)
    examples = cfg.data.load()
    if not examples:
        raise UserError(f"no questions in '{cfg.data.source}' split {cfg.data.split}; check data.source and data.split")
    store = JsonlStore(out, cot_key)
    save_yaml(cfg, sidecar(out, ".config.yaml"))

    prompt_sets: dict = {}
    jobs, missing = [], {}
    for example in examples:
        todo = [i for i in range(cfg.sampling.n) if (example.id, i) not in store]
        if todo:
            prompt = build_prompt(example, prompt_set_for(example, cfg.prompt.set, prompt_sets), cfg.prompt.rationalize)
            jobs.append(Job(example.id, prompt, len(todo), example=example, indices=tuple(todo)))
            missing[example.id] = todo
    by_id = {e.id: e for e in examples}
    todo_total = sum(len(v) for v in missing.values())
    print(f"[scotd sample] {len(examples)} questions x {cfg.sampling.n} samples: {len(store)} records on disk, "
          f"{todo_total} to sample into {out}", file=sys.stderr)

    started, written = time.time(), 0
    usage = None
    if jobs:
        teacher = load_teacher(cfg.teacher, cfg.sampling)
        try:
            with tqdm(total=todo_total, unit="sample", desc="sampling", dynamic_ncols=True) as bar:
                for job, samples in teacher.sample(jobs):
                    indices = missing[job.example_id]
                    taken, missing[job.example_id] = indices[:len(samples)], indices[len(samples):]
                    example = by_id[job.example_id]
                    written += store.append(make_record(example, i, teacher.name, job.prompt.sha, sample)
                                            for i, sample in zip(taken, samples))
                    bar.update(len(taken))
                    bar.set_postfix(tokens=teacher.usage.completion_tokens, refresh=False)
        finally:
            store.close()
            teacher.close()
        usage = teacher.usage
    elapsed = time.time() - started
    summary = {"out": str(out), **summarize(out, examples, cfg.sampling.n), "written_this_run": written,
               "seconds": round(elapsed, 2), "samples_per_s": round(written / elapsed, 3) if elapsed > 0 else None}
    if usage is not None:
        summary["usage"] = {"requests": usage.requests, "retries": usage.retries, "prompt_tokens": usage.prompt_tokens,
                            "completion_tokens": usage.completion_tokens, "errors": usage.errors}
    sidecar(out, ".summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def format_summary(summary: dict[str, Any]) -> str:
    pass_key = next(k for k in summary if k.startswith("pass@"))
    return (f"instances {summary['instances']} (complete {summary['instances_complete']}), samples {summary['samples']}"
            f" (+{summary['written_this_run']} this run), parse rate {summary['parse_rate']:.1%}, teacher accuracy "
            f"{summary['teacher_accuracy']:.1%}, {pass_key} {summary[pass_key]:.1%}, tokens {summary['tokens']}, "
            f"truncated {summary['truncated']}, {summary['seconds']} s"
            + (f"; unsolvable (skipped): {len(summary['unsolvable'])}, e.g. {', '.join(summary['unsolvable'][:5])}"
               if summary.get("unsolvable") else ""))


def main(argv: list[str]) -> int:
    cfg = parse_args(SampleConfig, argv, prog="scotd sample",
                     description="Sample N chain-of-thought rationales per question from a teacher (resumable).")
    summary = run(cfg)
    print(f"[scotd sample] {format_summary(summary)}")
    return 0
