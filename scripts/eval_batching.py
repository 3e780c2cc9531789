"""scotd eval's continuous batch against fixed batches, side by side in one run.

Each round scores the same questions twice, each time in a fresh process: once as ``scotd eval`` decodes
(a finished row takes the next question at once) and once in fixed batches (the engine offers no
continuous batch, so ``answer_all`` falls back to ``generate_in_batches``). Writes JSON and a markdown
table with the CPU kind, wall times, the ratio of medians and how many outputs agree.

    python scripts/eval_batching.py --model models/scotd-starter-135m/onnx-int8 \\
        --source "bbh:tracking_shuffled_objects_three_objects + bbh:tracking_shuffled_objects_five_objects" \\
        --limit 24 --batch_size 16 --rounds 2 --out docs/bench/eval-batching-xeon
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODES = ("continuous", "fixed")


def score_once(args: argparse.Namespace, mode: str, out: Path) -> dict:
    """Run in a child process: one eval in ``mode``; its wall time and outputs."""
    import distill.evaluate as evaluate
    from serve.core.config import build
    from serve.engines.onnx_engine import OnnxEngine

    if mode == "fixed":
        OnnxEngine.row_batch = lambda self, rows, capacity=4096: None
    cfg = build(evaluate.EvalConfig, {"model": args.model, "out": str(out), "batch_size": args.batch_size,
                                      "data": {"source": args.source, "split": "test", "limit": args.limit},
                                      "sampling": {"max_new_tokens": args.max_new_tokens}})
    started = time.perf_counter()
    summary = evaluate.run(cfg)
    seconds = time.perf_counter() - started
    outputs = [json.loads(line)["output"] for line in (out / "predictions.jsonl").read_text().splitlines()]
    return {"mode": mode, "seconds": round(seconds, 1), "accuracy": summary["accuracy"], "outputs": outputs}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--source", required=True)
    parser.add_argument("--limit", type=int, default=24)
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--max_new_tokens", type=int, default=320)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", default="docs/bench/eval-batching")
    parser.add_argument("--one", choices=MODES, help=argparse.SUPPRESS)  # the child process
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        with tempfile.TemporaryDirectory() as folder:
            Path(args.result).write_text(json.dumps(score_once(args, args.one, Path(folder) / "eval")))
        return 0

    from serve.core.provenance import cpu_kind

    runs = []
    with tempfile.TemporaryDirectory() as folder:
        for round_index in range(args.rounds):
            for mode in MODES:
                result = Path(folder) / f"{mode}-{round_index}.json"
                subprocess.run([sys.executable, __file__, *sys.argv[1:], "--one", mode, "--result", str(result)],
                               check=True, stdout=subprocess.DEVNULL)
                runs.append(json.loads(result.read_text()))
                print(f"round {round_index + 1} {mode}: {runs[-1]['seconds']} s", file=sys.stderr)
    median = {mode: statistics.median(r["seconds"] for r in runs if r["mode"] == mode) for mode in MODES}
    first = {mode: next(r for r in runs if r["mode"] == mode) for mode in MODES}
    same = sum(a == b for a, b in zip(first["continuous"]["outputs"], first["fixed"]["outputs"]))
    report = {"cpu": cpu_kind(), "command": "python scripts/eval_batching.py " + shlex.join(sys.argv[1:]),
              "config": {k: v for k, v in vars(args).items() if k not in ("one", "result")},
              "seconds": {mode: [r["seconds"] for r in runs if r["mode"] == mode] for mode in MODES},
              "accuracy": {mode: first[mode]["accuracy"] for mode in MODES},
              "ratio": round(median["fixed"] / median["continuous"], 2), "same_outputs": same,
              "questions": len(first["fixed"]["outputs"])}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    out.with_suffix(".md").write_text(
        f"{report['cpu']}. `{report['command']}`\n\n| decoding | wall s (each round) | accuracy |\n|---|---|---|\n"
        + "".join(f"| {mode} | {' / '.join(map(str, report['seconds'][mode]))} | {report['accuracy'][mode]:.3f} |\n"
                  for mode in MODES)
        + f"\nFixed batches take {report['ratio']}x the continuous batch's time (medians); "
          f"{same} of {report['questions']} outputs are the same character for character.\n")
    print(out.with_suffix(".md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
