"""Stage ``eval_curve`` of ``scotd run``: held-out accuracy at every kept checkpoint of a training run.

The curve answers "has the student plateaued at this budget?" before every arm of an experiment is
run at it. Each point is a ``scotd eval`` of one checkpoint (the final student for the last step)
on the dev split, which is neither sampled nor trained on when ``train.data.dev_fraction`` is 0
and the sampling stage reads the train split. Writes ``curve.json`` and ``curve.png``.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

from distill.evaluate import EvalConfig
from serve.core.errors import UserError

CHECKPOINT = re.compile(r"checkpoint-(\d+)$")


def curve_models(train_out: Path) -> list[tuple[int, Path]]:
    """(step, model folder) for every kept checkpoint before the end, then the final student."""
    summary_file = train_out / "train_summary.json"
    if not summary_file.is_file():
        raise UserError(f"'{train_out}' has no train_summary.json; run the train stage before eval_curve")
    final_step = json.loads(summary_file.read_text())["global_step"]
    points = []
    for folder in (train_out / "checkpoints").glob("checkpoint-*"):
        match = CHECKPOINT.search(folder.name)
        if match and int(match.group(1)) < final_step:
            points.append((int(match.group(1)), folder))
    return sorted(points) + [(final_step, train_out / "student")]


def run(eval_cfg: EvalConfig, train_out: Path, out: Path, mode: str) -> dict:
    from distill import evaluate
    from distill.plots import plot_dev_curve

    points = []
    for step, model in curve_models(train_out):
        cfg = dataclasses.replace(eval_cfg, model=str(model), out=str(out / f"step-{step}"), name=f"step {step}",
                                  mode=mode, sampling=dataclasses.replace(eval_cfg.sampling, n=1))
        summary = evaluate.run(cfg)
        points.append({"step": step, "accuracy": summary["accuracy"], "ci95": summary["ci95"], "n": summary["n"]})
    curve = {"source": eval_cfg.data.source, "split": eval_cfg.data.split, "points": points}
    out.mkdir(parents=True, exist_ok=True)
    (out / "curve.json").write_text(json.dumps(curve, indent=2) + "\n")
    plot_dev_curve(points, out / "curve.png", title=f"{eval_cfg.data.source} ({eval_cfg.data.split} split)")
    return curve


def describe(curve: dict) -> str:
    return "; ".join(f"step {p['step']}: {p['accuracy']:.3f}" for p in curve["points"]) + \
        f" on {curve['points'][-1]['n']} {curve['split']} questions"
