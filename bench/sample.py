"""``scotd bench sample``: batched ``hf`` teacher sampling vs one sample at a time, side by side.

Both arms use the same loaded model, the same few-shot prompts and the same
sampling settings, in one process: the batched arm is the ``hf`` backend as
``scotd sample`` runs it (several prompts x ``num_return_sequences`` per
``generate`` call); the baseline asks for one sample per call. Output: JSON
(``docs/bench/sample.json``) and a markdown table in the sampling section of
``docs/BENCHMARKS.md``.
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass

from distill.prompting import build_prompt, prompt_set_for
from distill.teachers.base import Job, TeacherConfig
from bench.report import publish
from serve.core.config import option, parse_args
from serve.data.sources import QuestionSource
from serve.engines.interface import SamplingParams



@dataclass
class BenchSampleConfig:
    model: str = option("smollm2-135m-instruct", "teacher model: registry name or folder")
    data: QuestionSource = option(default_factory=lambda: QuestionSource(source="gen:navigate", limit=4),
                                  help="the questions the few-shot prompts are built from")
    sampling: SamplingParams = option(
        default_factory=lambda: SamplingParams(n=8, max_new_tokens=24, temperature=0.7, seed=0),
        help="samples per question; max_new_tokens is short: the bench measures throughput, not quality")
    batch_size: int = option(16, "batched arm: sequences per generate call (rounds of batch_size / n prompts)")
    without_shared_prefill: bool = option(True, "also time the batched arm with share_prefill off (where the gain comes from)")
    json_out: str = option("docs/bench/sample.json", "where the JSON result goes (relative to the project root; '': none)")
    markdown: str = option("docs/BENCHMARKS.md", "markdown file whose sampling section is rewritten ('': none)")


def _summary(name: str, samples: list, seconds: float) -> dict:
    tokens = sum(s.tokens for s in samples)
    return {"arm": name, "samples": len(samples), "generated_tokens": tokens, "seconds": round(seconds, 3),
            "samples_per_s": round(len(samples) / seconds, 4), "tokens_per_s": round(tokens / seconds, 3)}


def interleaved(arms: dict, rounds: list[list[Job]]) -> list[dict]:
    """Run every arm on every round of jobs, rotating the order per round, so that a change in
    machine load (shared CPUs) hits all arms alike instead of whichever arm happens to run last."""
    seconds = {name: 0.0 for name in arms}
    samples: dict[str, list] = {name: [] for name in arms}
    names = list(arms)
    for index, jobs in enumerate(rounds):
        for name in names[index % len(names):] + names[:index % len(names)]:
            started = time.perf_counter()
            got = arms[name](jobs)
            seconds[name] += time.perf_counter() - started
            assert len(got) == sum(j.n for j in jobs), f"{name}: {len(got)} samples"
            samples[name] += got
    return [_summary(name, samples[name], seconds[name]) for name in names]


def run(cfg: BenchSampleConfig) -> dict:
    import torch

    from distill.teachers.hf import HFTeacher

    examples = cfg.data.load()
    prompt_sets: dict = {}
    jobs = [Job(e.id, build_prompt(e, prompt_set_for(e, "auto", prompt_sets)), cfg.sampling.n)
            for e in examples]
    teacher = HFTeacher(TeacherConfig(backend="hf", model=cfg.model, batch_size=cfg.batch_size), cfg.sampling)
    load_start = os.getloadavg()[0]
    prompt_tokens = [len(teacher.tokenizer(teacher.render(j))["input_ids"]) for j in jobs]
    teacher.generate([teacher.render(jobs[0])], 2)  # warm-up: first-call allocations, kernel selection

    def batched(share: bool):
        def arm(round_jobs: list[Job]) -> list:
            teacher.share_prefill = share
            return [s for _, samples in teacher.sample(round_jobs) for s in samples]
        return arm

    def one_at_a_time(round_jobs: list[Job]) -> list:
        return [s for job in round_jobs for _ in range(job.n) for s in teacher.generate([teacher.render(job)], 1)[0]]

    candidates = {"one sample per generate call": one_at_a_time,
                  f"batched hf backend (batch_size {cfg.batch_size})": batched(True)}
    if cfg.without_shared_prefill:
        candidates["batched, prompt repeated per sample (share_prefill off)"] = batched(False)
    # one round per generate-call-full of prompts, so the batched arm batches as in scotd sample
    per_call = max(1, cfg.batch_size // max(1, cfg.sampling.n))
    arms = interleaved(candidates, [jobs[i:i + per_call] for i in range(0, len(jobs), per_call)])
    result = {
        "benchmark": "sample", "model": cfg.model, "source": cfg.data.source, "questions": len(jobs), "n": cfg.sampling.n,
        "max_new_tokens": cfg.sampling.max_new_tokens, "temperature": cfg.sampling.temperature,
        "prompt_tokens_mean": round(sum(prompt_tokens) / len(prompt_tokens), 1),
        "device": str(teacher.device), "dtype": str(teacher.dtype).replace("torch.", ""),
        "torch_threads": torch.get_num_threads(), "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(), "torch": torch.__version__, "arms": arms,
        # the machine may be shared: a high load average means every arm was slowed, the ratio less so
        "load_average_1min": [round(load_start, 2), round(os.getloadavg()[0], 2)],
        # from the timings, not the rounded rates (both arms produce the same number of samples)
        "speedup_samples_per_s": round(arms[0]["seconds"] / arms[1]["seconds"], 2),
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    return result


def markdown_table(result: dict) -> str:
    lines = [f"`scotd bench sample`: {result['model']} on {result['device']} ({result['dtype']}, "
             f"{result['torch_threads']} threads, {result['cpu_count']} CPUs), {result['questions']} few-shot prompts "
             f"from {result['source']} (mean {result['prompt_tokens_mean']} prompt tokens) x {result['n']} samples, "
             f"{result['max_new_tokens']} new tokens, temperature {result['temperature']}; {result['created']}"
             + (f", 1-min load average {result['load_average_1min'][0]} at start, {result['load_average_1min'][1]} at end"
                if result.get("load_average_1min") else "") + ".", "",
             "| arm | samples | seconds | samples/s | generated tokens/s |", "|---|---|---|---|---|"]
    for arm in result["arms"]:
        lines.append(f"| {arm['arm']} | {arm['samples']} | {arm['seconds']} | {arm['samples_per_s']} | "
                     f"{arm['tokens_per_s']} |")
    lines += ["", f"Batched / one-at-a-time samples/s: **{result['speedup_samples_per_s']}x** (measured in one run, arms interleaved per round). "
              "The batched arm runs each few-shot prompt through the model once and copies its KV cache to the "
              "n samples; the last row shows the same batching with the prompt repeated per sample instead."]
    if result.get("note"):
        lines += ["", f"Note: {result['note']}."]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    cfg = parse_args(BenchSampleConfig, argv, prog="scotd bench sample",
                     description="Batched hf teacher sampling vs one sample per generate call (samples/s ratio).")
    result = run(cfg)
    publish("sample", result, cfg.json_out, cfg.markdown, "Sampling (teacher throughput)", markdown_table(result))
    return 0
