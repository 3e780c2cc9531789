"""``scotd infer``: answer a JSONL file of questions offline, one output line per input line.

Each input line is a JSON object with ``question`` and optionally ``id``, ``choices``
(a list of strings), ``answer`` (gold, to score against) and ``answer_type``; other
fields (an Example's ``task``, ``split``, ``meta``) are ignored. A line without an
``id`` is known by its line number (``line-7``). The output is appended and
flushed batch by batch and keyed by ``id``, so a rerun answers only what is missing.
Bad lines are reported with their line number and skipped; the rest still runs.

``answer_all`` is the loop that answers many questions, here and in ``scotd eval``: an ONNX export's
continuous batch refills a finished row with the next question at once.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Literal, Optional, Sequence

from serve.apps.batching import Batcher, Ticket, collect
from serve.apps.reply import Reply, finish
from serve.core.answers import answers_match, infer_answer_type, majority_vote
from serve.core.config import option, parse_args
from serve.core.errors import UserError
from serve.core.records import JsonlStore
from serve.core.student_format import render_prompt
from serve.engines.interface import Engine, Item, SamplingParams, generate_in_batches
from serve.engines.speculative_session import MIN_FED


@dataclass
class InferConfig:
    input: Path = option(help="JSONL file of questions (one JSON object per line)", aliases=("--in",))
    output: Path = option(help="JSONL file of answers; appended to, so a rerun resumes", aliases=("--out",))
    model: Optional[str] = option(None, "registry name or folder; default: the distilled reasoner once built "
                                        "(recipes/reasoner-one-phase-fifth.yaml), else smollm2-135m-instruct "
                                        "(int8 ONNX or PyTorch)")
    backend: Literal["auto", "torch", "onnx"] = option("auto", "engine backend: auto (from the folder), torch or onnx")
    sampling: SamplingParams = option(default_factory=lambda: SamplingParams(seed=0),
                                      help="decoding; sampling.n > 1 takes the majority vote (self-consistency)")
    batch_size: int = option(8, "rows decoded together (an ONNX export refills a finished row at once), and "
                                "questions per flush to --out")


@dataclass
class Question:
    line: int
    id: str
    question: str
    choices: Optional[list[str]] = None
    gold: Optional[str] = None
    answer_type: Optional[str] = None


def _warn(message: str) -> None:
    print(f"scotd infer: warning: {message}", file=sys.stderr, flush=True)


def parse_line(raw: str, line: int, where: str) -> Question:
    """One input line as a Question, or UserError naming what is wrong with it."""
    try:
        item = json.loads(raw.strip())
    except json.JSONDecodeError as exc:
        raise UserError(f"{where}: not valid JSON ({exc.msg} at character {exc.pos + 1})") from None
    if not isinstance(item, dict):
        raise UserError(f"{where}: expected a JSON object with a 'question', got {type(item).__name__}")
    question = item.get("question")
    if not isinstance(question, str) or not question.strip():
        raise UserError(f"{where}: no 'question' string (fields present: {', '.join(item) or 'none'})")
    choices = item.get("choices")
    if choices is not None and (not isinstance(choices, list) or not all(isinstance(c, str) for c in choices)):
        raise UserError(f"{where}: 'choices' must be a list of strings or null, got {choices!r}")
    gold = item.get("answer")
    return Question(line=line, id=str(item.get("id", f"line-{line}")), question=question, choices=choices or None,
                    gold=None if gold is None else str(gold), answer_type=item.get("answer_type"))


def read_questions(path: Path) -> tuple[list[Question], int]:
    """Valid questions of ``path`` and the number of bad lines (each reported as a warning)."""
    if not path.is_file():
        raise UserError(f"input file '{path}' not found; pass --in with a JSONL file of {{\"question\": ...}} lines")
    questions, bad, seen = [], 0, {}
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            where = f"{path}:{line}"
            try:
                q = parse_line(raw, line, where)
                if q.id in seen:
                    raise UserError(f"{where}: id '{q.id}' is already used on line {seen[q.id]}")
            except UserError as exc:
                _warn(f"{exc}; line skipped")
                bad += 1
                continue
            seen[q.id] = line
            questions.append(q)
    return questions, bad


def answer_record(q: Question, replies: list[Reply], model: str) -> dict[str, Any]:
    answer_type = q.answer_type or infer_answer_type(q.choices, q.gold)
    prediction, votes = majority_vote([r.answer for r in replies])
    first = replies[0]
    record = {"id": q.id, "question": q.question, "choices": q.choices, "output": first.text,
              "reasoning": first.reasoning, "prediction": prediction, "answer_type": answer_type,
              "tokens": first.tokens, "model": model, "line": q.line}
    if len(replies) > 1:
        record["votes"] = dict(votes)
        record["samples"] = [r.text for r in replies]
    if q.gold is not None:
        record.update(gold=q.gold, correct=answers_match(prediction, q.gold))
    return record


def answer_all(engine: Engine, items: Sequence[Item], render: Callable[[Item], str], sampling: SamplingParams,
               rows: int, desc: str) -> Iterator[tuple[list[Item], list[list[str]]]]:
    """The batch-answer loop of ``scotd eval`` and ``scotd infer``: ``(items, completions)`` groups of up to
    ``rows`` items in the items' order, ``sampling.n`` completions each, with a progress bar.

    Where the engine offers a continuous batch, all items are queued at once and a row freed by a short
    answer takes the next question at once, so a batch never waits for its longest rationale; the rows
    are sized to the longest prompt plus ``max_new_tokens``. Otherwise fixed batches of ``rows`` prompts."""
    from tqdm import tqdm

    prompts = [render(item) for item in items]
    counts = [len(engine.encode(prompt)) for prompt in prompts] if engine.batches and rows > 1 and items else []
    capacity = max(counts, default=0) + sampling.max_new_tokens + MIN_FED
    batcher = Batcher(engine, max(rows, sampling.n), capacity=capacity) if counts else None  # n choices: one batch
    if batcher is None or batcher.row_batch is None:
        if batcher is not None:
            batcher.close()
        yield from generate_in_batches(engine, items, render, sampling, rows, desc)
        return
    tickets = [Ticket(prompt, sampling, deadline=float("inf"), prompt_tokens=count)
               for prompt, count in zip(prompts, counts)]
    batcher.submit_all(tickets)
    try:
        with tqdm(total=len(items), desc=desc, unit="q", dynamic_ncols=True) as bar:
            for start in range(0, len(items), rows):
                group = tickets[start:start + rows]
                yield list(items[start:start + rows]), [[text for text, _ in collect(batcher, t)] for t in group]
                bar.update(len(group))
    finally:  # an interrupted caller: the batcher drops what is left instead of decoding it for nobody
        for ticket in tickets:
            ticket.cancelled.set()
        batcher.close()


def run(cfg: InferConfig) -> dict[str, Any]:
    from serve.apps.model_pick import model_label, resolve_serving_model
    from serve.engines.interface import load_engine

    if cfg.sampling.n < 1 or cfg.batch_size < 1:
        raise UserError("--sampling.n and --batch_size must be at least 1")
    if Path(cfg.input).resolve() == Path(cfg.output).resolve():
        raise UserError("--in and --out are the same file; write answers to another file")
    questions, bad = read_questions(cfg.input)
    store = JsonlStore(cfg.output, key=lambda record: str(record["id"]))
    pending = [q for q in questions if q.id not in store]
    summary = {"input_lines_valid": len(questions), "bad_lines": bad, "already_answered": len(questions) - len(pending),
               "answered": 0, "correct": 0, "scored": 0, "output": str(cfg.output)}
    if pending:
        model_dir = resolve_serving_model(cfg.model)
        engine = load_engine(model_dir, backend=cfg.backend)
        label = model_label(model_dir)
        sampling = cfg.sampling.for_vote()

        def render(q: Question) -> str:
            return render_prompt(q.question, q.choices, tokenizer=engine)

        for batch, outputs in answer_all(engine, pending, render, sampling, cfg.batch_size, "scotd infer"):
            records = []
            for q, texts in zip(batch, outputs):
                answer_type = q.answer_type or infer_answer_type(q.choices, q.gold)
                replies = [finish(Reply(text=t), engine, q.choices, answer_type, 1) for t in texts]
                records.append(answer_record(q, replies, label))
            store.append(records)
            for record in records:
                summary["answered"] += 1
                if "correct" in record:
                    summary["scored"] += 1
                    summary["correct"] += int(record["correct"])
    store.close()
    return summary


def main(argv: list[str]) -> int:
    cfg = parse_args(InferConfig, argv, prog="scotd infer",
                     description="Answer a JSONL file of questions with the student format; resumable.")
    summary = run(cfg)
    accuracy = (f", accuracy {summary['correct']}/{summary['scored']}" if summary["scored"] else "")
    print(f"scotd infer: {summary['answered']} answered, {summary['already_answered']} already in "
          f"{summary['output']}, {summary['bad_lines']} bad line(s) skipped{accuracy}", file=sys.stderr)
    return 0
