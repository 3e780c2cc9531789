"""How good is a teacher? Accuracy, pass@N and majority-vote accuracy over a CoT JSONL.

``scotd teacher-report runs/teacher.jsonl --data.source gen:navigate --data.split dev --data.limit 10``

``scotd sample`` prints accuracy and pass@N for everything it sampled; this report adds the
majority vote over each question's samples (the teacher's own self-consistency) and the
share of the most common gold answer, and can restrict itself to the questions of a smaller
seeded subset, so two teachers sampled on different-sized slices are compared on the same
questions.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Optional

from distill.cot_record import CoTRecord
from serve.core.answers import majority_vote
from serve.core.config import option, parse_args
from serve.core.errors import UserError
from serve.core.records import read_records
from serve.data.sources import QuestionSource


@dataclass
class TeacherReportConfig:
    cots: str = option("", "CoT JSONL written by scotd sample", positional=True)
    data: QuestionSource = option(default_factory=QuestionSource,
                                  help="restrict the report to these questions (no source: every question in the file)")


def teacher_report(records: list[CoTRecord], gold: Optional[dict[str, str]] = None) -> dict:
    """``gold`` (example id -> answer) restricts the report to those questions."""
    if gold is not None:
        records = [r for r in records if r.example_id in gold]
    gold = gold or {r.example_id: r.gold for r in records}
    by_question: dict[str, list[CoTRecord]] = defaultdict(list)
    for record in records:
        by_question[record.example_id].append(record)
    if not by_question:
        return {"questions": 0}

    def vote(samples: list[CoTRecord]) -> Optional[str]:
        return majority_vote([s.prediction for s in samples])[0]

    answered = [gold[q] for q in by_question]
    return {
        "questions": len(by_question), "samples": len(records),
        "samples_per_question": round(len(records) / len(by_question), 2),
        "parse_rate": sum(r.prediction is not None for r in records) / len(records),
        "accuracy": sum(r.correct for r in records) / len(records),
        "pass_at_n": sum(any(s.correct for s in v) for v in by_question.values()) / len(by_question),
        "majority_vote_accuracy": sum(vote(v) == gold[q] for q, v in by_question.items()) / len(by_question),
        "most_common_gold_share": Counter(answered).most_common(1)[0][1] / len(answered),
    }


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(TeacherReportConfig, argv, prog="scotd teacher-report", description=__doc__.splitlines()[0])
    if not cfg.cots:
        raise UserError("teacher-report needs the CoT JSONL: scotd teacher-report runs/cots.jsonl")
    gold = {e.id: e.answer for e in cfg.data.load()} if cfg.data.source else None
    report = teacher_report(read_records(cfg.cots, CoTRecord), gold)
    print(f"{cfg.cots}: " + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                                      for k, v in report.items()))
    return 0
