"""``scotd bench train``: student training speed per lever, on real program-teacher records, in one run.

Every variant trains the same student on the same sequences (same seed, same steps) in a
fresh subprocess, so each row has its own peak RSS and no variant inherits another's
warm caches or thread state. The first optimizer step of each variant is a warm-up and is
not timed. Per variant: seconds per step, tokens/s over all sequence tokens and over
target (labelled) tokens, padding share, peak RSS, and the share of this CPU's peak FLOP/s
(a float32 matmul timed in the same run) that the *useful* work reaches. Useful work is the
same count for every variant: 6 x non-embedding parameters per token, the attention
products, and the LM head at target positions, so a variant that skips work (frozen
layers) shows as faster, not as more efficient.

Output: JSON (``docs/bench/train.json``) and a markdown section in ``docs/BENCHMARKS.md``.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from bench.harness import answer, log, peak_rss_mb, run_worker
from bench.report import publish
from serve.core.config import option, parse_args, to_dict
from serve.core.provenance import resident_mb
from serve.data.sources import QuestionSource


# id -> (what the row says, train config overrides); "full_logits" is the path before the speed levers,
# the baseline every row's speedup is measured against.
# every variant names its optimizer and micro-batch, so a row means the same when train's defaults move
_FP32 = {"precision": "fp32", "speed.micro_batch": 0, "optim": "adamw_torch_fused",  # the whole batch in one pass
         "speed.sparse_embedding_grad": False, "speed.allocator": "default", "speed.prompt_backward": "full"}
_ADAFACTOR = {**_FP32, "speed.micro_batch": 1, "optim": "adafactor"}
_EXACT = {**_ADAFACTOR, "speed.sparse_embedding_grad": True, "speed.allocator": "keep"}
VARIANTS: dict[str, tuple[str, dict]] = {
    "full_logits": ("fp32, full logits, random batches (the path before the speed levers)",
                    {**_FP32, "speed.target_logits": False, "speed.group_by_length": False}),
    "target_logits": ("target-only logits", {**_FP32, "speed.group_by_length": False}),
    "grouped": ("length-grouped batches", {**_FP32, "speed.target_logits": False}),
    "frozen_embedding": ("frozen embedding", {**_FP32, "speed.target_logits": False, "speed.group_by_length": False,
                                              "speed.freeze_embeddings": True}),
    "fp32_levers": ("target-only logits + length-grouped (fp32)", _FP32),
    "freeze10": ("fp32 levers + frozen embedding + lowest 10 of 30 blocks frozen",
                 {**_FP32, "speed.freeze_embeddings": True, "speed.freeze_layers": 10}),
    "freeze20": ("fp32 levers + frozen embedding + lowest 20 of 30 blocks frozen",
                 {**_FP32, "speed.freeze_embeddings": True, "speed.freeze_layers": 20}),
    "microbatch": ("fp32 levers, the batch in micro-batches of 2 (same sequences a step), AdamW",
                   {**_FP32, "speed.micro_batch": 2}),
    "adafactor": ("fp32 levers, micro-batches of 1, Adafactor", _ADAFACTOR),
    "sparse_embedding": ("fp32 levers, micro-batches of 1, Adafactor + sparse embedding gradient",
                         {**_ADAFACTOR, "speed.sparse_embedding_grad": True}),
    "allocator_keep": ("fp32 levers, micro-batches of 1, Adafactor + sparse embedding gradient + malloc keeps freed "
                       "memory (exact; the default on CPUs without native bf16)", _EXACT),
    "prompt_no_grad": ("the exact levers + the prompt forward-only",
                       {**_EXACT, "speed.prompt_backward": "skip"}),
    "prompt_no_grad_frozen_embedding": ("the exact levers + the prompt forward-only + frozen embedding",
                                        {**_EXACT, "speed.prompt_backward": "skip", "speed.freeze_embeddings": True}),
    "compile": ("fp32 levers, micro-batches of 1, Adafactor + torch.compile of the blocks",
                {**_FP32, "speed.micro_batch": 1, "optim": "adafactor", "speed.compile": True}),
    "checkpointing": ("fp32 levers + gradient checkpointing", {**_FP32, "speed.activation_checkpointing": True}),
    "lora": ("LoRA r16 all-linear + target-only + grouped (fp32)", {**_FP32, "lora.enabled": True}),
    "bf16": ("default on bf16 CPUs (AMX / AVX512-BF16): fp32 levers + bf16 autocast, micro-batches of 2, AdamW",
             {"precision": "bf16", "speed.micro_batch": 2, "optim": "adamw_torch_fused"}),
    "bf16_adafactor": ("fp32 levers + bf16 autocast, micro-batches of 1, Adafactor",
                       {"precision": "bf16", "speed.micro_batch": 1, "optim": "adafactor"}),
    "bf16_allocator_default": ("the bf16 default with glibc's allocator as is (not kept, never trimmed)",
                               {"precision": "bf16", "speed.micro_batch": 2, "optim": "adamw_torch_fused",
                                "speed.allocator": "default", "speed.heap_ceiling": 0}),
    "bf16_keep_unbounded": ("the bf16 default with the kept heap never trimmed",
                            {"precision": "bf16", "speed.micro_batch": 2, "optim": "adamw_torch_fused",
                             "speed.allocator": "keep", "speed.heap_ceiling": 0}),
    "allocator_keep_unbounded": ("the exact fp32 levers with the kept heap never trimmed",
                                 {**_EXACT, "speed.heap_ceiling": 0}),
}
BASELINE = "full_logits"
# Old variant ids still accepted by --variants (kept for one release; rows are written under the current id).
VARIANT_ALIASES = {"today": "full_logits"}


def resolve_variants(names: list[str]) -> list[str]:
    """--variants with old ids mapped to current ones (a note on stderr for each), order kept."""
    for name in names:
        if name in VARIANT_ALIASES:
            print(f"[scotd bench train] variant {name!r} is now {VARIANT_ALIASES[name]!r}; the old id will be removed",
                  file=sys.stderr)
    return [VARIANT_ALIASES.get(name, name) for name in names]


@dataclass
class BenchTrainConfig:
    model: str = option("smollm2-135m-instruct", "student: registry name or folder")
    data: QuestionSource = option(
        default_factory=lambda: QuestionSource(source="gen:tracking_shuffled_objects/three_objects", limit=96),
        help="training questions: a task the program teacher solves")
    rationales: int = option(4, "program-teacher rationales per question")
    batch_size: int = option(8, "sequences per step")
    steps: int = option(5, "timed optimizer steps per variant (after one untimed warm-up step)")
    variants: list[str] = option(default_factory=lambda: list(VARIANTS), help=f"variants to run: {', '.join(VARIANTS)}")
    baseline: str = option(BASELINE, "the variant every row's tokens/s is divided by (run it in the same call)")
    json_out: str = option("docs/bench/train.json", "where the JSON result goes (relative to the project root; '': none)")
    markdown: str = option("docs/BENCHMARKS.md", "markdown file whose training section is rewritten ('': none)")
    worker: str = field(default="", metadata={"help": "internal: run one variant from this JSON spec"})


def peak_flops(seconds: float = 3.0, size: int = 1024) -> float:
    """float32 matmul FLOP/s at torch's thread count: the CPU's practical peak for this workload."""
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        torch.mm(a, b)
        done += 1
    return 2 * size ** 3 * done / (time.perf_counter() - started)


def useful_flops(config, tokens: int, target_tokens: int, squared_lengths: int) -> float:
    """Training FLOPs the data requires, whatever the implementation skips (see the module docstring)."""
    hidden, layers = config.hidden_size, config.num_hidden_layers
    intermediate = getattr(config, "intermediate_size", 4 * hidden)
    heads, kv_heads = config.num_attention_heads, getattr(config, "num_key_value_heads", config.num_attention_heads)
    head_dim = getattr(config, "head_dim", None) or hidden // heads
    per_layer = hidden * head_dim * (2 * heads + 2 * kv_heads) + 3 * hidden * intermediate
    attention = 2 * 2 * layers * heads * head_dim * squared_lengths / 2  # QK^T and AV, causal half
    forward = 2 * layers * per_layer * tokens + attention + 2 * hidden * config.vocab_size * target_tokens
    return 3 * forward


def _worker(spec: dict) -> dict:
    import torch
    from transformers import TrainerCallback

    from distill.train import TrainConfig, build_trainer
    from serve.core.config import build

    class Clock(TrainerCallback):
        def __init__(self):
            self.starts, self.ends, self.resident = [], [], []

        def on_step_begin(self, args, state, control, **kwargs):
            self.starts.append(time.perf_counter())

        def on_step_end(self, args, state, control, **kwargs):
            self.ends.append(time.perf_counter())
            resident = resident_mb()
            self.resident.append(None if resident is None else round(resident, 1))

    cfg = build(TrainConfig, spec["train"])
    clock = Clock()
    trainer, _, _ = build_trainer(cfg, extra_callbacks=(clock,))
    counts = {"tokens": 0, "target_tokens": 0, "padded_positions": 0, "squared_lengths": 0}
    train_step = trainer.training_step

    def counting_step(model, inputs, *args, **kwargs):
        # Counted where the batch is trained (the loader fetches one batch ahead); the warm-up step is not.
        if len(clock.starts) >= 2:
            lengths = inputs["attention_mask"].sum(dim=1)
            counts["tokens"] += int(lengths.sum())
            counts["target_tokens"] += int((inputs["labels"][:, 1:] != -100).sum())
            counts["padded_positions"] += int(inputs["attention_mask"].numel())
            counts["squared_lengths"] += int((lengths ** 2).sum())
        return train_step(model, inputs, *args, **kwargs)

    trainer.training_step = counting_step
    trainer.train()
    step_seconds = [end - start for start, end in zip(clock.starts[1:], clock.ends[1:])]
    seconds = sum(step_seconds)
    flops = useful_flops(trainer.model.config, counts["tokens"], counts["target_tokens"], counts["squared_lengths"])
    losses = [row["loss"] for row in trainer.state.log_history if "loss" in row]
    return {**counts, "steps": len(step_seconds), "seconds": round(seconds, 3),
            "seconds_per_step": round(seconds / max(1, len(step_seconds)), 3),
            "tokens_per_s": round(counts["tokens"] / seconds, 1),
            "target_tokens_per_s": round(counts["target_tokens"] / seconds, 1),
            "padding_share": round(1 - counts["tokens"] / max(1, counts["padded_positions"]), 4),
            "useful_flops_per_s": flops / seconds, "torch_threads": torch.get_num_threads(),
            "aten_cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "trainable_parameters": sum(p.numel() for p in trainer.model.parameters() if p.requires_grad),
            "last_loss": losses[-1] if losses else None,
            "peak_rss_mb": peak_rss_mb(), "rss_mb_by_step": clock.resident}


def _records(cfg: BenchTrainConfig, folder: Path) -> Path:
    from distill.sample import SampleConfig
    from distill.sample import run as sample
    from serve.core.config import build

    out = folder / "cots.jsonl"
    sample(build(SampleConfig, {"data": to_dict(cfg.data),
                                "teacher": {"backend": "program", "model": "auto"},
                                "sampling": {"n": cfg.rationales}, "out": str(out)}))
    return out


def run(cfg: BenchTrainConfig) -> dict:
    from serve.core.errors import UserError
    from serve.core.provenance import cpu_has_native_bf16, cpu_kind, cpu_model

    cfg.variants = resolve_variants(cfg.variants)
    unknown = [v for v in cfg.variants if v not in VARIANTS]
    if unknown:
        raise UserError(f"unknown variant(s) {unknown}; valid: {', '.join(VARIANTS)}")
    cfg.baseline = resolve_variants([cfg.baseline])[0]
    if cfg.baseline not in cfg.variants:
        raise UserError(f"baseline '{cfg.baseline}' is not among --variants; add it (ratios are taken within one run)")
    if cfg.steps < 1:
        raise UserError(f"steps must be >= 1 (timed steps per variant), got {cfg.steps}")
    import torch

    skipped = [v for v in cfg.variants if VARIANTS[v][1].get("precision") == "bf16" and not cpu_has_native_bf16()]

    with tempfile.TemporaryDirectory(prefix="scotd-bench-train-") as tmp:
        folder = Path(tmp)
        cots = _records(cfg, folder)
        peak = peak_flops()
        load_start = os.getloadavg()[0]
        rows = []
        for name in [v for v in cfg.variants if v not in skipped]:
            label, overrides = VARIANTS[name]
            train = {"model": cfg.model, "out": str(folder / "run"), "max_steps": cfg.steps + 1,
                     "batch_size": cfg.batch_size, "lr": 1e-4, "warmup": 0, "eval_every": 0,
                     "save_every": 10_000, "log_every": 1, "seed": 0,
                     "data": {**to_dict(cfg.data), "cots": str(cots),
                              "dev_fraction": 0.0}}
            for key, value in overrides.items():
                section, _, leaf = key.partition(".")
                if leaf:
                    train.setdefault(section, {})[leaf] = value
                else:
                    train[section] = value
            print(f"[scotd bench train] {label} ...", file=sys.stderr, flush=True)
            try:
                row = run_worker({"train": train}, f"variant {name}", module="bench.train")
            except UserError as exc:
                log(str(exc), "train")
                rows.append({"variant": name, "label": label, "failed": str(exc)})
                continue
            row["peak_flops_share"] = round(row.pop("useful_flops_per_s") / peak, 4)
            rows.append({"variant": name, "label": label, **row})
            print(f"  {row['seconds_per_step']} s/step, {row['tokens_per_s']} tok/s", file=sys.stderr, flush=True)
    by_name = {row["variant"]: row for row in rows if "failed" not in row}
    for row in by_name.values():
        if cfg.baseline in by_name:
            row["speedup_vs_baseline"] = round(row["tokens_per_s"] / by_name[cfg.baseline]["tokens_per_s"], 2)
    result = {"benchmark": "train", "model": cfg.model, "source": cfg.data.source, "questions": cfg.data.limit,
              "rationales_per_question": cfg.rationales, "batch_size": cfg.batch_size, "timed_steps": cfg.steps,
              "baseline": cfg.baseline,
              "peak_matmul_gflops": round(peak / 1e9, 1), "torch": torch.__version__, "cpu_count": os.cpu_count(),
              "cpu": cpu_model(), "cpu_kind": cpu_kind(), "native_bf16": cpu_has_native_bf16(),
              "skipped": {v: "this CPU has no native bf16 (AMX / AVX512-BF16)" for v in skipped},
              "load_average_1min": [round(load_start, 2), round(os.getloadavg()[0], 2)],
              "created": time.strftime("%Y-%m-%d %H:%M:%S"), "variants": rows}
    return result


def markdown_table(result: dict) -> str:
    # Results written before "baseline" was recorded compared against the same variant, as "speedup_vs_today".
    baseline = result.get("baseline", BASELINE)
    machine = result.get("cpu_kind") or f"{result.get('cpu') or 'this CPU'} ({result['cpu_count']} cores)"
    lines = [f"`scotd bench train`: {result['model']} on {machine} on "
             f"{result['questions']} questions of {result['source']} x {result['rationales_per_question']} program-"
             f"teacher rationales, batch {result['batch_size']}, {result['timed_steps']} timed steps per variant after "
             f"a warm-up step, same seed and sequences for every variant; peak float32 matmul "
             f"{result['peak_matmul_gflops']} GFLOP/s; 1-min load average {result['load_average_1min'][0]} at start, "
             f"{result['load_average_1min'][1]} at end; {result['created']}.", "",
             "| variant | s/step | tokens/s (all) | target tokens/s | padding | trainable params | peak RSS MB | "
             f"RSS MB after steps 1, mid, last | useful FLOP/s share of peak | tokens/s vs {baseline} |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for row in result["variants"]:
        if "failed" in row:
            lines.append(f"| {row['label']} | failed: {row['failed']} |" + " |" * 8)
            continue
        lines.append(f"| {row['label']} | {row['seconds_per_step']} | {row['tokens_per_s']} | "
                     f"{row['target_tokens_per_s']} | {row['padding_share']:.1%} | "
                     f"{row['trainable_parameters'] / 1e6:.1f}M | {row['peak_rss_mb']} | "
                     f"{_resident_path(row.get('rss_mb_by_step'))} | {row['peak_flops_share']:.1%} | "
                     f"{row.get('speedup_vs_baseline', row.get('speedup_vs_today', '-'))}x |")
    lines += [f"| {VARIANTS[v][0]} | skipped: {why} |" + " |" * 8 for v, why in result.get("skipped", {}).items()]
    return "\n".join(lines)


def _resident_path(by_step: Optional[list]) -> str:
    """Resident MB after the first, the middle and the last step (the warm-up step included): does it level off?"""
    if not by_step or None in by_step:
        return "-"
    return ", ".join(f"{by_step[i]:.0f}" for i in (0, len(by_step) // 2, len(by_step) - 1))


def main(argv: list[str]) -> int:
    cfg = parse_args(BenchTrainConfig, argv, prog="scotd bench train",
                     description="Student training speed per lever (s/step, tokens/s, RSS, share of peak FLOP/s).")
    if cfg.worker:
        answer(_worker(json.loads(cfg.worker)))
        return 0
    result = run(cfg)
    publish("train", result, cfg.json_out, cfg.markdown, "Training (student tokens/s per lever)", markdown_table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
