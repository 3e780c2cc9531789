"""The reasoner's model card, from what its runs wrote: per BBH file the reasoner against the untrained
base and Codex, its held-out wordings, training data and time, the export and its gates.

    scotd run recipes/reasoner-one-phase-fifth.yaml && scotd run recipes/reasoner-base.yaml
    scotd results --runs runs/reasoner-one-phase-fifth --out docs/results/reasoner-one-phase/shipped
    python scripts/reasoner_card.py      # -> models/scotd-reasoner-135m/README.md and docs/models/scotd-reasoner-135m.md

The training is told phase by phase: the recipes ``run.requires`` names, and theirs before them, first.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

from distill.bbh_reference import CODEX
from distill.results import ci_cell, train_segments
from distill.run import RunConfig
from serve.core.config import parse_args
from serve.core.records import read_jsonl
from serve.store.export_folder import REPORT_FILE


def bbh_table(student: dict, base: dict) -> list[str]:
    """A row per BBH file: the reasoner, its steps right, the base with BBH's 3-shot prompt, Codex."""
    lines = ["| BBH file | reasoner, int8, greedy (95% CI) | steps right (program grader) | untrained base, "
             "BBH 3-shot CoT (95% CI) | Codex answer-only | Codex CoT |", "|---|---|---|---|---|---|"]
    steps = (student.get("step_check") or {}).get("by_task", {})
    above = 0
    for task, result in sorted(student["greedy"]["by_task"].items()):
        name = task.removeprefix("bbh:")
        answer_only, cot = CODEX.get(name, (None, None))
        above += cot is not None and 100 * result["accuracy"] > cot
        check = steps.get(task)
        lines.append(" | ".join([f"| {name}", ci_cell(result), f"{check['steps_right']}/{check['steps']}" if check else "-",
                                 ci_cell((base.get("greedy") or {}).get("by_task", {}).get(task)),
                                 f"{answer_only:.1f}" if answer_only is not None else "-",
                                 f"{cot:.1f}" if cot is not None else "-"]) + " |")
    scored = [CODEX[t.removeprefix("bbh:")][1] for t in student["greedy"]["by_task"] if t.removeprefix("bbh:") in CODEX]
    codex_mean = f"{sum(scored) / len(scored):.1f}" if scored else "-"
    lines.append(f"| **mean over files** | {ci_cell(student['greedy'])} | - | {ci_cell(base.get('greedy'))} | - | "
                 f"{codex_mean} |")
    lines += ["", f"Above Codex CoT on **{above} of {len(scored)}** files."]
    return lines


def wording_table(student: dict) -> list[str]:
    """Held-out wordings (names, objects, verbs and sentences never trained on) beside BBH, per size."""
    transfer = (student.get("transfer") or {}).get("by_task") or {}
    if not transfer:
        return []
    lines = ["| held-out wording | reasoner (95% CI) | the BBH file of the same size |", "|---|---|---|"]
    for task, result in sorted(transfer.items()):
        family, size = task.removeprefix("gen:").split("?")[0].split(",")[0].split("/")
        bbh = student["greedy"]["by_task"].get(f"bbh:{family}_{size}")
        lines.append(f"| {task} | {ci_cell(result)} | {ci_cell(bbh)} |")
    return lines


def final_loss(metrics: Path, window: int = 80) -> float:
    """Mean logged loss over the last ``window`` steps (the last record of a step redone after a resume)."""
    last = {}
    for _, record in read_jsonl(metrics):
        if "loss" in record and "step" in record:
            last[record["step"]] = record["loss"]
    final = max(last)
    losses = [loss for step, loss in last.items() if step > final - window]
    return sum(losses) / len(losses)


def source_counts(recipe: dict) -> list[str]:
    """Each source of a recipe's sample stage with its number of questions (``?count=N``, else the limit)."""
    data = recipe["sample"]["data"]
    named = []
    for source in (s.strip() for s in data["source"].split(" + ")):
        spec, _, query = source.removeprefix("gen:").partition("?")
        params = dict(pair.split("=", 1) for pair in query.split("&") if "=" in pair)
        count = params.pop("count", data.get("limit"))
        wording = f", {params['wording']} wording" if "wording" in params else ""
        named.append(f"{spec}{wording} ({count})" if count else spec + wording)
    return named


def training_phase(recipe_path: str) -> dict:
    """What one recipe's training did: its resolved recipe, train summary, data counts and stage times."""
    run_dir = Path(parse_args(RunConfig, ["--config", recipe_path], prog="card").run.dir)
    recipe = yaml.safe_load((run_dir / "recipe.resolved.yaml").read_text())
    train_out = Path(recipe["train"]["out"])
    stamps = {p.stem: json.loads(p.read_text()) for p in (run_dir / "stages").glob("*.json")
              if not p.stem.endswith(".started")}
    minutes = {name: stamp.get("seconds", 0) / 60 for name, stamp in stamps.items()}
    segments = train_segments(train_out / "metrics.jsonl")
    minutes["train"] = sum(segments) / 60
    return {"path": recipe_path, "run_dir": run_dir, "recipe": recipe, "minutes": minutes, "segments": segments,
            "train": json.loads((train_out / "train_summary.json").read_text()),
            "data": json.loads((train_out / "run_info.json").read_text())["data"]}


def phase_chain(recipe_path: str) -> list[dict]:
    """The phases that built the recipe's student, earliest first: each required recipe's chain, then its own."""
    phase = training_phase(recipe_path)
    earlier = [p for required in phase["recipe"]["run"].get("requires") or [] for p in phase_chain(required)]
    return earlier + [phase]


def phase_lines(index: int, phase: dict, hardware: str) -> list[str]:
    recipe, train, data = phase["recipe"], phase["train"], phase["data"]
    sources = source_counts(recipe)
    minutes, segments = phase["minutes"], phase["segments"]
    return [
        f"- Phase {index} (`{phase['path']}`): {data['instances']:,} generated train-split questions from "
        f"{len(sources)} sources ({', '.join(sources)}), {data['targets']:,} rationales from scotd's exact program "
        f"teachers (docs/PROGRAM_TEACHERS.md); {train['global_step']:,} optimizer steps of "
        f"{recipe['train']['batch_size'] * recipe['train'].get('grad_accum', 1)} sequences from "
        f"`{recipe['train']['model']}`, lr {recipe['train']['lr']} {recipe['train']['scheduler']}, full fine-tune, "
        f"{train.get('precision', 'fp32')}; {train['num_input_tokens_seen']:,} tokens; train loss "
        f"{final_loss(Path(recipe['train']['out']) / 'metrics.jsonl'):.3f} over its last 80 steps.",
        f"  Time on {hardware}: " + ", ".join(f"{name} {m:.1f} min" for name, m in minutes.items() if m >= 0.1) +
        (f" (training interrupted and resumed {len(segments) - 1} time(s); its time is the sum of the segments, "
         "work redone after an interruption included)" if len(segments) > 1 else "") + ".",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="recipes/reasoner-one-phase-fifth.yaml",
                        help="the recipe that builds the reasoner")
    parser.add_argument("--results", type=Path, default=Path("docs/results/reasoner-one-phase/shipped.json"),
                        help="scotd results JSON holding the reasoner's row")
    parser.add_argument("--base_summary", type=Path, default=Path("docs/results/reasoner-base-3shot/summary.json"),
                        help="the eval summary.json of recipes/reasoner-base.yaml (the untrained base, 3-shot CoT)")
    parser.add_argument("--out", type=Path, nargs="+",
                        default=[Path("models/scotd-reasoner-135m/README.md"), Path("docs/models/scotd-reasoner-135m.md")])
    args = parser.parse_args()

    phases = phase_chain(args.recipe)
    final = phases[-1]
    student = next(r for r in json.loads(args.results.read_text()) if Path(r["run_dir"]) == final["run_dir"])
    base = {"greedy": json.loads(args.base_summary.read_text())} if args.base_summary.is_file() else {}
    per_file = sorted({result["n"] for result in student["greedy"]["by_task"].values()})
    recipe = final["recipe"]
    report_file = Path(recipe["export"]["out"]) / REPORT_FILE
    report = json.loads(report_file.read_text()) if report_file.is_file() else None
    check = student.get("step_check")

    text = [
        "# scotd-reasoner-135m",
        "",
        "SmolLM2-135M-Instruct fine-tuned by scotd (symbolic chain-of-thought distillation) on generated questions "
        "with program-teacher rationales, for the 15 algorithmic files of BIG-Bench Hard. It answers with short "
        "steps that restate the state they act on, then `So the answer is ...`. Built on a CPU by one command: "
        f"`scotd run {args.recipe}`.",
        "",
        "## BIG-Bench Hard, the 15 algorithmic files",
        "",
        f"Greedy decoding on the int8 ONNX export, {'-'.join(map(str, per_file))} items of each file (BBH's files "
        "hold 250; no item was trained on: 0 training questions equal a BBH item), 95% bootstrap intervals. The base "
        "is SmolLM2-135M-Instruct before training, asked with each file's own 3-shot chain-of-thought prompt, as "
        "the BBH paper asked Codex (code-davinci-002, 175B; its numbers from the paper's outputs), on the first "
        "50 items of each file.",
        "",
        *([f"**Partial**: {student['greedy']['n']} of the files' items scored so far (the files are scored in "
           f"turn, one item of each, so every row grows alike); rerunning `scotd run {args.recipe}` "
           "resumes the eval and this card is rewritten from its result.", ""]
          if student["greedy"].get("partial") else []),
        *bbh_table(student, base),
        "",
    ]
    wordings = wording_table(student)
    if wordings:
        text += ["## Wordings it never saw", "",
                 "Generated questions whose names, objects, verbs and sentences come from pools held out of training:",
                 "", *wordings, ""]
    if check:
        text += [f"The program graders check every step of the reasoner's BBH rationales: "
                 f"{check['steps_right']}/{check['steps']} steps right; the answer is the one its own final claim "
                 f"points to on {check['answer_follows_claim']}/{check['answers']} graded answers.", ""]
    text += ["## Training", ""]
    for index, phase in enumerate(phases, 1):
        text += phase_lines(index, phase, student.get("hardware") or "this machine")
    text.append("")
    if report:
        gates = report["gates"]
        accuracy = gates.get("accuracy") or {}
        text += [
            "## Export",
            f"- `{recipe['export']['out']}`: ONNX {report['precision']}, {report['size_mb']['export']} MB, "
            f"{'gates passed' if report.get('passed') else 'GATES FAILED: ' + '; '.join(report.get('failures', []))}.",
        ]
        if accuracy:
            reference = "not decoded (it could not change the verdict)" if accuracy["reference_accuracy"] is None \
                else f"{accuracy['reference_accuracy']}%"
            text.append(f"- Accuracy gate on `{accuracy['task']}` ({accuracy['examples']} questions): PyTorch "
                        f"{reference}, export {accuracy['export_accuracy']}%.")
        text.append("")
    text += [
        "## Limits",
        "- It has learned these 15 tasks' step formats, not general reasoning: the other 12 BBH tasks and "
        "other questions get fluent, often wrong steps (docs/RESULTS.md).",
        f"- Its training sequences are cut at {recipe['train']['data']['max_length']:,} tokens; the longest Dyck and "
        "seven-object items need more.",
        "- English only; the answer is whatever its last step says, so read the steps.",
        "",
    ]
    for out in args.out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("\n".join(text))
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
