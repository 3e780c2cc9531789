"""Data-parallel training with no code change: `torchrun --nproc_per_node 2` on CPU (gloo) vs one process.

Both runs have the same effective batch (2 ranks x 2 sequences vs 1 x 4). The ranks must
train on disjoint shards whose union is exactly what the single process sees at every
step, and the loss curve and final weights must match within float tolerance.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from safetensors.torch import load_file

from train_fixtures import train_argv, write_task

ROOT = Path(__file__).resolve().parent.parent
# fp32: bf16 autocast (the default on CPUs with AMX) rounds differently for different batch splits.
COMMON = ["--max_steps", "6", "--lr", "3e-3", "--eval_every", "0", "--save_every", "100", "--log_every", "1",
          "--data.dev_fraction", "0", "--log_batches", "--cot_policy", "sample_one", "--epochs", "3",
          "--precision", "fp32"]


def _run(cmd: list[str], log: Path) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    log.write_text(result.stdout + result.stderr)
    assert result.returncode == 0, f"{' '.join(cmd[:6])} failed:\n{(result.stdout + result.stderr)[-3000:]}"


def _batches(path: Path, size: int) -> list[list[str]]:
    ids = [json.loads(line)["example_id"] for line in path.read_text().splitlines()]
    return [ids[i:i + size] for i in range(0, len(ids), size)]


def _losses(out: Path) -> list[float]:
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in rows if "loss" in r]


def test_two_process_gloo_ddp_matches_single_process(tiny_llama_dir, tmp_path):
    examples, cots = write_task(tmp_path / "task", n_train=12)
    single, ddp = tmp_path / "single", tmp_path / "ddp"
    _run([sys.executable, "-m", "distill.train", *train_argv(tiny_llama_dir, examples, cots, single),
          *COMMON, "--batch_size", "4"], tmp_path / "single.log")
    _run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533",
          "-m", "distill.train", *train_argv(tiny_llama_dir, examples, cots, ddp), *COMMON, "--batch_size", "2"],
         tmp_path / "ddp.log")

    ddp_summary = json.loads((ddp / "train_summary.json").read_text())
    assert (ddp_summary["world_size"], ddp_summary["distributed_backend"]) == (2, "gloo")
    assert json.loads((single / "train_summary.json").read_text())["world_size"] == 1
    one = _batches(single / "batches.rank0.jsonl", 4)
    rank0, rank1 = _batches(ddp / "batches.rank0.jsonl", 2), _batches(ddp / "batches.rank1.jsonl", 2)
    assert len(one) == len(rank0) == len(rank1) == 6  # one micro-batch per rank per optimizer step
    for step, (full, a, b) in enumerate(zip(one, rank0, rank1)):
        assert not set(a) & set(b), f"step {step}: ranks share examples {set(a) & set(b)}"
        assert sorted(a + b) == sorted(full), f"step {step}: shards {a} + {b} != single-process batch {full}"
    # Every example of an epoch is seen exactly once across both ranks (12 examples, 3 steps of 4).
    assert sorted(sum(rank0[:3] + rank1[:3], [])) == sorted(sum(one[:3], []))
    assert len(set(sum(one[:3], []))) == 12

    single_losses, ddp_losses = _losses(single), _losses(ddp)
    assert len(single_losses) == len(ddp_losses) == 6
    for a, b in zip(single_losses, ddp_losses):
        assert abs(a - b) < 1e-4 * max(1.0, abs(a))
    assert single_losses[-1] < single_losses[0]
    w1, w2 = load_file(single / "student" / "model.safetensors"), load_file(ddp / "student" / "model.safetensors")
    assert set(w1) == set(w2)
    assert max((w1[k] - w2[k]).abs().max().item() for k in w1) < 1e-4
    assert not (ddp / "batches.rank2.jsonl").exists()
