"""``scotd eval``: accuracy of a student (or any model folder) on a task, with a confidence interval.

Recipe: load the questions -> load an engine through ``serve.engines.interface.load_engine`` (a
PyTorch folder gets the TorchEngine, an exported ONNX folder the OnnxEngine, so
quantization loss is measured with the same code) -> render prompts in the student
format -> batched greedy decoding, or self-consistency (k samples, majority vote over
parsed answers) -> parse, score, bootstrap a 95% interval -> write ``predictions.jsonl``
(one line per question), ``summary.json`` and ``summary.md``.

A long eval is resumable: each decoded batch is appended to ``predictions.partial.jsonl`` (headed by a
fingerprint of the model files and decoding settings) and ``summary.partial.md`` is rewritten, so an
interrupted eval rerun with the same settings decodes only the questions it has not scored yet. The
questions of a mixture are decoded in turn, one from each task, so a partial summary estimates every
task at once (and long and short answers share the batch); the written rows keep the input's order.

Label-only students are scored the same way with a short generation budget; their
output is the answer alone, parsed as if it followed "So the answer is".
``--compare DIR DIR ...`` prints one table over earlier eval folders instead, with each folder after the
first paired against the first on the questions both scored.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal, Optional, Sequence

import numpy as np

from distill.eval_folder import PARTIAL_FILE, eval_rows, eval_summary, partial_rows
from distill.intervals import bootstrap_interval
from distill.paired import paired_difference, paired_table
from serve.core.answers import answers_match, grade, majority_vote
from serve.core.config import option, parse_args, save_yaml
from serve.core.errors import UserError
from serve.core.records import Example, read_jsonl
from serve.core.student_format import ANSWER_PREFIX, render_prompt, student_info
from serve.data.sources import QuestionSource
from serve.apps.infer import answer_all
from serve.engines.interface import VOTE_TEMPERATURE, SamplingParams, detect_backend, load_engine
from serve.store.registry import resolve_model_dir

SUMMARY_COLUMNS = ("run", "model", "backend", "mode", "decoding", "n", "accuracy", "95% CI", "parsed", "s/question")


@dataclass
class EvalConfig:
    model: str = option("", "model folder (PyTorch or exported ONNX) or registry name", positional=True)
    out: str = option("", "eval folder (default: runs/eval/<model folder name>)")
    backend: Literal["auto", "torch", "onnx"] = option("auto", "engine; auto picks by the folder's contents")
    mode: Literal["auto", "cot", "label_only"] = option(
        "auto", "what the model writes; auto reads scotd_student.json in the model folder (else cot)")
    data: QuestionSource = option(default_factory=lambda: QuestionSource(split="test"), help="the questions to score")
    prompt: Literal["student", "few_shot", "bbh_cot"] = option(
        "student", "student: the question alone, as students are trained; few_shot: the teacher's few-shot CoT "
                   "prompt (distill/prompts), for scoring an untrained base model; bbh_cot: a BBH file's own 3-shot "
                   "CoT prompt as the BBH paper scored Codex with it (bbh: sources only; SCOTD_BBH_PROMPTS)")
    prompt_set: str = option("auto", "few_shot prompt set: auto (by answer type), a name in distill/prompts, or a path")
    sampling: SamplingParams = option(
        default_factory=lambda: SamplingParams(max_new_tokens=128, seed=0),
        help="decoding: greedy by default; sampling.n > 1 is self-consistency, a majority vote over n samples "
             f"(at temperature {VOTE_TEMPERATURE} unless one is set); label_only answers get 16 tokens")
    batch_size: int = option(8, "rows decoded together (an ONNX export refills a finished row with the next "
                                "question at once; PyTorch decodes fixed batches)")
    bootstrap: int = option(1000, "bootstrap resamples for the 95% interval")
    seed: int = option(0, "bootstrap seed (the sampling seed is sampling.seed)")
    name: str = option("", "run label in tables (default: the out folder name)")
    compare: list[str] = option(default_factory=list, help="eval folders to tabulate together (no evaluation)")


DESCRIPTION = "Evaluate a student with greedy CoT or self-consistency decoding; accuracy with a 95% bootstrap CI."


def student_mode(model_dir: Path, requested: str) -> str:
    if requested != "auto":
        return requested
    return student_info(model_dir).get("mode", "cot")


def parse_output(text: str, example: Example, mode: str) -> Optional[str]:
    return grade(f"{ANSWER_PREFIX} {text.strip()}" if mode == "label_only" else text, example)[0]


def prompt_renderer(engine, cfg: EvalConfig) -> tuple[Callable[[Example], str], list[str]]:
    """How a question becomes the prompt string, and the stop strings that go with it."""
    if cfg.prompt == "student":
        return (lambda e: render_prompt(e.question, e.choices, tokenizer=engine)), []
    from distill.prompting import TEXT_STOP, build_prompt, prompt_set_for

    if cfg.prompt == "bbh_cot":  # a completion prompt, as Codex got it: no chat template
        from serve.data.bbh import cot_prompt_for

        return cot_prompt_for, list(TEXT_STOP)

    prompt_sets: dict = {}
    use_chat = bool(engine.chat_template)

    def few_shot(example: Example) -> str:
        prompt = build_prompt(example, prompt_set_for(example, cfg.prompt_set, prompt_sets))
        return engine.apply_chat_template(list(prompt.messages)) if use_chat else prompt.text

    return few_shot, ([] if use_chat else list(TEXT_STOP))


def row_key(example: Example) -> str:
    return f"{example.task}\t{example.id}"


def fingerprint(cfg: EvalConfig, model_dir: Path, backend: str, mode: str) -> str:
    """What decides an eval's outputs besides its questions: the model's files and the decoding settings."""
    files = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in model_dir.iterdir() if p.is_file())
    sampling = dataclasses.asdict(cfg.sampling)
    if not sampling["stop_on_loop"]:  # off, as before the option existed: earlier partial rows still count
        del sampling["stop_on_loop"]
    settings = {"files": files, "backend": backend, "mode": mode, "prompt": cfg.prompt, "prompt_set": cfg.prompt_set,
                "sampling": sampling}
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


def scored_earlier(out: Path, key: str, examples: Sequence[Example]) -> dict[str, dict]:
    """Rows an earlier eval with the same fingerprint wrote, for questions still asked verbatim: an interrupted
    eval's partial file or, when it finished (a larger ``data.limit`` asked afterwards), its predictions. A
    partial file from other settings is moved aside (``.superseded``), never deleted."""
    partial, finished = out / PARTIAL_FILE, out / "predictions.jsonl"
    if partial.is_file():
        header, rows = partial_rows(partial)
        if header.get("fingerprint") != key:
            aside = partial.with_suffix(".superseded.jsonl")
            partial.replace(aside)
            print(f"[scotd eval] {partial.name} came from another model or other settings; moved to {aside.name}, "
                  "starting afresh", file=sys.stderr)
            return {}
    elif finished.is_file() and (out / "summary.json").is_file() and \
            json.loads((out / "summary.json").read_text()).get("fingerprint") == key:
        rows = [row for _, row in read_jsonl(finished)]
    else:
        return {}
    questions = {row_key(e): e.question for e in examples}
    return {row["key"]: row for row in rows if questions.get(row.get("key")) == row.get("question")}


def interleaved_by_task(examples: Sequence[Example]) -> list[Example]:
    """One question from each task in turn (each task's own order kept), until every task runs out."""
    queues: dict[str, list[Example]] = {}
    for example in examples:
        queues.setdefault(example.task or "", []).append(example)
    rounds = max((len(q) for q in queues.values()), default=0)
    return [q[i] for i in range(rounds) for q in queues.values() if i < len(q)]


def score(engine, examples: Sequence[Example], mode: str, cfg: EvalConfig,
          done: Optional[dict[str, dict]] = None, on_batch: Callable[[list[dict]], None] = lambda rows: None
          ) -> list[dict]:
    """One result row per example, in the examples' order; rows in ``done`` are reused, the others decoded
    ``batch_size`` prompts at a time and handed to ``on_batch`` as each batch finishes."""
    done = dict(done or {})
    render, stop = prompt_renderer(engine, cfg)
    sampling = dataclasses.replace(cfg.sampling.for_vote(), stop=[*cfg.sampling.stop, *stop],
                                   max_new_tokens=cfg.sampling.max_new_tokens if mode == "cot" else 16)
    vote = sampling.n > 1
    todo = interleaved_by_task([e for e in examples if row_key(e) not in done])
    resumed = f", {len(examples) - len(todo)} scored earlier" if len(todo) < len(examples) else ""
    started = time.perf_counter()
    for batch, outputs in answer_all(engine, todo, render, sampling, cfg.batch_size,
                                     f"eval {mode} n={sampling.n}{resumed}"):
        seconds, rows = (time.perf_counter() - started) / len(batch), []
        for example, samples in zip(batch, outputs):
            parsed = [parse_output(text, example, mode) for text in samples]
            answer, votes = majority_vote(parsed) if vote else (parsed[0], {})
            row = {"key": row_key(example), "id": example.id, "task": example.task, "question": example.question,
                   "choices": example.choices, "output": samples[0], "parsed": answer, "gold": example.answer,
                   "correct": answers_match(answer, example.answer), "seconds": round(seconds, 3)}
            if vote:
                row.update(samples=samples, sample_answers=parsed, votes=votes)
            rows.append(row)
            done[row["key"]] = row
        on_batch(rows)
        started = time.perf_counter()
    return [done[row_key(e)] for e in examples]


class PartialWriter:
    """Appends each finished batch to the partial predictions and rewrites ``summary.partial.md``."""

    def __init__(self, out: Path, key: str, done: dict[str, dict], summary: Callable[[list[dict]], dict]):
        out.mkdir(parents=True, exist_ok=True)
        self.path, self.out, self.summary = out / PARTIAL_FILE, out, summary
        self.rows = list(done.values())
        if not self.path.is_file():
            self.path.write_text(json.dumps({"fingerprint": key}) + "\n", encoding="utf-8")

    def __call__(self, rows: list[dict]) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        self.rows += rows
        summary = {**self.summary(self.rows), "partial": True}
        (self.out / "summary.partial.json").write_text(json.dumps(summary, indent=2) + "\n")
        (self.out / "summary.partial.md").write_text(f"Partial: {len(self.rows)} questions scored so far.\n\n"
                                                     + markdown_table([summary]) + task_table(summary))


def summarize(rows: list[dict], cfg: EvalConfig, model_dir: Path, backend: str, mode: str, seconds: float) -> dict:
    correct = [r["correct"] for r in rows]
    low, high = bootstrap_interval(correct, cfg.bootstrap, cfg.seed)
    sampling = cfg.sampling.for_vote()
    decoding = ("greedy" if sampling.greedy else f"sampled T={sampling.temperature}") if sampling.n == 1 \
        else f"self-consistency n={sampling.n} T={sampling.temperature}"
    return {
        "run": cfg.name or Path(cfg.out).name, "model": str(model_dir), "backend": backend, "mode": mode,
        "decoding": decoding
                    + (" few-shot" if cfg.prompt == "few_shot" else ""),
        "source": cfg.data.source, "split": cfg.data.split, "n": len(rows),
        "accuracy": float(np.mean(correct)) if rows else 0.0, "ci95": [low, high],
        "parsed_fraction": float(np.mean([r["parsed"] is not None for r in rows])) if rows else 0.0,
        "seconds": round(seconds, 2), "seconds_per_question": round(seconds / max(1, len(rows)), 3),
        "by_task": by_task(rows, cfg),
    }


def by_task(rows: list[dict], cfg: EvalConfig) -> dict[str, dict]:
    """Accuracy with a 95% CI per task, when the questions come from several tasks (a mixture source)."""
    groups: dict[str, list[bool]] = {}
    for row in rows:
        groups.setdefault(row.get("task") or "?", []).append(row["correct"])
    if len(groups) < 2:
        return {}
    return {task: {"n": len(correct), "accuracy": float(np.mean(correct)),
                   "ci95": list(bootstrap_interval(correct, cfg.bootstrap, cfg.seed))}
            for task, correct in groups.items()}


def task_table(summary: dict) -> str:
    """Per-task accuracy with its 95% CI, when the questions come from several tasks."""
    if not summary["by_task"]:
        return ""
    lines = ["", "| task | n | accuracy | 95% CI |", "|---|---|---|---|"]
    lines += [f"| {task} | {s['n']} | {s['accuracy']:.3f} | [{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}] |"
              for task, s in summary["by_task"].items()]
    return "\n".join(lines) + "\n"


def table_row(summary: dict) -> list[str]:
    low, high = summary["ci95"]
    return [summary["run"], Path(summary["model"]).parent.name + "/" + Path(summary["model"]).name,
            summary["backend"], summary["mode"], summary["decoding"], str(summary["n"]),
            f"{summary['accuracy']:.3f}", f"[{low:.3f}, {high:.3f}]", f"{summary['parsed_fraction']:.2f}",
            f"{summary['seconds_per_question']:.2f}"]


def markdown_table(summaries: Sequence[dict]) -> str:
    lines = ["| " + " | ".join(SUMMARY_COLUMNS) + " |", "|" + "---|" * len(SUMMARY_COLUMNS)]
    lines += ["| " + " | ".join(table_row(s)) + " |" for s in summaries]
    return "\n".join(lines) + "\n"


def compare(folders: Sequence[str]) -> str:
    """One table over eval folders (finished or partial), then each folder after the first minus the
    first, paired on the questions both scored."""
    summaries = [eval_summary(folder) for folder in map(Path, folders)]
    for folder, summary in zip(folders, summaries):
        if summary is None:
            raise UserError(f"'{folder}' has no summary.json (nor a partial one); pass eval folders written by "
                            "scotd eval --out DIR")
    predictions = [eval_rows(folder) for folder in map(Path, folders)]
    names = [f"{folder.parent.name}/{folder.name}" for folder in map(Path, folders)]
    comparisons = [(name, paired_difference(predictions[0], rows)) for name, rows in zip(names[1:], predictions[1:])]
    return markdown_table(summaries) + paired_table(names[0], comparisons)


def run(cfg: EvalConfig) -> dict:
    if cfg.compare:
        table = compare(cfg.compare)
        print(table, end="")
        return {"table": table}
    if not cfg.model:
        raise UserError("eval needs a model: scotd eval MODEL_DIR --data.source bbh:TASK (or --compare DIR ...)")
    if not cfg.data.source:
        raise UserError("eval needs data.source (e.g. --data.source bbh:navigate, gen:navigate or a .jsonl file)")
    model_dir = resolve_model_dir(cfg.model)
    if not cfg.out:
        cfg.out = str(Path("runs") / "eval" / model_dir.name)
    out = Path(cfg.out)
    examples = cfg.data.load()
    if not examples:
        raise UserError(f"no questions in '{cfg.data.source}' split {cfg.data.split}; pick another split or source")
    mode = student_mode(model_dir, cfg.mode)
    backend = detect_backend(model_dir) if cfg.backend == "auto" else cfg.backend
    options = {"batch_size": cfg.batch_size} if backend == "torch" else {}  # the ONNX engine batches per call
    engine = load_engine(model_dir, backend=backend, **options)
    key = fingerprint(cfg, model_dir, engine.backend, mode)
    done = scored_earlier(out, key, examples)
    writer = PartialWriter(out, key, done, lambda rows: summarize(rows, cfg, model_dir, engine.backend, mode,
                                                                  sum(r.get("seconds", 0.0) for r in rows)))
    try:
        rows = score(engine, examples, mode, cfg, done, writer)
    finally:
        engine.close()
    summary = {**summarize(rows, cfg, model_dir, engine.backend, mode, sum(r.get("seconds", 0.0) for r in rows)),
               "fingerprint": key}  # a later eval of more questions with the same settings reuses these rows
    with (out / "predictions.jsonl").open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "summary.md").write_text(markdown_table([summary]) + task_table(summary))
    for finished in (out / PARTIAL_FILE, out / "summary.partial.md", out / "summary.partial.json"):
        finished.unlink(missing_ok=True)  # predictions.jsonl now holds every row
    save_yaml(cfg, out / "eval_config.yaml")
    low, high = summary["ci95"]
    print(f"[scotd eval] {summary['run']}: accuracy {summary['accuracy']:.3f} [{low:.3f}, {high:.3f}] "
          f"on {summary['n']} questions ({mode}, {summary['decoding']}) -> {out}")
    return summary


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(EvalConfig, argv, prog="scotd eval", description=DESCRIPTION)
    run(cfg)
    return 0
