from __future__ import annotations

import json

from distill.sample import SampleConfig, run
from serve.config import build


def test_program_teacher_writes_correct_and_varied_rationales(tmp_path):
    out = tmp_path / "cots.jsonl"
    cfg = build(SampleConfig, {"data": {"source": "bigbench:tracking_shuffled_objects/three_objects", "limit": 6},
                               "teacher": {"backend": "program", "model": "auto"},
                               "sampling": {"n": 10}, "out": str(out)})
    summary = run(cfg)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 60 and summary["teacher_accuracy"] == 1.0 and summary["parse_rate"] == 1.0
    by_example: dict[str, set[str]] = {}
    for record in records:
        assert record["correct"] and record["prediction"] == record["gold"]
        by_example.setdefault(record["example_id"], set()).add(record["rationale"])
    assert all(len(texts) >= 7 for texts in by_example.values())

    # Same keys, same seed: a rerun into a fresh file writes identical text.
    again = tmp_path / "again.jsonl"
    cfg.out = str(again)
    run(cfg)
    rerun = [json.loads(line) for line in again.read_text().splitlines()]
    assert [(r["example_id"], r["sample_index"], r["rationale"]) for r in rerun] == \
        [(r["example_id"], r["sample_index"], r["rationale"]) for r in records]
