"""``scotd results``: one table (and a plot) over the arms of an experiment.

Each arm is a folder written by ``scotd run``. The arm's label comes from its resolved
recipe (label-only, N sampled rationales, N downsampled to K by a strategy, or the
untrained base with a few-shot prompt); the columns from the folders its stages wrote:
``eval`` (greedy), ``eval-sc`` (self-consistency), ``eval-transfer`` (a task the arm never
trained on), ``train/train_summary.json`` (tokens seen), the stage stamps (seconds) and
``run.json`` (hardware). A missing stage leaves its cell as "not run", never a guess.
Where the task has a grader (``distill.solvers.GRADERS``), the greedy rationales are also
checked step by step: the share of swap steps stated correctly, and how often the answer
letter is the one the rationale's own final claim points to.

The plot is accuracy vs. N for an N sweep; where the arms were scored on BIG-Bench Hard files it
is one bar per file and arm instead, with Codex's published chain-of-thought score marked beside.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import yaml

from distill.bbh_reference import CODEX
from distill.eval_folder import eval_rows, eval_summary
from distill.paired import paired_difference, paired_table
from serve.core.config import option, parse_args
from serve.core.errors import UserError
from serve.core.records import read_jsonl

DESCRIPTION = ("Tabulate the arms of an experiment (run folders of scotd run): accuracy with 95% CIs; plot vs N, "
               "or per BBH file beside Codex.")
COLUMNS = ("arm", "kept CoTs / question", "greedy (95% CI)", "self-consistency (95% CI)", "transfer greedy (95% CI)",
           "steps right", "answer follows own claim", "train tokens", "wall time", "hardware")


@dataclass
class ResultsConfig:
    runs: list[str] = option(default_factory=list, help="run folders written by scotd run, one per arm")
    title: str = option("", "heading of the table")
    out: str = option("", "write OUT.md (table) and OUT.json (rows); with plot, also OUT.png")
    plot: bool = option(True, "draw OUT.png: accuracy vs rationales per question, or per BBH file beside Codex")
    paired: bool = option(True, "compare each arm with the first on the eval items both scored: the paired "
                                "difference with a bootstrap 95% CI, and the items gained and lost")


def _read_json(path: Path) -> Optional[dict]:
    return json.loads(path.read_text()) if path.is_file() else None


def arm_label(recipe: dict, trained: bool) -> tuple[str, Optional[float]]:
    """What the arm is, and its sampled N when it is a pure-N CoT arm (the x of the plot). ``trained``: the
    run folder holds a finished train stage (the last invocation may have run other stages only)."""
    if not trained:
        prompt = recipe["eval"].get("prompt", "student")
        names = {"few_shot": "untrained base, few-shot CoT", "bbh_cot": "untrained base, BBH 3-shot CoT"}
        return names.get(prompt, "untrained base"), None
    if recipe["train"]["mode"] == "label_only":
        return "label-only", None
    n, keep = recipe["sample"]["sampling"]["n"], recipe["select"]["per_instance"]
    if keep and keep < n:
        return f"CoT N={n} -> {keep} ({recipe['select']['strategy']})", None
    return f"CoT N={n}", float(n)


def _accuracy(summary: Optional[dict]) -> Optional[dict]:
    if summary is None:
        return None
    return {"accuracy": summary["accuracy"], "ci95": summary["ci95"], "n": summary["n"],
            "source": summary.get("source"), "decoding": summary.get("decoding"),
            "by_task": summary.get("by_task") or {}, "partial": bool(summary.get("partial"))}


def step_check(eval_dir: Path, rows: Optional[list[dict]] = None) -> Optional[dict]:
    """Step-level grading of a greedy CoT eval's rationales, each row by its own task's grader (a mixture
    has several); None when no row has a grader."""
    from distill.solvers import GRADERS, UnsolvableQuestion, task_family

    summary = eval_summary(eval_dir)
    if summary is None or summary.get("mode") != "cot":
        return None
    totals: dict[str, dict[str, int]] = {}
    for row in eval_rows(eval_dir) if rows is None else rows:
        grade = GRADERS.get(task_family(row.get("task") or row["id"]))
        if grade is None:
            continue
        try:
            result = grade(row["question"], row.get("choices"), row["output"])
        except UnsolvableQuestion:
            continue
        for key in ("all", row.get("task")):
            if key:
                count = totals.setdefault(key, dict.fromkeys(("steps", "steps_right", "answers",
                                                              "answer_follows_claim"), 0))
                count["steps"] += result.steps
                count["steps_right"] += result.steps_right
                count["answers"] += 1
                count["answer_follows_claim"] += result.claimed_answer is not None and \
                    result.claimed_answer == row["parsed"]
    if not totals:
        return None
    overall = totals.pop("all")
    return {**overall, "by_task": totals}


def train_segments(metrics: Path) -> list[float]:
    """Seconds of each training segment: train_runtime restarts from zero when a run is resumed."""
    segments, last = [], None
    for _, record in read_jsonl(metrics) if metrics.is_file() else []:
        runtime = record.get("train_runtime")
        if runtime is None:
            continue
        if last is None or runtime < last:
            segments.append(0.0)
        segments[-1], last = runtime, runtime
    return segments


def stage_seconds(run_dir: Path, train_out: Path) -> float:
    """The run's wall time: every stage's stamp, the training counted over all its resumed segments (its
    stamp holds only the segment that finished it)."""
    stamps = {p.stem: json.loads(p.read_text()) for p in sorted((run_dir / "stages").glob("*.json"))
              if not p.stem.endswith(".started")}
    seconds = {name: stamp.get("seconds", 0.0) for name, stamp in stamps.items()}
    segments = train_segments(train_out / "metrics.jsonl")
    if "train" in seconds and len(segments) > 1:
        seconds["train"] += sum(segments[:-1])
    return sum(seconds.values())


def read_arm(run_dir: Path, greedy_rows: Optional[list[dict]] = None) -> dict:
    """One arm's row of the table; ``greedy_rows``: its greedy eval rows when the caller has read them."""
    recipe_file = run_dir / "recipe.resolved.yaml"
    if not recipe_file.is_file():
        raise UserError(f"'{run_dir}' has no recipe.resolved.yaml; pass folders written by scotd run (run.dir)")
    recipe = yaml.safe_load(recipe_file.read_text())
    train = _read_json(Path(recipe["train"]["out"]) / "train_summary.json")
    label, sampled_n = arm_label(recipe, trained=train is not None)
    label = recipe["run"].get("label") or label
    run_info = _read_json(Path(recipe["train"]["out"]) / "run_info.json") if train else None
    stats = (run_info or {}).get("data") or {}
    seconds = stage_seconds(run_dir, Path(recipe["train"]["out"]))
    return {
        "arm": label, "run_dir": str(run_dir), "sampled_n": sampled_n,
        "kept_per_question": stats["targets"] / max(1, stats["instances"]) if stats and label != "label-only" else None,
        "greedy": _accuracy(eval_summary(run_dir / "eval")),
        "self_consistency": _accuracy(eval_summary(run_dir / "eval-sc")),
        "transfer": _accuracy(eval_summary(run_dir / "eval-transfer")),
        "step_check": step_check(run_dir / "eval", greedy_rows),
        "train_tokens": train.get("num_input_tokens_seen") if train else None,
        "train_steps": train.get("global_step") if train else None,
        "seconds": round(seconds, 1),
        "hardware": (_read_json(run_dir / "run.json") or {}).get("hardware"),
    }


def ci_cell(result: Optional[dict]) -> str:
    if result is None:
        return "not run"
    low, high = result["ci95"]
    partial = ", partial: still running or interrupted" if result.get("partial") else ""
    return f"{100 * result['accuracy']:.1f} [{100 * low:.1f}, {100 * high:.1f}] (n={result['n']}{partial})"


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


def markdown(rows: list[dict], title: str = "") -> str:
    lines = [f"### {title}", ""] if title else []
    lines += ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        kept = f"{row['kept_per_question']:.1f}" if row["kept_per_question"] is not None else "-"
        tokens = f"{row['train_tokens']:,}" if row["train_tokens"] else "-"
        check = row["step_check"]
        steps = f"{100 * check['steps_right'] / max(1, check['steps']):.1f}% ({check['steps_right']}/{check['steps']})" \
            if check else "-"
        follows = f"{check['answer_follows_claim']}/{check['answers']}" if check else "-"
        lines.append("| " + " | ".join([row["arm"], kept, ci_cell(row["greedy"]), ci_cell(row["self_consistency"]),
                                        ci_cell(row["transfer"]), steps, follows, tokens, _minutes(row["seconds"]),
                                        row["hardware"] or "?"]) + " |")
    comparisons = [(row["arm"], row["paired"]) for row in rows[1:] if row.get("paired")]
    return "\n".join(lines) + "\n" + per_task_table(rows) + (paired_table(rows[0]["arm"], comparisons)
                                                             if comparisons else "")


def per_task_table(rows: list[dict]) -> str:
    """Greedy accuracy per task and arm, when the arms were scored on a mixture of tasks."""
    tasks = sorted({task for row in rows if row["greedy"] for task in row["greedy"]["by_task"]})
    transfer_tasks = sorted({task for row in rows if row.get("transfer") for task in row["transfer"]["by_task"]})
    if len(transfer_tasks) < 2:  # one transfer task: the main table's column says it
        transfer_tasks = []
    if not tasks and not transfer_tasks:
        return ""
    codex = any(task.startswith("bbh:") for task in tasks)  # BBH files: the published Codex numbers beside each
    extra = ["Codex answer-only", "Codex CoT"] if codex else []
    lines = ["", "Greedy accuracy per task (95% CI); where a program grader exists, the rationales' steps right:", "",
             "| task | " + " | ".join([row["arm"] for row in rows] + extra) + " |",
             "|---|" + "---|" * (len(rows) + len(extra))]
    for task in tasks:
        cells = [ci_cell((row["greedy"] or {}).get("by_task", {}).get(task)) + _steps((row.get("step_check") or {})
                                                                                     .get("by_task", {}).get(task))
                 for row in rows]
        if codex:
            answer_only, cot = CODEX.get(task.removeprefix("bbh:"), (None, None))
            cells += [f"{answer_only:.1f}" if answer_only is not None else "-", f"{cot:.1f}" if cot is not None else "-"]
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    if codex:
        for row in rows:
            by_task = (row["greedy"] or {}).get("by_task") or {}
            scored = {t[len("bbh:"):]: r["accuracy"] for t, r in by_task.items() if t.startswith("bbh:")}
            above = sum(t in CODEX and 100 * accuracy > CODEX[t][1] for t, accuracy in scored.items())
            lines.append(f"\n{row['arm']}: above Codex CoT on {above} of {len(scored)} BBH files scored.")
    for task in transfer_tasks:  # a transfer mixture: each variant its own row
        cells = [ci_cell((row.get("transfer") or {}).get("by_task", {}).get(task)) for row in rows]
        lines.append(f"| {task} (transfer) | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _steps(check: Optional[dict]) -> str:
    return f"; steps {check['steps_right']}/{check['steps']}" if check else ""


def plot(rows: list[dict], out: Path, title: str = "") -> Path:
    from distill.plots import _finish, ci_error_bars, plt

    figure, axis = plt.subplots(figsize=(6.5, 4.5))
    line = sorted((r for r in rows if r["sampled_n"] and r["greedy"]), key=lambda r: r["sampled_n"])
    for key, name, marker in (("greedy", "greedy", "o"), ("self_consistency", "self-consistency vote", "s"),
                              ("transfer", "transfer (greedy)", "^")):
        points = [(r["sampled_n"], r[key]) for r in line if r[key]]
        if not points:
            continue
        xs, results = zip(*points)
        ys = [p["accuracy"] for p in results]
        errors = ci_error_bars(ys, results)
        axis.errorbar(xs, ys, yerr=errors, marker=marker, capsize=4, label=f"CoT student, {name}")
    for row, style in zip([r for r in rows if not r["sampled_n"] and r["greedy"]], ("--", ":", "-.", (0, (1, 4)))):
        axis.axhline(row["greedy"]["accuracy"], color="grey", linestyle=style, label=f"{row['arm']} (greedy)")
    axis.set_xscale("log", base=2)
    if line:
        axis.set_xticks([r["sampled_n"] for r in line], [f"{r['sampled_n']:g}" for r in line])
    axis.set_xlabel("rationales sampled per training question (N)")
    axis.set_ylabel("accuracy on held-out questions")
    axis.set_title(title.split(",")[0] if title else "accuracy vs. N")  # the full title heads the table
    return _finish(figure, axis, out)


def bbh_plot(rows: list[dict], out: Path, title: str = "") -> Optional[Path]:
    """Per BBH file: each arm's greedy accuracy (bar, 95% CI whisker) and Codex CoT (a black tick); None when
    no arm was scored on a BBH file."""
    from matplotlib.transforms import offset_copy

    from distill.plots import _finish, ci_error_bars, plt

    tasks = sorted({t for r in rows if r["greedy"] for t in r["greedy"]["by_task"] if t.startswith("bbh:")})
    if not tasks:
        return None
    arms = [r for r in rows if r["greedy"]]
    height = 0.8 / len(arms)
    figure, axis = plt.subplots(figsize=(8, 1.2 + 0.45 * len(tasks) * max(1, len(arms) / 2)))
    for index, row in enumerate(arms):
        scored = [(position, row["greedy"]["by_task"][t]) for position, t in enumerate(tasks)
                  if t in row["greedy"]["by_task"]]
        positions = [p + (index - (len(arms) - 1) / 2) * height for p, _ in scored]
        values = [100 * result["accuracy"] for _, result in scored]
        errors = [[100 * e for e in side] for side in ci_error_bars([v / 100 for v in values], [r for _, r in scored])]
        axis.barh(positions, values, height=height, xerr=errors, capsize=2, label=row["arm"])
    codex = [(position, CODEX[t.removeprefix("bbh:")][1]) for position, t in enumerate(tasks)
             if t.removeprefix("bbh:") in CODEX]
    if codex:
        axis.scatter([c for _, c in codex], [p for p, _ in codex], marker="|", s=400, color="crimson", zorder=3,
                     label="Codex (175B), 3-shot CoT")
    axis.set_yticks(range(len(tasks)), [t.removeprefix("bbh:") for t in tasks])
    axis.invert_yaxis()
    axis.set_xlim(0, 100)
    axis.set_xlabel("accuracy on the BBH file (%)")
    axis.set_title(title.split(",")[0] if title else "BIG-Bench Hard, per file")
    below_axis = offset_copy(axis.transAxes, fig=figure, y=-0.45, units="inches")  # under the x label
    return _finish(figure, axis, out, loc="upper center", bbox_to_anchor=(0.5, 0), bbox_transform=below_axis,
                   ncol=min(3, len(arms) + 1), frameon=False)


def run(cfg: ResultsConfig) -> dict:
    if not cfg.runs:
        raise UserError("results needs run folders: scotd results --runs runs/experiment/a runs/experiment/b ...")
    greedy = [eval_rows(Path(d) / "eval") for d in cfg.runs]
    rows = [read_arm(Path(d), arm_rows) for d, arm_rows in zip(cfg.runs, greedy)]
    if cfg.paired and len(rows) > 1:
        for row, arm_rows in zip(rows[1:], greedy[1:]):
            row["paired"] = paired_difference(greedy[0], arm_rows) if greedy[0] else None
    table = markdown(rows, cfg.title)
    print(table, end="")
    if cfg.out:
        out = Path(cfg.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.with_suffix(".md").write_text(table)
        out.with_suffix(".json").write_text(json.dumps(rows, indent=2) + "\n")
        if cfg.plot:
            # per BBH file where BBH files were scored (arms of other N are phases, not a sweep), else accuracy vs N
            bbh_plot(rows, out.with_suffix(".png"), cfg.title) or plot(rows, out.with_suffix(".png"), cfg.title)
        print(f"[scotd results] wrote {out.with_suffix('.md')}, .json" + (", .png" if cfg.plot else ""))
    return {"rows": rows, "table": table}


def main(argv: list[str] | None = None) -> int:
    run(parse_args(ResultsConfig, argv, prog="scotd results", description=DESCRIPTION))
    return 0
