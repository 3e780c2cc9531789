"""Plots (matplotlib PNG): training loss curves, and accuracy vs. samples per instance across runs.

``scotd plot loss runs/a/train runs/b/train --out loss.png``
``scotd plot accuracy runs/n1/eval runs/n5/eval --out acc.png`` (x = kept CoTs per instance,
read from each run's training stats; the label-only baseline is drawn as a horizontal line).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt  # noqa: E402

from serve.core.student_format import STUDENT_INFO  # noqa: E402
from serve.core.errors import UserError  # noqa: E402
from serve.core.records import read_jsonl  # noqa: E402


def _finish(figure, axis, out: Path, **legend) -> Path:
    axis.grid(alpha=0.3)
    axis.legend(**legend)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(out, dpi=120, bbox_inches="tight")  # a legend placed outside the axes stays in the file
    plt.close(figure)
    return out


def ci_error_bars(ys: Sequence[float], results: Sequence[dict]) -> list[list[float]]:
    """matplotlib ``yerr`` (below, above) for accuracies ``ys`` from results carrying a ``ci95`` pair."""
    return [[y - r["ci95"][0] for y, r in zip(ys, results)], [r["ci95"][1] - y for y, r in zip(ys, results)]]


def read_metrics(path: Path) -> list[dict]:
    if not path.is_file():
        raise UserError(f"'{path}' not found; pass a training run folder (with metrics.jsonl) or the file itself")
    return [row for _, row in read_jsonl(path)]


def plot_loss_curves(runs: Mapping[str, Path], out: Path) -> Path:
    """Train loss (solid) and dev loss (dashed) per run against optimizer steps."""
    figure, axis = plt.subplots(figsize=(7, 4.5))
    for label, metrics_file in runs.items():
        rows = read_metrics(Path(metrics_file))
        train = [(r["step"], r["loss"]) for r in rows if "loss" in r]
        dev = [(r["step"], r["eval_loss"]) for r in rows if "eval_loss" in r]
        if train:
            line, = axis.plot(*zip(*train), label=f"{label} train")
            if dev:
                axis.plot(*zip(*dev), linestyle="--", marker="o", color=line.get_color(), label=f"{label} dev")
    axis.set_xlabel("optimizer step")
    axis.set_ylabel("loss (target tokens)")
    axis.set_title("scotd training loss")
    return _finish(figure, axis, out)


def plot_accuracy_vs_samples(points: Sequence[dict], out: Path, baseline: dict | None = None) -> Path:
    """``points``: dicts with samples_per_instance, accuracy, ci95; ``baseline``: a label-only summary."""
    points = sorted(points, key=lambda p: p["samples_per_instance"])
    figure, axis = plt.subplots(figsize=(6, 4.5))
    xs = [p["samples_per_instance"] for p in points]
    ys = [p["accuracy"] for p in points]
    errors = ci_error_bars(ys, points)
    axis.errorbar(xs, ys, yerr=errors, marker="o", capsize=4, label="CoT student (95% CI)")
    if baseline is not None:
        axis.axhline(baseline["accuracy"], color="grey", linestyle="--", label="label-only student")
    axis.set_xscale("log", base=2)
    axis.set_xlabel("kept rationales per instance")
    axis.set_ylabel("accuracy")
    axis.set_title("accuracy vs. samples per instance")
    return _finish(figure, axis, out)


def plot_dev_curve(points: Sequence[dict], out: Path, title: str) -> Path:
    """``points``: dicts with step, accuracy, ci95 (one per evaluated checkpoint)."""
    figure, axis = plt.subplots(figsize=(6, 4.5))
    xs = [p["step"] for p in points]
    ys = [p["accuracy"] for p in points]
    errors = ci_error_bars(ys, points)
    axis.errorbar(xs, ys, yerr=errors, marker="o", capsize=4, label="held-out accuracy (95% CI)")
    axis.set_ylim(0, 1)
    axis.set_xlabel("optimizer step")
    axis.set_ylabel("accuracy")
    axis.set_title(title, fontsize=10)
    return _finish(figure, axis, out)


def eval_point(eval_dir: Path) -> dict:
    """An eval folder's summary plus the kept CoTs per instance of the student it scored."""
    summary = json.loads((eval_dir / "summary.json").read_text())
    student = Path(summary["model"])
    info_file = student / STUDENT_INFO
    info = json.loads(info_file.read_text()) if info_file.is_file() else {}
    run_info_file = student.parent / "run_info.json"
    stats = json.loads(run_info_file.read_text()).get("data", {}) if run_info_file.is_file() else {}
    per_instance = stats["targets"] / max(1, stats["instances"]) if stats else 1.0
    return {**summary, "mode": info.get("mode", summary.get("mode")), "samples_per_instance": per_instance}


def run_label(path: Path) -> str:
    """A training folder's name, or its run's name when scotd run called it 'train'."""
    folder = path if path.is_dir() else path.parent
    return folder.parent.name if folder.name == "train" else folder.name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scotd plot", description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=("loss", "accuracy"))
    parser.add_argument("runs", nargs="+", type=Path, help="training run folders (loss) or eval folders (accuracy)")
    parser.add_argument("--out", type=Path, required=True, help="PNG file to write")
    args = parser.parse_args(argv)
    if args.kind == "loss":
        plot_loss_curves({run_label(p): (p / "metrics.jsonl" if p.is_dir() else p) for p in args.runs}, args.out)
    else:
        points = [eval_point(p) for p in args.runs]
        baseline = next((p for p in points if p["mode"] == "label_only"), None)
        plot_accuracy_vs_samples([p for p in points if p["mode"] != "label_only"], args.out, baseline)
    print(f"wrote {args.out}")
    return 0

