"""The reasoner's model card, from what its run wrote: per-family held-out accuracy against the
untrained base, training data and time, the export and its gates.

    scotd run recipes/reasoner.yaml && scotd run recipes/reasoner-base.yaml
    scotd results --runs runs/reasoner runs/reasoner-base --out docs/results/reasoner --plot false
    python scripts/reasoner_card.py      # -> models/scotd-reasoner-135m/README.md and docs/models/scotd-reasoner-135m.md
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

from distill.results import ci_cell
from serve.store.export_folder import REPORT_FILE


def family_table(student: dict, base: dict) -> list[str]:
    lines = ["| task (test split) | reasoner, greedy (95% CI) | reasoner's steps right (program grader) | "
             "untrained base, same prompt (95% CI) |", "|---|---|---|---|"]
    steps = (student.get("step_check") or {}).get("by_task", {})
    for task in sorted(student["greedy"]["by_task"]):
        check = steps.get(task)
        graded = f"{check['steps_right']}/{check['steps']}" if check else "-"
        lines.append(f"| {task} | {ci_cell(student['greedy']['by_task'][task])} | {graded} | "
                     f"{ci_cell((base.get('greedy') or {}).get('by_task', {}).get(task))} |")
    lines.append(f"| **all** | {ci_cell(student['greedy'])} | - | {ci_cell(base.get('greedy'))} |")
    return lines


def train_segments(metrics: Path) -> list[float]:
    """Seconds of each training segment: train_runtime restarts from zero when a run is resumed."""
    segments, last = [], None
    for line in metrics.read_text().splitlines():
        runtime = json.loads(line).get("train_runtime")
        if runtime is None:
            continue
        if last is None or runtime < last:
            segments.append(0.0)
        segments[-1], last = runtime, runtime
    return segments


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=Path("runs/reasoner"))
    parser.add_argument("--results", type=Path, default=Path("docs/results/reasoner.json"))
    parser.add_argument("--out", type=Path, nargs="+",
                        default=[Path("models/scotd-reasoner-135m/README.md"), Path("docs/models/scotd-reasoner-135m.md")])
    args = parser.parse_args()

    rows = json.loads(args.results.read_text())
    student = next(r for r in rows if r["run_dir"].rstrip("/") == str(args.run))
    base = next((r for r in rows if r is not student), {})
    recipe = yaml.safe_load((args.run / "recipe.resolved.yaml").read_text())
    train = json.loads((Path(recipe["train"]["out"]) / "train_summary.json").read_text())
    stamps = {p.stem: json.loads(p.read_text()) for p in (args.run / "stages").glob("*.json")
              if not p.stem.endswith(".started")}
    report_file = Path(recipe["export"]["out"]) / REPORT_FILE
    report = json.loads(report_file.read_text()) if report_file.is_file() else None
    sources = [s.strip() for s in recipe["sample"]["data"]["source"].split(" + ")]
    check = student.get("step_check")
    minutes = {name: stamp.get("seconds", 0) / 60 for name, stamp in stamps.items()}
    segments = train_segments(Path(recipe["train"]["out"]) / "metrics.jsonl")
    minutes["train"] = sum(segments) / 60

    text = [
        "# scotd-reasoner-135m",
        "",
        "SmolLM2-135M-Instruct fine-tuned by scotd (symbolic chain-of-thought distillation) to answer with a short "
        "step-by-step rationale that restates the whole state at every step, then `So the answer is ...`. "
        "Built on a CPU by one command: `scotd run recipes/reasoner.yaml`.",
        "",
        "## Held-out accuracy per task",
        "",
        "Greedy decoding, test split of each task (never sampled or trained on), 95% bootstrap intervals. "
        "The base is the same SmolLM2-135M-Instruct before training, asked with the same prompt.",
        "",
        *family_table(student, base),
        "",
    ]
    if check:
        text += [f"The program graders check every step of the reasoner's rationales: "
                 f"{check['steps_right']}/{check['steps']} steps right over all tasks (most of the misses are in "
                 f"the long word-sorting and Dyck rationales); the answer letter is the one its own "
                 f"final claim points to on {check['answer_follows_claim']}/{check['answers']} graded answers.", ""]
    text += [
        "## Training",
        f"- Data: {recipe['sample']['data']['limit']} train-split questions from each of {len(sources)} BIG-bench "
        f"sources ({', '.join(s.removeprefix('bigbench:') for s in sources)}), "
        f"{recipe['sample']['sampling']['n']} rationales each from scotd's exact program teachers "
        "(docs/PROGRAM_TEACHERS.md); one rationale per question drawn each epoch.",
        f"- {train['global_step']} optimizer steps of {recipe['train']['batch_size']} sequences, lr "
        f"{recipe['train']['lr']} {recipe['train']['scheduler']}, full fine-tune, {train.get('precision', 'fp32')}; "
        f"{train['num_input_tokens_seen']:,} tokens; final train loss {train['train_loss']:.3f}.",
        f"- Time on {student.get('hardware') or 'this machine'}: " +
        ", ".join(f"{name} {m:.1f} min" for name, m in minutes.items() if m >= 0.1) +
        (f" (training was interrupted and resumed {len(segments) - 1} time(s); its time is the sum of the "
         "segments, work redone after an interruption included)" if len(segments) > 1 else "") + ".",
        "",
    ]
    if report:
        gates = report["gates"]
        accuracy = gates.get("accuracy") or {}
        text += [
            "## Export",
            f"- `{recipe['export']['out']}`: ONNX {report['precision']}, {report['size_mb']['export']} MB, "
            f"{'gates passed' if report.get('passed') else 'GATES FAILED: ' + '; '.join(report.get('failures', []))}.",
        ]
        if accuracy:
            text.append(f"- Accuracy gate on `{accuracy['task']}` ({accuracy['examples']} questions): PyTorch "
                        f"{accuracy['reference_accuracy']}%, export {accuracy['export_accuracy']}%.")
        text.append("")
    text += [
        "## Limits",
        "- It has learned these task formats, not general reasoning: other questions get fluent, often wrong steps.",
        "- Harder variants than those trained on (five or seven objects, more digits) are mostly beyond it "
        "(docs/RESULTS.md, transfer columns).",
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
