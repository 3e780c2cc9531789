"""``scotd run RECIPE.yaml``: sample -> select -> train (-> eval_curve) (-> export) -> eval (-> eval_sc, eval_transfer, eval_export).

A recipe is one YAML file whose sections are the stages' own configs (``sample:``,
``select:``, ``train:``, ``eval:``, ``export:``) plus ``run:`` (folder, stages, force).
Paths left at their defaults are placed under ``run.dir`` and linked: select reads
what sample wrote, train reads select's output and sample's question source, eval
scores the trained student on the same source, export converts it. Export runs before the
evals, so a recipe may score its student as shipped (``eval.model`` = the export's folder: on a
CPU the int8 export decodes several times faster than the PyTorch student).

A stage is skipped when its outputs exist and its stamp (``run.dir/stages/NAME.json``,
distill/stage_stamps.py) holds the same config and input hashes. Change a setting or an input
and that stage and the ones after it run again.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from distill import checkpoints
from distill.evaluate import EvalConfig
from distill.stage_stamps import read_stamp, record_matches, stamp_record, train_record_from_run
from distill.run_info import PACKAGES, git_commit
from distill.sample import SampleConfig
from distill.select import SelectConfig
from distill.train import TrainConfig
from export.export_model import ExportConfig
from serve.core.config import ConfigError, option, parse_args, save_yaml
from serve.core.errors import UserError
from serve.core.provenance import hardware, package_versions
from serve.data.sources import QuestionSource, is_local_file, mixture_parts
from serve.store.export_folder import export_folder_name, report_file_name

DESCRIPTION = ("Run a recipe: scotd run RECIPE.yaml [--SECTION.KEY VALUE ...]. Stages sample -> select -> train "
               "(-> eval_curve) (-> export) -> eval (-> eval_sc, eval_transfer, eval_export); a stage whose config "
               "and input hashes are unchanged is skipped.")
STAGE_ORDER = ("sample", "select", "train", "eval_curve", "export", "eval", "eval_sc", "eval_transfer", "eval_export")


@dataclass
class RunOptions:
    """The pipeline itself."""
    dir: str = option("runs/recipe", "run folder: stage outputs left at their defaults, stamps, report.md")
    stages: list[str] = option(default_factory=lambda: list(STAGE_ORDER[:4]),
                               help=f"stages to run, in order, from {', '.join(STAGE_ORDER)}")
    force: list[str] = option(default_factory=list, help="stages to rerun even when their stamp matches")
    train_processes: int = option(1, "processes for the train stage; > 1 launches it under torchrun "
                                     "(DDP: one process per GPU, or gloo on CPU)")
    label: str = option("", "the arm's name in scotd results tables (default: told from the recipe)")
    requires: list[str] = option(default_factory=list,
                                 help="recipes this one builds on (e.g. the training it continues): each runs first, "
                                      "through its train stage, skipped where current and resumed where interrupted")


@dataclass
class ExtraEvals:
    """More scores of the same student, each its own stage: self-consistency and a transfer task."""
    sc_n: int = option(0, "stage eval_sc: self-consistency, a majority vote over this many samples per question "
                          "on eval's questions; 0 = no such stage")
    transfer: QuestionSource = option(
        default_factory=lambda: QuestionSource(split="all"),
        help="stage eval_transfer: a harder or unseen task the student never trained on "
             "(e.g. source gen:tracking_shuffled_objects/five_objects); no source = no such stage")
    transfer_max_new_tokens: int = option(0, "generation budget for eval_transfer (0 = eval's)")
    curve_limit: int = option(0, "stage eval_curve: score this many dev-split questions at every kept checkpoint "
                                 "(train.save_total_limit 0 keeps them all); 0 = no such stage")


@dataclass
class RunConfig:
    """A recipe: the pipeline's own options and each stage's config, one section a stage."""
    run: RunOptions = option(default_factory=RunOptions, help="the pipeline")
    sample: SampleConfig = option(default_factory=SampleConfig, help="scotd sample")
    select: SelectConfig = option(default_factory=SelectConfig, help="scotd select")
    train: TrainConfig = option(default_factory=TrainConfig, help="scotd train")
    eval: EvalConfig = option(default_factory=EvalConfig, help="scotd eval")
    evals: ExtraEvals = option(default_factory=ExtraEvals, help="stages eval_sc and eval_transfer")
    export: ExportConfig = option(default_factory=ExportConfig, help="scotd export")


def link_stages(cfg: Any) -> None:
    """Place unset paths ('') under run.dir and point each stage at the previous one's output."""
    root = Path(cfg.run.dir)
    if not cfg.sample.out:
        cfg.sample.out = str(root / "cots.jsonl")
    if not cfg.select.input:
        cfg.select.input = cfg.sample.out
    if not cfg.select.out:
        cfg.select.out = str(root / "train_cots.jsonl")
    if not cfg.train.out:
        cfg.train.out = str(root / "train")
    if not cfg.train.data.cots and cfg.train.mode == "cot":
        cfg.train.data.cots = cfg.select.out
    if not cfg.train.data.source:
        cfg.train.data.source, cfg.train.data.seed = cfg.sample.data.source, cfg.sample.data.seed
    student = str(Path(cfg.train.out) / "student")
    if not cfg.eval.model:
        cfg.eval.model = student
    if not cfg.eval.out:
        cfg.eval.out = str(root / "eval")
    if not cfg.eval.data.source:
        cfg.eval.data.source, cfg.eval.data.seed = cfg.sample.data.source, cfg.sample.data.seed
    if not cfg.export.model:
        cfg.export.model = student
    if not cfg.export.out:
        cfg.export.out = str(root / export_folder_name(cfg.export.precision, cfg.export.format))


@dataclass
class Stage:
    """How to run one stage: its config, the files it reads, the paths it writes, and a one-line result."""
    name: str
    config: Any
    inputs: list[str]
    outputs: list[str]
    call: Callable[[], Any]
    describe: Callable[[Any], str]


def _local(source: str) -> list[str]:
    return [part for part in mixture_parts(source) if is_local_file(part)]


def build_stages(cfg: Any) -> dict[str, Stage]:
    from distill import sample, select

    stages = {
        "sample": Stage("sample", cfg.sample, _local(cfg.sample.data.source), [cfg.sample.out],
                        lambda: sample.run(cfg.sample),
                        lambda r: f"{r['samples']} rationales for {r['instances']} questions, teacher accuracy "
                                  f"{r['teacher_accuracy']:.3f}"),
        "select": Stage("select", cfg.select, [cfg.select.input], [cfg.select.out],
                        lambda: select.run(cfg.select),
                        lambda r: f"kept {r['records_kept']} of {r['records_in']} rationales for "
                                  f"{r['instances_kept']} questions"),
        "train": Stage("train", cfg.train, [p for p in (cfg.train.data.cots,) if p] + _local(cfg.train.data.source),
                       [str(Path(cfg.train.out) / "student")], lambda: _train(cfg), _train_result),
        "eval": _eval_stage("eval", cfg.eval),
    }
    stages.update(extra_eval_stages(cfg))
    from export import export_model

    # The stage reruns only when the student or the export config changed: the folder then holds
    # an export of an older student, which it replaces.
    export_cfg = dataclasses.replace(cfg.export, force=True)
    report = Path(cfg.export.out) / report_file_name(cfg.export.format)
    stages["export"] = Stage("export", cfg.export, [cfg.export.model], [str(report)],
                             lambda: export_model.run(export_cfg), lambda out: _export_result(report))
    # The same eval on the exported model, so quantization loss is measured, not guessed.
    eval_export = dataclasses.replace(cfg.eval, model=cfg.export.out, out=str(Path(cfg.run.dir) / "eval-export"),
                                      name="", mode=cfg.train.mode, backend="auto")
    stages["eval_export"] = _eval_stage("eval_export", eval_export)
    return stages


def _eval_stage(name: str, config: EvalConfig) -> Stage:
    """A scotd eval of ``config.model`` on ``config.data.source``, done when its summary.json exists."""
    from distill import evaluate

    return Stage(name, config, [config.model] + _local(config.data.source),
                 [str(Path(config.out) / "summary.json")], lambda: evaluate.run(config), _eval_result)


def extra_eval_stages(cfg: Any) -> dict[str, Stage]:
    """eval_sc, eval_transfer and eval_curve: the eval stage's settings with one thing changed, each in its own folder."""
    root, more, variants = Path(cfg.run.dir), cfg.evals, {}
    if more.sc_n > 1:
        variants["eval_sc"] = dataclasses.replace(cfg.eval, sampling=dataclasses.replace(cfg.eval.sampling, n=more.sc_n),
                                                  out=str(root / "eval-sc"), name="")
    if more.transfer.source:
        budget = more.transfer_max_new_tokens or cfg.eval.sampling.max_new_tokens
        variants["eval_transfer"] = dataclasses.replace(
            cfg.eval, data=more.transfer, out=str(root / "eval-transfer"), name="",
            sampling=dataclasses.replace(cfg.eval.sampling, max_new_tokens=budget))
    stages = {name: _eval_stage(name, config) for name, config in variants.items()}
    if more.curve_limit > 0:
        stages["eval_curve"] = _curve_stage(cfg)
    return stages


def _curve_stage(cfg: Any) -> Stage:
    from distill import dev_curve

    config = dataclasses.replace(cfg.eval, data=dataclasses.replace(cfg.eval.data, split="dev",
                                                                    limit=cfg.evals.curve_limit), name="")
    train_out, out = Path(cfg.train.out), Path(cfg.run.dir) / "eval-curve"
    return Stage("eval_curve", config, [str(train_out / "student")], [str(out / "curve.json")],
                 lambda: dev_curve.run(config, train_out, out, cfg.train.mode), dev_curve.describe)


NEEDS = {"eval_sc": "evals.sc_n set to n > 1", "eval_transfer": "evals.transfer.source set",
         "eval_curve": "evals.curve_limit set to a number of dev questions"}


def _train(cfg: Any) -> Path:
    """In this process, or under torchrun with run.train_processes ranks (same code, DDP)."""
    from distill import train

    if cfg.run.train_processes <= 1:
        return train.run(cfg.train)
    config_file = Path(cfg.run.dir) / "configs" / "train.yaml"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node", str(cfg.run.train_processes), "-m", "distill.train", "--config", str(config_file)]
    print(f"[scotd run] train: {' '.join(command[1:])}", file=sys.stderr)
    if subprocess.run(command).returncode != 0:
        raise UserError(f"the torchrun train stage failed (see the output above); rerun it alone with: "
                        f"{' '.join(command[1:])}")
    return Path(cfg.train.out) / "student"


def _train_result(student: Path) -> str:
    summary = json.loads((Path(student).parent / "train_summary.json").read_text())
    return f"{summary['global_step']} steps, train loss {summary['train_loss']:.3f} -> {student}"


def _eval_result(summary: dict) -> str:
    low, high = summary["ci95"]
    return f"accuracy {summary['accuracy']:.3f} [{low:.3f}, {high:.3f}] on {summary['n']} ({summary['backend']})"


def _export_result(report_file: Path) -> str:
    report = json.loads(report_file.read_text())
    via = report.get("backend") or report.get("converter", "?")
    return f"{report['precision']} {report['size_mb']['export']} MB via {via} -> {report_file.parent}"


def is_current(stamp_file: Path, record: dict, stage: Stage) -> bool:
    stamp = read_stamp(stamp_file)
    if stamp is None or not all(Path(p).exists() for p in stage.outputs):
        return False
    return record_matches(stamp, record, type(stage.config))


def interrupted(started_file: Path, record: dict, stage: Stage) -> bool:
    """The train stage started with a matching config and the same inputs, and left checkpoints."""
    started = read_stamp(started_file)
    if started is not None and "config" not in started and started.get("key") != record["key"]:
        started = train_record_from_run(Path(stage.config.out), record)  # started by an older scotd
    if started is None or not record_matches(started, record, type(stage.config)):
        return False
    return bool(checkpoints.listed(Path(stage.config.out)))


def report_table(rows: list[dict]) -> str:
    lines = ["| stage | status | seconds | result |", "|---|---|---|---|"]
    lines += [f"| {r['stage']} | {r['status']} | {r['seconds']:.1f} | {r['result']} |" for r in rows]
    total = sum(r["seconds"] for r in rows)
    lines.append(f"| total | | {total:.1f} | |")
    return "\n".join(lines) + "\n"


def fetch_missing_models(cfg: Any) -> None:
    """Registry models the recipe names (student, local teacher) are fetched once, so a fresh checkout runs."""
    from serve.store.registry import load_registry

    registry = load_registry()
    names = set()
    if "train" in cfg.run.stages:
        names.add(cfg.train.model)
    if "sample" in cfg.run.stages and cfg.sample.teacher.backend == "hf":
        names.add(cfg.sample.teacher.model)
    for name in sorted(n for n in names if n in registry and not registry[n].is_fetched()):
        from serve.store.fetch import fetch_model

        print(f"[scotd run] fetching model '{name}' (once)", file=sys.stderr)
        fetch_model(name)


def run_required(recipes: list[str], chain: tuple[str, ...]) -> None:
    """Each recipe of ``run.requires`` through its train stage, before the recipe that builds on it."""
    for recipe in recipes:
        if recipe in chain:
            raise UserError(f"run.requires goes round in a circle: {' -> '.join([*chain, recipe])}; remove one of them")
        if not Path(recipe).is_file():
            raise UserError(f"run.requires names '{recipe}', which is not a file; give the recipe's path "
                            "from where scotd runs, e.g. recipes/reasoner.yaml")
        earlier = parse_args(RunConfig, ["--config", recipe], prog="scotd run")
        earlier.run.stages = [s for s in STAGE_ORDER[:STAGE_ORDER.index("train") + 1] if s in earlier.run.stages]
        print(f"[scotd run] {recipe}: the recipe this one builds on, through its train stage", file=sys.stderr)
        run(earlier, (*chain, recipe))


def run(cfg: Any, chain: tuple[str, ...] = ()) -> dict:
    unknown = [s for s in cfg.run.stages + cfg.run.force if s not in STAGE_ORDER]
    if unknown:
        raise UserError(f"unknown stage(s) {unknown} in run.stages/run.force; valid: {', '.join(STAGE_ORDER)}")
    run_required(cfg.run.requires, chain)
    link_stages(cfg)
    fetch_missing_models(cfg)
    root = Path(cfg.run.dir)
    (root / "stages").mkdir(parents=True, exist_ok=True)
    save_yaml(cfg, root / "recipe.resolved.yaml")
    stages = build_stages(cfg)
    for name, stage in stages.items():  # each stage's own config, e.g. for torchrun -m distill.train --config
        save_yaml(stage.config, root / "configs" / f"{name}.yaml")
    rows, results = [], {}
    missing = [f"{s} needs {NEEDS[s]}" for s in cfg.run.stages if s in NEEDS and s not in stages]
    if missing:
        raise UserError(f"run.stages lists a stage its recipe does not configure: {'; '.join(missing)} "
                        "(or drop it from run.stages)")
    for name in [s for s in STAGE_ORDER if s in cfg.run.stages]:
        stage = stages[name]
        stamp_file = root / "stages" / f"{name}.json"
        record = stamp_record(stage.config, stage.inputs)
        if name not in cfg.run.force and is_current(stamp_file, record, stage):
            stamp = json.loads(stamp_file.read_text())
            print(f"[scotd run] {name}: up to date (inputs and config unchanged), skipped", file=sys.stderr)
            rows.append({"stage": name, "status": "skipped", "seconds": 0.0, "result": stamp.get("result", "")})
            continue
        started_file = root / "stages" / f"{name}.started.json"
        if name == "train" and name not in cfg.run.force and interrupted(started_file, record, stage):
            print(f"[scotd run] train: an earlier run of this stage with the same config and inputs was interrupted; "
                  f"resuming from its checkpoints in {Path(cfg.train.out) / 'checkpoints'}", file=sys.stderr)
            cfg.train.resume = True
            save_yaml(cfg.train, root / "configs" / "train.yaml")
        started_file.write_text(json.dumps(record, indent=2) + "\n")
        print(f"[scotd run] {name}: running", file=sys.stderr)
        started = time.perf_counter()
        try:
            result = stage.call()
        except (UserError, KeyboardInterrupt) as exc:  # keep the report of what finished, then stop
            rows.append({"stage": name, "status": "FAILED", "seconds": time.perf_counter() - started,
                         "result": str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__})
            _write_report(cfg, root, rows)
            raise
        seconds = time.perf_counter() - started
        line = stage.describe(result)
        results[name] = result
        stamp_file.write_text(json.dumps({**record, "outputs": stage.outputs, "seconds": round(seconds, 2),
                                          "result": line, "finished": time.strftime("%Y-%m-%dT%H:%M:%S")},
                                         indent=2, default=str) + "\n")
        rows.append({"stage": name, "status": "ran", "seconds": seconds, "result": line})
        started_file.unlink(missing_ok=True)
    table = _write_report(cfg, root, rows)
    print(table, end="")
    return {"stages": rows, "table": table}


def _write_report(cfg: Any, root: Path, rows: list[dict]) -> str:
    table = report_table(rows)
    (root / "report.md").write_text(f"# scotd run {root}\n\n{table}")
    (root / "run.json").write_text(json.dumps({"stages": rows, "git_commit": git_commit(), "hardware": hardware(),
                                               "versions": package_versions(PACKAGES)}, indent=2, default=str) + "\n")
    _plot_losses(cfg, root)
    return table


def _plot_losses(cfg: Any, root: Path) -> None:
    metrics = Path(cfg.train.out) / "metrics.jsonl"
    if "train" in cfg.run.stages and metrics.is_file():
        from distill.plots import plot_loss_curves

        plot_loss_curves({Path(cfg.train.out).name: metrics}, root / "loss.png")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and not argv[0].startswith("-"):  # scotd run RECIPE.yaml [--train.lr ...]
        argv = ["--config", argv[0], *argv[1:]]
    if not argv:
        raise ConfigError("scotd run needs a recipe: scotd run recipes/quickstart.yaml (see recipes/)")
    cfg = parse_args(RunConfig, argv, prog="scotd run", description=DESCRIPTION)
    run(cfg)
    return 0
