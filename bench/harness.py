"""What every ``scotd bench`` shares: each measurement in its own worker process
(``python -m bench.MODULE --worker JOB``, answering one ``RESULT {json}`` line) so each has its own
peak RSS and none inherits another's caches or threads; rows interleaved over rounds so a drift of
the machine touches every row alike; a row's rounds merged into medians.

``bench.decode`` (fixed prompt, batched samples) and ``bench.decode_task`` (a task's held-out
questions) run their rows through here, so neither imports the other's internals; ``bench.train``
runs its variants through ``run_worker`` too.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
from pathlib import Path

from serve.core.errors import UserError

ANCHOR = ("llama.cpp", "q8_0")  # the row every ratio column is taken against


def peak_rss_mb() -> float:
    """This process's peak resident memory. Not getrusage's ru_maxrss: Linux carries that over fork and
    exec, so a worker would report its parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def log(message: str, verb: str = "decode") -> None:
    print(f"[scotd bench {verb}] {message}", file=sys.stderr, flush=True)


def answer(result: dict) -> None:
    """A worker's answer to ``run_worker``: one line on stdout."""
    print("RESULT " + json.dumps(result), flush=True)


class WorkerCrashed(UserError):
    """The worker process died from a signal (a crash inside a native library)."""


def run_worker(job: dict, what: str, module: str = "bench.decode") -> dict:
    """``job`` run by ``python -m MODULE --worker JOB`` in a fresh process; its RESULT line, or a
    one-line error with the worker's last words."""
    result = subprocess.run([sys.executable, "-m", module, "--worker", json.dumps(job)],
                            capture_output=True, text=True, cwd=str(Path(__file__).resolve().parent.parent),
                            env={**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"})
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    if result.returncode != 0 or not lines:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        error = WorkerCrashed if result.returncode < 0 else UserError
        raise error(f"benchmarking {what} failed (exit {result.returncode}): {tail[0][:300]}")
    return json.loads(lines[-1][len("RESULT "):])


def merge_rounds(samples: list[dict]) -> dict:
    """One row from a variant's rounds: medians over every repeat of every round (the task rows time
    decode alone: no prefill, load or memory keys)."""
    row = dict(samples[0])
    for key, digits in (("decode_tok_s", 1), ("prefill_ms", 1), ("load_s", 2)):
        if key in row:
            row[key] = round(statistics.median([v for s in samples for v in s[key]]), digits)
    row["samples"] = sum(len(s["decode_tok_s"]) for s in samples)
    if "peak_rss_mb" in row:
        row["peak_rss_mb"] = max(s["peak_rss_mb"] for s in samples)
    return row


def decode_row(variant: dict, job: dict) -> dict:
    """Run one row's job; a llama.cpp row whose worker crashed is retried with the prompt fed one token
    at a time, and stays so for its later rounds."""
    job = {**job, "variant": variant}
    what = f"{variant['backend']} {variant['precision']} ({variant['path']})"
    try:
        return run_worker(job, what)
    except WorkerCrashed:
        if variant["kind"] != "llama_cpp" or variant.get("options", {}).get("n_batch") == 1:
            raise
    # llama.cpp's batched prompt pass crashes on some CPUs (its AMX kernels, llama-cpp-python 0.3.36 on a
    # Xeon here); one token at a time leaves decode untouched and only slows the prefill.
    variant["options"] = {**variant.get("options", {}), "n_batch": 1}
    variant["note"] = "prompt fed one token at a time: llama.cpp's batched prompt pass crashed"
    log(f"{what}: {variant['note']}")
    return run_worker(job, what)


def interleaved(jobs: list, rounds: int) -> list[tuple[int, object]]:
    order = []
    for index in range(rounds):
        order += [(index, job) for job in (jobs if index % 2 == 0 else list(reversed(jobs)))]
    return order
